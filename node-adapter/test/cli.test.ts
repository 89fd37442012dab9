import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FolderStore } from '../src/folder-store.js';
import { cli, scratch } from './cli-harness.js';

type Scratch = Awaited<ReturnType<typeof scratch>>;
let s: Scratch;
beforeEach(async () => {
  s = await scratch();
});
afterEach(() => s.cleanup());

/** Two clients: separate state dirs and local folders, one folder bucket. */
function clients() {
  const bucket = s.path('bucket');
  const make = (name: string) => ({
    dir: s.path(name),
    state: s.path(`state-${name}`),
    sync: (...extra: string[]) =>
      cli([
        '--state-dir',
        s.path(`state-${name}`),
        '--json',
        'sync',
        s.path(name),
        bucket,
        ...extra,
      ]),
  });
  return { bucket, a: make('alice'), b: make('bob'), c: make('carol') };
}

const rowsOf = (json: Record<string, unknown>) =>
  ((json.plan ?? []) as Array<{ path: string; row: string }>).map((o) => [o.path, o.row]);

const REPORT_KEYS = [
  'adopted',
  'blocked',
  'bytes',
  'conflicts',
  'deletedLocal',
  'deletedRemote',
  'downloaded',
  'dryRun',
  'durationMs',
  'errors',
  'guards',
  'pair',
  'run',
  'status',
  'uploaded',
];

