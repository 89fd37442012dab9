import { rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openJournal } from '../src/open-journal.js';
import { cli, scratch, startCli, until } from './cli-harness.js';

type Scratch = Awaited<ReturnType<typeof scratch>>;
let s: Scratch;
beforeEach(async () => {
  s = await scratch();
});
afterEach(() => s.cleanup());

function clients() {
  const bucket = s.path('bucket');
  const make = (name: string) => {
    const state = s.path(`state-${name}`);
    return {
      dir: s.path(name),
      state,
      sync: (...extra: string[]) =>
        cli(['--state-dir', state, '--json', 'sync', s.path(name), bucket, ...extra]),
      run: (...args: string[]) => cli(['--state-dir', state, '--json', ...args]),
    };
  };
  return { bucket, a: make('alice'), b: make('bob') };
}

describe('after the fact', () => {
  it('audit replays every run to the plan it recorded; log tells one file’s story', async () => {
    const { a, b } = clients();
    await s.write(`${a.dir}/n.md`, 'v1');
    await s.write(`${a.dir}/build/x.js`, 'x');
    await s.write(`${a.dir}/o.md`, 'o');
    await a.sync('--exclude', 'build/');
    await b.sync();
    await s.write(`${a.dir}/n.md`, 'alice');
    await s.write(`${b.dir}/n.md`, 'bob');
    await a.sync();
    await b.sync();
    const audit = await b.run('audit');
    expect(audit.code).toBe(0);
    expect(audit.json).toMatchObject({ ok: true, chain: { ok: true } });
    expect((audit.json.runs as Array<{ matches: boolean }>).length).toBeGreaterThanOrEqual(2);
    const log = await b.run('log', `${b.dir}/n.md`);
    const kinds = (log.json.entries as Array<{ kind: string }>).map((e) => e.kind);
    expect(kinds).toContain('conflict.recorded');
    const human = await cli(['--state-dir', b.state, 'log', 'n.md']);
    expect(human.stdout).toMatch(/conflict \(both-changed\)/);
  });

  it('journal rebuild exits 1 when the tables did not match their events; audit of a run that is not there fails', async () => {
    const { a } = clients();
    await s.write(`${a.dir}/n.md`, 'v1');
    expect((await a.sync()).code).toBe(0);
    // A baseline row no event accounts for (a bad disk, a hand edit): it would drive deletes.
    const journal = await openJournal(`${a.state}/journal`);
    await sql`insert into baseline (pair_id, path, hash, size, etag, version_id, run)
              select pair_id, 'z.md', hash, size, etag, version_id, run from baseline limit 1`.execute(
      journal.db,
    );
    await journal.close();
    const repaired = await a.run('journal', 'rebuild');
    expect(repaired.code).toBe(1);
    expect(repaired.json).toMatchObject({
      matched: false,
      tables: { baseline: { matched: false } },
    });
    const again = await a.run('journal', 'rebuild');
    expect(again.code).toBe(0);
    expect(again.json).toMatchObject({ matched: true });
    const missing = await a.run('audit', '999');
    expect(missing.code).toBe(1);
    expect(missing.json).toMatchObject({ error: { code: 'not-found' } });
  });

  it('restores a deleted file from the local trash and an overwritten one from the remote trash', async () => {
    const { a, b, bucket } = clients();
    await s.write(`${a.dir}/gone.md`, 'precious');
    await s.write(`${a.dir}/over.md`, 'first');
    await s.write(`${a.dir}/keep.md`, 'k');
    await a.sync();
    await b.sync();
    await rm(`${a.dir}/gone.md`);
    await s.write(`${a.dir}/over.md`, 'second');
    await a.sync();
    await b.sync();
    expect(await s.exists(`${b.dir}/gone.md`)).toBe(false);
    const restored = await b.run('restore', `${b.dir}/gone.md`);
    expect(restored.code).toBe(0);
    expect((await s.tree(b.dir))['gone.md']).toBe('precious');
    // Alice's overwrite replaced "first" in the bucket; her run kept it in the remote trash.
    const over = await a.run('restore', `${a.dir}/over.md`);
    expect(over.code).toBe(0);
    expect(over.json).toMatchObject({
      restored: 'over.md',
      to: expect.stringMatching(/^over\.restored-run\d+\.md$/),
    });
    expect((await s.tree(a.dir))[over.json.to as string]).toBe('first');
    await b.sync();
    expect((await s.tree(bucket))['gone.md']).toBe('precious');
  });

  it('conflicts resolve --keep local puts the local version under the name; check then agrees', async () => {
    const { a, b } = clients();
    await s.write(`${a.dir}/n.md`, 'base');
    await s.write(`${a.dir}/o.md`, 'o');
    await a.sync();
    await b.sync();
    await s.write(`${a.dir}/n.md`, 'alice');
    await s.write(`${b.dir}/n.md`, 'bob');
    await a.sync();
    expect((await b.sync()).code).toBe(3);
    const open = await b.run('conflicts');
    expect((open.json.conflicts as unknown[]).length).toBe(1);
    const differs = await b.run('check');
    expect(differs.code).toBe(0);
    const resolved = await b.run('conflicts', 'resolve', `${b.dir}/n.md`, '--keep', 'local');
    expect(resolved.code).toBe(0);
    expect(await s.tree(b.dir)).toEqual({ 'n.md': 'bob', 'o.md': 'o' });
    expect((await b.run('check')).code).toBe(1);
    expect((await b.sync()).code).toBe(0);
    expect((await b.run('check')).code).toBe(0);
    expect(((await b.run('conflicts')).json.conflicts as unknown[]).length).toBe(0);
    await a.sync();
    expect(await s.tree(a.dir)).toEqual({ 'n.md': 'bob', 'o.md': 'o' });
  });
});

