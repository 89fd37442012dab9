import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli, s3Fixture, scratch } from './cli-harness.js';

type Scratch = Awaited<ReturnType<typeof scratch>>;

describe('journal backups in the bucket (CLI)', () => {
  let s: Scratch;
  beforeEach(async () => {
    s = await scratch();
  });
  afterEach(() => s.cleanup());

  /** A client of the folder bucket `bucket`, with its own state dir. */
  const client = (name: string, extraEnv: Record<string, string> = {}) => ({
    dir: s.path(name),
    state: s.path(`state-${name}`),
    run: (...args: string[]) =>
      cli(['--state-dir', s.path(`state-${name}`), '--json', ...args], { env: extraEnv }),
    sync: (...extra: string[]) =>
      cli(
        [
          '--state-dir',
          s.path(`state-${name}`),
          '--json',
          'sync',
          s.path(name),
          s.path('bucket'),
          ...extra,
        ],
        {
          env: extraEnv,
        },
      ),
  });
  const backupsIn = async (clientId: string) =>
    (await readdir(join(s.path('bucket'), '.syncjournal', 'journals', clientId)).catch(() => []))
      .filter((f) => f.startsWith('journal-') && f.endsWith('.ndjson.gz'))
      .sort();

  it('backs up, keeps the last N, and refuses to restore over a journal that has events', async () => {
    const alice = client('alice');
    await s.write(`${alice.dir}/a.md`, 'one');
    expect((await alice.sync('--client-id', 'alice')).code).toBe(0);
    const first = await alice.run('journal', 'backup');
    expect(first.code).toBe(0);
    const [backup] = first.json.backups as Array<{ key: string; events: number; pruned: string[] }>;
    expect(first.json.clientId).toBe('alice');
    expect(backup!.key).toMatch(
      /^\.syncjournal\/journals\/alice\/journal-\d{8}T\d{6}Z-\d+\.ndjson\.gz$/,
    );
    expect(backup!.events).toBeGreaterThan(5);
    expect(await backupsIn('alice')).toHaveLength(1);

    for (let i = 0; i < 3; i++) {
      await s.write(`${alice.dir}/n${i}.md`, String(i));
      // --backup-journal backs up after the sync (default keep 7).
      const synced = await alice.sync('--backup-journal');
      expect(synced.code).toBe(0);
      expect(synced.stderr).toMatch(/journal backed up to .* \(\d+ events, verified\)/);
      // Backups within one second would share a name; keep them apart.
      await new Promise((r) => setTimeout(r, 1100));
    }
    expect(await backupsIn('alice')).toHaveLength(4);
    const pruned = await alice.run('journal', 'backup', '--keep', '2');
    expect((pruned.json.backups as Array<{ pruned: string[] }>)[0]!.pruned).toHaveLength(3);
    expect(await backupsIn('alice')).toHaveLength(2);

    const refused = await alice.run('journal', 'restore');
    expect(refused.code).toBe(1);
    expect(refused.json).toMatchObject({ error: { code: 'journal-not-empty' } });
    expect(refused.stdout).toMatch(
      /already holds events; a backup is only restored into an empty one\. Nothing was changed/,
    );
    // The backups never show up as files on any side.
    expect(Object.keys(await s.tree(alice.dir)).sort()).toEqual([
      'a.md',
      'n0.md',
      'n1.md',
      'n2.md',
    ]);
  });

  it('a redeployed host with the same client id restores its journal and applies a teammate delete', async () => {
    const alice = client('alice');
    const bob = client('bob');
    await s.write(`${alice.dir}/keep.md`, 'k');
    await s.write(`${alice.dir}/gone.md`, 'g');
    expect((await alice.sync('--client-id', 'alice', '--backup-journal')).code).toBe(0);
    expect((await bob.sync()).json).toMatchObject({ downloaded: 2 });
    await rm(`${bob.dir}/gone.md`);
    expect((await bob.sync()).json).toMatchObject({ deletedRemote: 1 });

    // Alice's container is redeployed without its volume: the state dir is gone.
    await rm(alice.state, { recursive: true });
    const again = await alice.sync('--client-id', 'alice');
    expect(again.stderr).toMatch(
      /new state dir: restored client alice's journal from .* \(\d+ events, verified\); syncing with its baseline/,
    );
    expect(again.json).toMatchObject({ status: 'in-sync', deletedLocal: 1, uploaded: 0 });
    expect(Object.keys(await s.tree(alice.dir))).toEqual(['keep.md']);
    // Her history is back: the runs before the redeploy, then this one.
    const history = await alice.run('history');
    expect((history.json.runs as unknown[]).length).toBeGreaterThanOrEqual(2);
    expect((await alice.run('journal', 'verify')).json).toMatchObject({ ok: true });

    // Without the client id a fresh state dir starts blind (nothing deleted, the file comes back).
    const carol = client('carol');
    await s.write(`${carol.dir}/gone.md`, 'g');
    expect((await carol.sync()).json).toMatchObject({ uploaded: 1, deletedLocal: 0 });
  });

  it('a sync started while a restore runs waits for it, and its run is never wiped', async () => {
    const alice = client('alice');
    await s.write(`${alice.dir}/a.md`, 'one');
    const first = await alice.sync('--client-id', 'alice', '--backup-journal');
    expect(first.code, first.stderr).toBe(0);
    const pairId = (first.json.pair as { id: string }).id;
    // A new host: an empty journal, then a restore, and a scheduled sync meanwhile.
    await rm(alice.state, { recursive: true });
    const opened = await client('alice', { SYNCJOURNAL_CLIENT_ID: 'alice' }).run('status');
    expect(opened.code, opened.stderr).toBe(0);
    const restoring = alice.run('journal', 'restore', '--from', s.path('bucket'));
    const staging = async () =>
      (await readdir(alice.state).catch(() => [])).some((f) => f.startsWith('journal.restoring-'));
    // The restore makes its staging journal once it holds the journal's lock.
    for (let i = 0; i < 6000 && !(await staging()); i++) await new Promise((r) => setTimeout(r, 5));
    await s.write(`${alice.dir}/b.md`, 'two');
    let synced = await alice.sync();
    const attempts = [synced.code];
    // Exit 5 while the restore holds the journal; then the sync runs on the restored one.
    while (synced.code === 5 && attempts.length < 60) {
      await new Promise((r) => setTimeout(r, 100));
      synced = await alice.sync();
      attempts.push(synced.code);
    }
    const restored = await restoring;
    expect(restored.code, restored.stderr).toBe(0);
    expect(synced.code, `exits ${attempts.join(', ')}: ${synced.stderr}`).toBe(0);
    const runs = ((await alice.run('history')).json.runs as Array<{ run: number }>).map(
      (r) => r.run,
    );
    expect(runs).toContain(synced.json.run);
    // The sync ran as the restored pair, on its baseline (a.md was not adopted again), and
    // the pair it remembered while the restore ran did not stay beside it.
    expect(synced.json).toMatchObject({ pair: { id: pairId }, uploaded: 1, adopted: 0 });
    const config = JSON.parse(await readFile(join(alice.state, 'config.json'), 'utf8'));
    expect(config.pairs.map((p: { id: string }) => p.id)).toEqual([pairId]);
    expect(Object.keys(await s.tree(s.path('bucket'))).filter((k) => !k.startsWith('.'))).toEqual(
      expect.arrayContaining(['a.md', 'b.md']),
    );
  });
});