describe('syncjournal sync', () => {
  it('creates the pair on the first run, prints one stable JSON report, and remembers it', async () => {
    const { a, bucket } = clients();
    await s.write(`${a.dir}/notes/hello.md`, 'hello');
    const first = await a.sync();
    expect(first.code).toBe(0);
    expect(Object.keys(first.json).sort()).toEqual(REPORT_KEYS);
    expect(first.json).toMatchObject({
      status: 'in-sync',
      uploaded: 1,
      blocked: null,
      bytes: { up: 5, down: 0 },
    });
    expect(await s.tree(bucket)).toEqual({ 'notes/hello.md': 'hello' });
    expect(await s.tree(a.dir)).toEqual({ 'notes/hello.md': 'hello' });

    await s.write(`${a.dir}/second.md`, '2');
    const again = await cli(['--state-dir', a.state, '--json', 'sync']);
    expect(again.code).toBe(0);
    expect(again.json).toMatchObject({ status: 'in-sync', uploaded: 1 });
  });

  it('carries edits and deletes between two clients, deletes into trash', async () => {
    const { a, b, bucket } = clients();
    await s.write(`${a.dir}/a.md`, 'v1');
    await s.write(`${a.dir}/keep.md`, 'k');
    await a.sync();
    expect((await b.sync()).json).toMatchObject({ downloaded: 2 });
    await s.write(`${b.dir}/a.md`, 'v2 from bob');
    expect((await b.sync()).json).toMatchObject({ status: 'in-sync', uploaded: 1 });
    expect((await a.sync()).json).toMatchObject({ downloaded: 1 });
    expect(await s.tree(a.dir)).toEqual({ 'a.md': 'v2 from bob', 'keep.md': 'k' });
    await rm(`${a.dir}/a.md`);
    expect((await a.sync()).json).toMatchObject({ deletedRemote: 1 });
    expect((await b.sync()).json).toMatchObject({ deletedLocal: 1 });
    expect(await s.tree(b.dir)).toEqual({ 'keep.md': 'k' });
    expect(await s.tree(bucket)).toEqual({ 'keep.md': 'k' });
    // Bob's copy went to his trash in the state dir, not into the void.
    expect(Object.values(await s.tree(`${b.state}/trash`))).toContain('v2 from bob');
  });

  it('an object rewritten with the same bytes is adopted by its record: nothing downloaded or trashed', async () => {
    const { a, bucket } = clients();
    await s.write(`${a.dir}/a.md`, 'same bytes');
    await s.write(`${a.dir}/b.md`, 'other');
    await a.sync();
    // A teammate's store writes a.md again with the same content: a new file, a new ETag.
    const store = await FolderStore.open({ root: bucket });
    const before = await store.head('a.md');
    const data = new TextEncoder().encode('same bytes');
    const sha256 = createHash('sha256').update(data).digest('hex');
    const after = await store.put('a.md', data, { sha256, ifMatch: before!.etag });
    expect(after.etag).not.toBe(before!.etag);
    const run = await a.sync('--dry-run');
    expect(rowsOf(run.json)).toEqual([['a.md', 'remote-touched']]);
    expect((await a.sync()).json).toMatchObject({ status: 'in-sync', downloaded: 0, uploaded: 0 });
    expect(await s.tree(`${a.state}/trash`)).toEqual({});
    expect((await a.sync('--dry-run')).json).toMatchObject({ plan: [] });
  });

  it('exits 3 on a conflict and keeps both versions, on both clients', async () => {
    const { a, b } = clients();
    await s.write(`${a.dir}/n.md`, 'base');
    await s.write(`${a.dir}/other.md`, 'o');
    await a.sync();
    await b.sync();
    await s.write(`${a.dir}/n.md`, 'alice');
    await s.write(`${b.dir}/n.md`, 'bob');
    await a.sync();
    const conflicted = await b.sync();
    expect(conflicted.code).toBe(3);
    expect(conflicted.json).toMatchObject({
      status: 'conflicts',
      conflicts: [{ path: 'n.md', kind: 'both-changed' }],
    });
    const kept = (conflicted.json.conflicts as Array<{ kept: string[] }>)[0]!.kept;
    expect(kept[1]).toMatch(/^n\.conflict-[0-9a-f]+-\d{8}T\d{6}\.md$/);
    expect(await s.tree(b.dir)).toEqual({ 'n.md': 'alice', [kept[1]!]: 'bob', 'other.md': 'o' });
    expect((await a.sync()).code).toBe(0);
    expect(await s.tree(a.dir)).toEqual(await s.tree(b.dir));
  });

  it('--conflict prefer-local puts the local version under the name and keeps the other in the remote trash', async () => {
    const { a, b, bucket } = clients();
    await s.write(`${a.dir}/n.md`, 'base');
    await s.write(`${a.dir}/other.md`, 'o');
    await a.sync();
    await b.sync();
    await s.write(`${a.dir}/n.md`, 'alice');
    await s.write(`${b.dir}/n.md`, 'bob');
    await a.sync();
    const result = await b.sync('--conflict', 'prefer-local');
    expect(result.code).toBe(3);
    expect(await s.tree(bucket)).toEqual({ 'n.md': 'bob', 'other.md': 'o' });
    const kept = (result.json.conflicts as Array<{ kept: string[] }>)[0]!.kept;
    const trash = await s.tree(`${bucket}/.syncjournal/trash`);
    expect(trash[kept[1]!.replace('.syncjournal/trash/', '')]).toBe('alice');
    // Alice's own upload kept the version it replaced too. Both clients had a run 2;
    // trash keys are per client, so neither copy overwrote the other.
    expect(Object.values(trash).sort()).toEqual(['alice', 'base']);
  });

  it('exits 4 when a guard blocks the run, and applies nothing; --max-delete or --force applies it', async () => {
    const { a, bucket } = clients();
    for (let i = 0; i < 30; i++) await s.write(`${a.dir}/f${i}.md`, `${i}`);
    await a.sync();
    for (let i = 0; i < 12; i++) await rm(`${a.dir}/f${i}.md`);
    const blocked = await a.sync('--profile', 'safe');
    expect(blocked.code).toBe(4);
    expect(blocked.json).toMatchObject({ status: 'blocked', blocked: { guard: 'delete-limit' } });
    expect(Object.keys(await s.tree(bucket))).toHaveLength(30);
    expect((await a.sync('--profile', 'safe', '--max-delete', '11')).code).toBe(4);
    // 12 of 30 is over the safe share (10%), but a --max-delete the user gave is the limit.
    const allowed = await a.sync('--profile', 'safe', '--max-delete', '12');
    expect(allowed.code).toBe(0);
    expect(Object.keys(await s.tree(bucket))).toHaveLength(18);
    for (let i = 12; i < 18; i++) await rm(`${a.dir}/f${i}.md`);
    expect((await a.sync('--profile', 'safe')).code).toBe(4);
    const forced = await a.sync('--profile', 'safe', '--force');
    expect(forced.code).toBe(0);
    expect(Object.keys(await s.tree(bucket))).toHaveLength(12);
  });

  it('exits 5 while another live process holds the pair', async () => {
    const { a } = clients();
    await s.write(`${a.dir}/x.md`, 'x');
    await a.sync();
    const config = JSON.parse(await readFile(`${a.state}/config.json`, 'utf8')) as {
      pairs: Array<{ id: string }>;
    };
    const lock = `${a.state}/locks/${config.pairs[0]!.id}.lock`;
    await writeFile(
      lock,
      JSON.stringify({ pid: process.pid, host: hostname(), since: 'now', purpose: 'test' }),
    );
    const locked = await a.sync();
    expect(locked.code).toBe(5);
    expect(locked.json).toMatchObject({ error: { code: 'locked' } });
    // A lock whose holder is dead is taken over.
    await writeFile(
      lock,
      JSON.stringify({ pid: 2 ** 22 + 17, host: hostname(), since: 'then', purpose: 'test' }),
    );
    expect((await a.sync()).code).toBe(0);
  });

  it('exits 5 while another process holds the journal, even with the bucket gone too; nothing is touched', async () => {
    const { a, bucket } = clients();
    await s.write(`${a.dir}/x.md`, 'x');
    expect((await a.sync()).code).toBe(0);
    await s.write(`${a.dir}/x.md`, 'edited');
    await s.write(`${a.dir}/new.md`, 'new');
    // The journal opens while the folder is walked and the bucket listed: its lock is
    // still what the run reports, and nothing is planned or written.
    const lock = `${a.state}/journal.lock`;
    const holder = { pid: process.pid, host: hostname(), since: 'now', purpose: 'test' };
    await writeFile(lock, JSON.stringify(holder));
    const locked = await a.sync();
    expect(locked.code).toBe(5);
    expect(locked.json).toMatchObject({ error: { code: 'locked' } });
    expect(locked.json).toMatchObject({
      error: { message: expect.stringMatching(/journal .* is open in another process/) },
    });
    expect(await s.tree(bucket)).toEqual({ 'x.md': 'x' });
    await rm(bucket, { recursive: true });
    const bothWrong = await a.sync();
    expect(bothWrong.code).toBe(5);
    expect(bothWrong.json).toMatchObject({ error: { code: 'locked' } });
    await rm(lock);
    // Without the lock, the missing bucket folder is what stops it.
    const missing = await a.sync();
    expect(missing.code).toBe(1);
    expect(missing.json).toMatchObject({ error: { code: 'bucket-missing' } });
    expect(await s.tree(a.dir)).toEqual({ 'x.md': 'edited', 'new.md': 'new' });
  });

  it('a second sync of the same pair started while one runs exits 5 and changes nothing', async () => {
    const { a, bucket } = clients();
    for (let i = 0; i < 1500; i++) await s.write(`${a.dir}/d${i % 20}/f${i}.md`, `note ${i}`);
    const first = a.sync();
    // Wait until the first run holds the pair's lock, then start a second one.
    // The state dir's config is written first with no pairs, then with this one.
    const config = `${a.state}/config.json`;
    let pairs: Array<{ id: string }> = [];
    for (let i = 0; i < 400 && pairs.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 25));
      if (!(await s.exists(config))) continue;
      pairs = (JSON.parse(await readFile(config, 'utf8')) as { pairs: Array<{ id: string }> })
        .pairs;
    }
    const lock = `${a.state}/locks/${pairs[0]!.id}.lock`;
    for (let i = 0; i < 400 && !(await s.exists(lock)); i++)
      await new Promise((r) => setTimeout(r, 25));
    const second = await cli(['--state-dir', a.state, '--json', 'sync']);
    expect(second.code).toBe(5);
    expect(second.json).toMatchObject({ error: { code: 'locked' } });
    const done = await first;
    expect(done.code).toBe(0);
    expect(Object.keys(await s.tree(bucket))).toHaveLength(1500);
  });

  it('three clients on one folder bucket, with an ignore file and an include filter', async () => {
    const { a, b, c, bucket } = clients();
    await s.write(`${a.dir}/notes/a.md`, 'a');
    await s.write(`${a.dir}/notes/tmp.swp`, 'editor junk');
    await s.write(`${a.dir}/photos/big.jpg`, 'jpeg');
    await s.write(s.path('alice.ignore'), '# editor files\n*.swp\n');
    expect((await a.sync('--ignore-file', s.path('alice.ignore'))).json).toMatchObject({
      uploaded: 2,
    });
    expect(await s.tree(bucket)).toEqual({ 'notes/a.md': 'a', 'photos/big.jpg': 'jpeg' });
    // Bob only wants the notes.
    expect((await b.sync('--include', 'notes/')).json).toMatchObject({ downloaded: 1 });
    expect(await s.tree(b.dir)).toEqual({ 'notes/a.md': 'a' });
    await s.write(`${b.dir}/notes/b.md`, 'b');
    await b.sync();
    expect((await c.sync()).json).toMatchObject({ downloaded: 3 });
    expect(await s.tree(c.dir)).toEqual({
      'notes/a.md': 'a',
      'notes/b.md': 'b',
      'photos/big.jpg': 'jpeg',
    });
    await a.sync();
    expect(await s.tree(a.dir)).toEqual({
      ...(await s.tree(c.dir)),
      'notes/tmp.swp': 'editor junk',
    });
  });

  it('exits 2 on usage errors, with one clear sentence', async () => {
    const { a } = clients();
    const oneArg = await cli(['--state-dir', a.state, 'sync', a.dir]);
    expect(oneArg.code).toBe(2);
    expect(oneArg.stderr).toMatch(/Give both a local folder and a remote/);
    expect(oneArg.stderr).not.toMatch(/at .*\.js:\d+/);
    const noPairs = await cli(['--state-dir', a.state, 'sync']);
    expect(noPairs.code).toBe(2);
    expect(noPairs.stderr).toMatch(/No pairs yet/);
    const badProfile = await cli([
      '--state-dir',
      a.state,
      'sync',
      a.dir,
      s.path('bucket'),
      '--profile',
      'reckless',
    ]);
    expect(badProfile.code).toBe(2);
    // Numbers: each flag says which it is and what it needs, before anything is opened.
    for (const [args, said] of [
      [['history', '--limit', '-3'], '--limit must be a whole number of at least 1, not "-3".'],
      [['report', 'abc'], 'A run must be a whole number of at least 1, not "abc".'],
      [['audit', '1.5'], 'A run must be a whole number of at least 1, not "1.5".'],
      [['restore', `${a.dir}/x.md`, '--run', 'last'], '--run must be a whole number of at least 1'],
      [['journal', 'backup', '--keep', '0'], '--keep must be a whole number of at least 1'],
      [
        ['sync', a.dir, s.path('bucket'), '--max-delete', ''],
        '--max-delete must be a whole number of at least 0, not "".',
      ],
    ] as const) {
      const run = await cli(['--state-dir', a.state, ...args]);
      expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(2);
      expect(run.stderr).toContain(said);
    }
  });

  it('refuses a local folder inside the state dir (a sync into itself)', async () => {
    const state = s.path('state');
    const nested = await cli([
      '--state-dir',
      state,
      'sync',
      s.path('state/inner'),
      s.path('bucket'),
    ]);
    expect(nested.code).toBe(2);
    expect(nested.stderr).toMatch(/is inside .*loop forever/);
    const bucketInLocal = await cli([
      '--state-dir',
      state,
      'sync',
      s.path('l'),
      s.path('l/bucket'),
    ]);
    expect(bucketInLocal.code).toBe(2);
    expect(bucketInLocal.stderr).toMatch(/the folder bucket .* is inside the local folder/);
    // Refused before anything was written: no state dir, no pair remembered to loop later.
    expect(await s.exists(state)).toBe(false);
    expect(await s.exists(s.path('l/bucket'))).toBe(false);
  });

  it('a new pair may create its local folder; a file is refused before the pair is remembered; a remembered folder that vanished is never recreated', async () => {
    const { a, b, bucket } = clients();
    await s.write(`${a.dir}/note.md`, 'from alice');
    expect((await a.sync()).code).toBe(0);
    const state = s.path('state-new');
    const pairsOf = async () =>
      JSON.parse(await readFile(`${state}/config.json`, 'utf8')).pairs as Array<{
        local: string;
      }>;

    // A file where a folder should be: a clear sentence, nothing remembered or changed.
    await s.write(s.path('notes.md'), 'a file, not a folder');
    const fileLocal = await cli(['--state-dir', state, 'sync', s.path('notes.md'), bucket]);
    expect(fileLocal.code, fileLocal.stderr).toBe(2);
    expect(fileLocal.stderr).toMatch(
      /The local folder .*notes\.md cannot be synced: it is a file, not a folder\. Nothing was changed and no pair was remembered\./,
    );
    expect(await readFile(s.path('notes.md'), 'utf8')).toBe('a file, not a folder');
    const fileBucket = await cli(['--state-dir', state, 'sync', b.dir, s.path('notes.md')]);
    expect(fileBucket.code, fileBucket.stderr).toBe(2);
    expect(fileBucket.stderr).toMatch(
      /The folder bucket .*notes\.md cannot be synced: it is a file/,
    );
    expect(await s.exists(b.dir)).toBe(false);
    expect(await pairsOf()).toEqual([]);

    // A folder that does not exist yet, for a new pair: created, and the bucket comes down.
    const first = await cli(['--state-dir', state, 'sync', s.path('new/notes'), bucket]);
    expect(first.code, first.stderr).toBe(0);
    expect(await s.tree(s.path('new/notes'))).toEqual({ 'note.md': 'from alice' });
    expect((await pairsOf()).map((p) => p.local)).toEqual([s.path('new/notes')]);

    // Once remembered, a vanished folder reads as an unmounted drive, not as "create it".
    await rm(s.path('new'), { recursive: true });
    const gone = await cli(['--state-dir', state, 'sync', s.path('new/notes'), bucket]);
    expect(gone.code, gone.stderr).toBe(1);
    expect(gone.stderr).toMatch(
      /does not exist or is not a folder\. Nothing was read or written\. .* If it moved for good, stop syncing this pair with syncjournal forget pair-\w+ \(nothing is deleted\)\./,
    );
    expect(await s.exists(s.path('new'))).toBe(false);
    expect(await s.tree(bucket)).toEqual({ 'note.md': 'from alice' });
  });

  it('refuses a remembered pair that nests, in sync and in watch, with what to do', async () => {
    const state = s.path('state');
    await s.write(`${s.path('l')}/a.md`, 'a');
    // As an older version remembered it, before nesting was refused up front.
    await s.write(
      `${state}/config.json`,
      JSON.stringify({
        version: 1,
        clientId: 'c1',
        pairs: [
          {
            id: 'pair-nested',
            local: s.path('l'),
            remote: pathToFileURL(s.path('l/bucket')).href,
            createdAt: new Date().toISOString(),
          },
        ],
      }),
    );
    for (const args of [['sync'], ['watch', '--interval', '1']]) {
      const run = await cli(['--state-dir', state, ...args], { killAfterMs: 60_000 });
      expect(run.code, args[0]).toBe(2);
      expect(run.stderr).toMatch(
        /loop forever\. Nothing was changed\. Pair pair-nested .*syncjournal forget pair-nested; nothing is deleted/,
      );
    }
    expect(await s.tree(s.path('l'))).toEqual({ 'a.md': 'a' });
    // Doing what it says: the pair is gone, the folder untouched.
    const forget = await cli(['--state-dir', state, 'forget', 'pair-nested']);
    expect(forget.code, forget.stderr).toBe(0);
    expect((await cli(['--state-dir', state, 'sync'])).stderr).toMatch(/No pairs yet/);
    expect(await s.tree(s.path('l'))).toEqual({ 'a.md': 'a' });
  });

  it('forget stops syncing a pair and deletes nothing; a running sync keeps it; syncing again starts a new pair', async () => {
    const { a, bucket } = clients();
    await s.write(`${a.dir}/keep.md`, 'kept');
    await s.write(`${a.dir}/gone.md`, 'deleted later');
    expect((await a.sync()).code).toBe(0);
    // Deleted in the bucket: the sync moves the local copy into the pair's trash.
    await rm(`${bucket}/gone.md`);
    expect((await a.sync()).json).toMatchObject({ deletedLocal: 1 });
    const pairId = (
      JSON.parse(await readFile(`${a.state}/config.json`, 'utf8')).pairs as Array<{ id: string }>
    )[0]!.id;
    const trash = `${a.state}/trash/${pairId}`;
    expect(await s.exists(trash)).toBe(true);

    const unknown = await cli(['--state-dir', a.state, 'forget', 'pair-nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/There is no pair pair-nope; syncjournal status lists/);

    // While a live process holds the pair (a sync running), forget refuses, changing nothing.
    const lock = `${a.state}/locks/${pairId}.lock`;
    await writeFile(
      lock,
      JSON.stringify({ pid: process.pid, host: hostname(), since: 'now', purpose: 'test' }),
    );
    const busy = await cli(['--state-dir', a.state, 'forget', pairId]);
    expect(busy.code, busy.stderr).toBe(5);
    expect(JSON.parse(await readFile(`${a.state}/config.json`, 'utf8')).pairs).toHaveLength(1);
    await rm(lock);

    const forgot = await cli(['--state-dir', a.state, '--json', 'forget', pairId]);
    expect(forgot.code, forgot.stderr).toBe(0);
    expect(forgot.json).toEqual({
      forgot: { id: pairId, local: a.dir, remote: pathToFileURL(bucket).href },
      trash,
    });
    expect(await s.exists(trash)).toBe(true);
    expect(await s.tree(a.dir)).toEqual({ 'keep.md': 'kept' });
    expect(await s.tree(bucket)).toEqual({ 'keep.md': 'kept' });
    const history = await cli(['--state-dir', a.state, '--json', 'history']);
    expect(history.stdout).toContain(pairId);
    // The same places again: a new pair, without a baseline, that adopts what is there.
    const again = await a.sync();
    expect(again.json).toMatchObject({ status: 'in-sync', adopted: 1, deletedLocal: 0 });
    expect(again.json.pair).not.toMatchObject({ id: pairId });
  });

  it('refuses a client id that cannot name conflict copies, before it makes the state dir', async () => {
    const state = s.path('state');
    for (const id of ['team/alice', '..', 'alice laptop']) {
      const run = await cli([
        '--state-dir',
        state,
        'sync',
        s.path('l'),
        s.path('bucket'),
        '--client-id',
        id,
      ]);
      expect(run.code, id).toBe(2);
      expect(run.stderr).toContain(`The client id "${id}" cannot be used`);
    }
    expect(await s.exists(state)).toBe(false);
    const env = await cli(['--state-dir', state, 'status'], {
      env: { SYNCJOURNAL_CLIENT_ID: 'a/b' },
    });
    expect(env.code).toBe(2);
    expect(await s.exists(state)).toBe(false);
  });

  it('refuses an empty --state-dir, and reads an empty SYNCJOURNAL_HOME as unset', async () => {
    const empty = await cli(['--state-dir', '', 'status']);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/--state-dir was given an empty path/);
    const home = s.path('home');
    const unset = await cli(['status'], { env: { SYNCJOURNAL_HOME: '', HOME: home } });
    expect(unset.code).toBe(0);
    expect(await s.exists(`${home}/.syncjournal/config.json`)).toBe(true);
  });

  it('with a lost state dir deletes nothing: adopts what is identical', async () => {
    const { a, bucket } = clients();
    await s.write(`${a.dir}/a.md`, 'a');
    await s.write(`${a.dir}/b.md`, 'b');
    await a.sync();
    await rm(`${a.dir}/b.md`);
    await rm(a.state, { recursive: true, force: true });
    const fresh = await a.sync();
    expect(fresh.code).toBe(0);
    expect(fresh.json).toMatchObject({
      deletedLocal: 0,
      deletedRemote: 0,
      adopted: 1,
      downloaded: 1,
    });
    expect(await s.tree(bucket)).toEqual({ 'a.md': 'a', 'b.md': 'b' });
  });

  it('finishes a run killed with SIGKILL on the next run', async () => {
    const { a, bucket } = clients();
    for (let i = 0; i < 300; i++)
      await s.write(`${a.dir}/d${i % 10}/f${i}.md`, `content ${i}`.repeat(50));
    const killed = await a.sync();
    // The first run may or may not have finished; kill a second, larger one mid-way.
    for (let i = 300; i < 900; i++)
      await s.write(`${a.dir}/d${i % 10}/f${i}.md`, `content ${i}`.repeat(50));
    const interrupted = await cli(['--state-dir', a.state, '--json', 'sync'], {
      killAfterMs: 2500,
    });
    expect(killed.code).toBe(0);
    expect(interrupted.signal === 'SIGKILL' || interrupted.code === 0).toBe(true);
    const after = await a.sync();
    expect(after.code).toBe(0);
    expect(await s.tree(bucket)).toEqual(await s.tree(a.dir));
    const last = await a.sync();
    expect(last.json).toMatchObject({ uploaded: 0, downloaded: 0, adopted: 0 });
  });

  it('with every pair synced, one whose folder is gone fails alone: the others still sync', async () => {
    const state = s.path('state');
    const run = (...args: string[]) => cli(['--state-dir', state, ...args]);
    await s.write(s.path('usb/a.md'), 'on the drive');
    await s.write(s.path('laptop/b.md'), 'on the laptop');
    expect((await run('sync', s.path('usb'), s.path('bucket-usb'))).code).toBe(0);
    expect((await run('sync', s.path('laptop'), s.path('bucket-laptop'))).code).toBe(0);
    // The drive is unplugged; the laptop's notes change.
    await rename(s.path('usb'), s.path('usb-unplugged'));
    await s.write(s.path('laptop/c.md'), 'new on the laptop');
    const text = await run('sync');
    expect(text.code, text.stderr).toBe(1);
    expect(text.stderr).toContain(
      `syncjournal: ${s.path('usb')} ⇄ ${pathToFileURL(s.path('bucket-usb')).href}: The local folder ${s.path('usb')} does not exist or is not a folder.`,
    );
    expect(text.stdout).toMatch(/uploaded 1 ·/);
    expect(await s.tree(s.path('bucket-laptop'))).toEqual({
      'b.md': 'on the laptop',
      'c.md': 'new on the laptop',
    });
    expect(await s.exists(s.path('usb'))).toBe(false);
    const json = await run('--json', 'sync');
    expect(json.code).toBe(1);
    expect(json.json).toMatchObject({
      status: 'failed',
      pairs: [
        {
          status: 'failed',
          pair: { local: s.path('usb') },
          error: { name: 'TreeRootMissingError', code: 'tree-root-missing' },
        },
        { status: 'in-sync', pair: { local: s.path('laptop') }, uploaded: 0 },
      ],
    });
    // check compares the pairs it can open, and cannot call the whole set in sync.
    const check = await run('--json', 'check');
    expect(check.code).toBe(1);
    expect(check.json).toMatchObject({
      inSync: false,
      pairs: [{ error: { code: 'tree-root-missing' } }, { differences: 0 }],
    });
  });

  it('a file replaced by a symbolic link, and a FIFO, are left out and reported: nothing deleted, nothing read', async () => {
    const { a, b, bucket } = clients();
    await s.write(`${a.dir}/note.md`, 'the note');
    await s.write(`${a.dir}/other.md`, 'other');
    expect((await a.sync()).code).toBe(0);
    expect((await b.sync()).code).toBe(0);
    await rm(`${a.dir}/note.md`);
    await symlink(`${a.dir}/other.md`, `${a.dir}/note.md`);
    // A FIFO: opening it to read would wait forever for a writer.
    expect(spawnSync('mkfifo', [`${a.dir}/pipe`]).status).toBe(0);
    const text = await cli(['--state-dir', a.state, 'sync']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(
      'note left out 2 local entries that cannot be synced, never followed, replaced or deleted: note.md (symbolic link), pipe (special file)',
    );
    expect(await s.tree(bucket)).toEqual({ 'note.md': 'the note', 'other.md': 'other' });

    await s.write(`${b.dir}/note.md`, 'edited by bob');
    expect((await b.sync()).code).toBe(0);
    const json = await a.sync();
    expect(json.code, json.stderr).toBe(0);
    expect(json.json).toMatchObject({
      status: 'in-sync',
      deletedRemote: 0,
      downloaded: 0,
      leftOut: {
        count: 2,
        entries: [
          { path: 'note.md', reason: 'symlink' },
          { path: 'pipe', reason: 'special' },
        ],
      },
    });
    expect(await readlink(`${a.dir}/note.md`)).toBe(`${a.dir}/other.md`);
    expect(await s.tree(bucket)).toEqual({ 'note.md': 'edited by bob', 'other.md': 'other' });
    const audit = await cli(['--state-dir', a.state, 'audit']);
    expect(audit.code, audit.stdout + audit.stderr).toBe(0);
  });

  it('--dry-run prints the plan with reasons and changes nothing', async () => {
    const { a, bucket } = clients();
    await s.write(`${a.dir}/a.md`, 'a');
    const human = await cli(['--state-dir', a.state, 'sync', a.dir, bucket, '--dry-run']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(
      /upload\s+a\.md\s+— new locally; nothing at this key remotely \[local-new\]/,
    );
    expect(await s.tree(bucket)).toEqual({});
  });
});

describe('inspecting the journal', () => {
  it('status, history, report and journal verify describe what happened', async () => {
    const { a } = clients();
    await s.write(`${a.dir}/a.md`, 'a');
    const first = await a.sync();
    const status = await cli(['--state-dir', a.state, '--json', 'status']);
    expect(status.code).toBe(0);
    expect(status.json).toMatchObject({
      pairs: [
        {
          files: 1,
          lastRun: { status: 'in-sync', interrupted: false },
          capabilities: { conditionalWrites: true, versioning: false },
        },
      ],
    });
    const history = await cli(['--state-dir', a.state, '--json', 'history']);
    expect(history.json.runs).toMatchObject([{ status: 'in-sync', interrupted: false }]);
    const report = await cli(['--state-dir', a.state, '--json', 'report', String(first.json.run)]);
    expect(report.json).toMatchObject({ run: first.json.run, uploaded: 1 });
    const verify = await cli(['--state-dir', a.state, '--json', 'journal', 'verify']);
    expect(verify.json).toMatchObject({ ok: true });
    const rebuild = await cli(['--state-dir', a.state, '--json', 'journal', 'rebuild']);
    expect(rebuild.json).toMatchObject({ matched: true });
    const exported = await cli(['--state-dir', a.state, 'journal', 'export']);
    const kinds = exported.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { kind: string }).kind);
    expect(kinds[0]).toBe('run.started');
    expect(kinds).toContain('op.applied');
  });

  it('journal export stops quietly when its reader does (| head)', async () => {
    const { a } = clients();
    // More events than a pipe holds, so the export is still writing when head exits.
    for (let i = 0; i < 300; i++) await s.write(`${a.dir}/n${i}.md`, `note ${i}`);
    expect((await a.sync()).code).toBe(0);
    const bin = new URL('../bin/syncjournal.js', import.meta.url).pathname;
    const piped = spawnSync(
      'bash',
      [
        '-c',
        'set -o pipefail; "$0" "$1" --state-dir "$2" journal export | head -1',
        process.execPath,
        bin,
        a.state,
      ],
      { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } },
    );
    expect(piped.stderr).not.toMatch(/EPIPE|Unhandled/);
    expect(piped.status).toBe(0);
    expect(JSON.parse(piped.stdout)).toMatchObject({ seq: 1, kind: 'run.started' });
  });
});