describe('watch', () => {
  /** `watch` on client a's one pair, with reports as JSON lines. */
  const watchOf = (a: { state: string }) =>
    startCli(['--state-dir', a.state, '--json', 'watch', '--interval', '60']);

  it('carries a saved file to the bucket on the file event, not the interval, and stops cleanly', async () => {
    const { a, bucket } = clients();
    await s.write(`${a.dir}/first.md`, '1');
    await a.sync();
    const watch = watchOf(a);
    expect(await until(() => watch.stdout.includes('"status"'), 60_000)).toBe(true);
    await s.write(`${a.dir}/saved.md`, 'saved in the editor');
    // The interval is 60 s: arriving well before it means the file watcher synced it.
    // (How fast is measured by the benchmarks, not asserted here: machines are shared.)
    expect(
      await until(async () => (await s.tree(bucket))['saved.md'] === 'saved in the editor', 40_000),
    ).toBe(true);
    expect(await watch.stop()).toBe(0);
  });

  it('lends its journal to status, history and log between two syncs, and syncs on after', async () => {
    const { a, bucket } = clients();
    await s.write(`${a.dir}/first.md`, '1');
    await a.sync();
    const watch = watchOf(a);
    let code: number | null = null;
    try {
      expect(await until(() => watch.stdout.includes('"status"'), 60_000)).toBe(true);
      // The watch holds the journal; each of these borrows it and gives it back.
      const status = await a.run('status');
      expect(status.code, status.stderr).toBe(0);
      expect(status.json.pairs).toHaveLength(1);
      const history = await a.run('history');
      expect(history.code, history.stderr).toBe(0);
      expect((history.json.runs as unknown[]).length).toBeGreaterThanOrEqual(2);
      const log = await a.run('log', 'first.md');
      expect(log.code, log.stderr).toBe(0);
      // The watch has its journal again, and syncs a saved file.
      await s.write(`${a.dir}/after.md`, 'saved after the loans');
      const after = async () => (await s.tree(bucket))['after.md'] === 'saved after the loans';
      expect(await until(after, 40_000)).toBe(true);
      // A request left by a process that died is removed, and lends nothing.
      const stale = join(a.state, 'journal.borrow.dead-1');
      await writeFile(
        stale,
        JSON.stringify({ pid: 2 ** 22 + 17, host: hostname(), since: 'then', purpose: 'test' }),
      );
      expect(await until(async () => !(await s.exists(stale)), 10_000)).toBe(true);
      await s.write(`${a.dir}/later.md`, 'later');
      const later = async () => (await s.tree(bucket))['later.md'] === 'later';
      expect(await until(later, 40_000)).toBe(true);
    } finally {
      code = await watch.stop();
    }
    expect(code, watch.stderr).toBe(0);
    // Every report the watch printed is a completed sync.
    const reports = watch.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { status: string });
    expect(reports.every((r) => r.status === 'in-sync')).toBe(true);
  });

  it('stops at once when interrupted while its journal is lent, not after the loan', async () => {
    const { a } = clients();
    await s.write(`${a.dir}/first.md`, '1');
    await a.sync();
    const watch = watchOf(a);
    let stopped: Promise<unknown> = Promise.resolve();
    try {
      expect(await until(() => watch.stdout.includes('"status"'), 60_000)).toBe(true);
      // A borrower that asks (this live process) and never takes the journal: the watch
      // lends it (its lock goes) and would wait up to 20 s for the request to go.
      const holder = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
      // Written in place, so the watch may see it empty for a moment (and must not drop it).
      const request = join(a.state, 'journal.borrow.test-1');
      await writeFile(request, JSON.stringify({ ...holder, purpose: 'test' }));
      const lockGone = async () => !(await s.exists(join(a.state, 'journal.lock')));
      const gone = await until(lockGone, 10_000);
      expect(gone, `not lent; the request is ${(await s.exists(request)) ? 'there' : 'gone'}`).toBe(
        true,
      );
    } finally {
      stopped = watch.stop();
    }
    const code = await Promise.race([
      stopped,
      new Promise((r) => setTimeout(() => r('still running after 10 s'), 10_000)),
    ]);
    expect(code).toBe(0);
  });
});