describe('journal backups on an S3 server (CLI)', () => {
  const f = s3Fixture();

  it('restores on a new host from S3, and refuses a tampered backup without touching anything', async () => {
    const { s, server, bucket, run } = f;
    const remote = `s3://${bucket}/team`;
    await s.write(s.path('host1', 'plan.md'), 'v1');
    expect(
      (await run('state1', 'sync', s.path('host1'), remote, '--client-id', 'ci-runner')).code,
    ).toBe(0);
    const backed = await run('state1', 'journal', 'backup');
    const { key } = (backed.json.backups as Array<{ key: string }>)[0]!;

    // A new host whose folder is empty: the backup's baseline would say "all deleted
    // here", so it is not used; the sync starts without it and deletes nothing.
    const sync = (state: string, folder: string) =>
      run(state, 'sync', s.path(folder), remote, '--client-id', 'ci-runner');
    const empty = await sync('state-empty', 'host-empty');
    expect(empty.stderr).toMatch(/is empty or missing, so its baseline would not describe/);
    expect(empty.json).toMatchObject({ status: 'in-sync', downloaded: 1, deletedRemote: 0 });

    // A new host with the files at another path: the pair is found by its remote, keeps
    // its id (and so its baseline), and points at the new folder.
    await s.write(s.path('host2', 'plan.md'), 'v1');
    const restored = await sync('state2', 'host2');
    expect(restored.stderr).toMatch(/restored client ci-runner's journal/);
    expect(restored.json).toMatchObject({ status: 'in-sync', uploaded: 0, downloaded: 0 });
    const [pair2] = (await run('state2', 'status')).json.pairs as Array<{
      id: string;
      local: string;
    }>;
    const [pair1] = (await run('state1', 'status')).json.pairs as Array<{ id: string }>;
    expect(pair2).toMatchObject({ id: pair1!.id, local: s.path('host2') });

    // Someone edits the backup in the bucket: the chain no longer verifies.
    const stored = server.bucket(bucket).current(`team/${key}`)!;
    const text = (await import('node:zlib')).gunzipSync(stored.data!).toString('utf8');
    const tampered = gzipSync(Buffer.from(text.replace('"plan.md"', '"evil.md"')));
    server.bucket(bucket).write(`team/${key}`, { ...stored, data: tampered });
    const refused = await run(
      'state3',
      'journal',
      'restore',
      '--from',
      remote,
      '--client-id',
      'ci-runner',
    );
    expect(refused.json).toMatchObject({ error: { code: 'journal-backup-invalid' } });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(
      /cannot be used: its hash chain breaks at event \d+ \(hash-mismatch/,
    );
    expect((await run('state3', 'history')).json).toMatchObject({ runs: [] });
  });
});
