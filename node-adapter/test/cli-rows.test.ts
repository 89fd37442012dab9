import { rm } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type S3TestServer, startS3TestServer } from '../test-support/s3-test-server.js';
import { cli, s3TestEnv, scratch } from './cli-harness.js';

/**
 * The decision-table rows, guards and exit codes that the other CLI tests do not
 * already reach, end to end through the built CLI on the S3 test server (which can
 * inject faults).
 */
type Scratch = Awaited<ReturnType<typeof scratch>>;
let server: S3TestServer;
let s: Scratch;
let n = 0;
beforeAll(async () => {
  server = await startS3TestServer();
});
afterAll(() => server.stop());
beforeEach(async () => {
  s = await scratch();
});
afterEach(() => {
  server.clearFaults();
  return s.cleanup();
});

function team() {
  const bucket = `rows${++n}`;
  const store = server.bucket(bucket);
  const env = s3TestEnv(server.url);
  const make = (name: string) => ({
    dir: s.path(name),
    sync: (...extra: string[]) =>
      cli(
        [
          '--state-dir',
          s.path(`state-${name}`),
          '--json',
          'sync',
          s.path(name),
          `s3://${bucket}`,
          ...extra,
        ],
        { env },
      ),
  });
  return { store, a: make('alice'), b: make('bob') };
}

type Report = { plan?: Array<{ path: string; row: string }> } & Record<string, unknown>;
const rows = (json: Record<string, unknown>) =>
  ((json as Report).plan ?? []).map((o) => [o.path, o.row]);

describe('decision-table rows through the CLI', () => {
  it('deleted vs changed, changed vs deleted, both changed the same, both deleted', async () => {
    const { a, b } = team();
    for (const f of ['dc', 'cd', 'same', 'both', 'keep'])
      await s.write(`${a.dir}/${f}.md`, `${f} v1`);
    await a.sync();
    await b.sync();
    await s.write(`${a.dir}/dc.md`, 'alice edit');
    await rm(`${a.dir}/cd.md`);
    await s.write(`${a.dir}/same.md`, 'same edit');
    await rm(`${a.dir}/both.md`);
    await a.sync();
    await rm(`${b.dir}/dc.md`);
    await s.write(`${b.dir}/cd.md`, 'bob edit');
    await s.write(`${b.dir}/same.md`, 'same edit');
    await rm(`${b.dir}/both.md`);
    const dry = await b.sync('--dry-run');
    expect(rows(dry.json).sort()).toEqual([
      ['both.md', 'both-deleted'],
      ['cd.md', 'local-changed-remote-deleted'],
      ['dc.md', 'local-deleted-remote-changed'],
      ['same.md', 'both-changed-same'],
    ]);
    const applied = await b.sync();
    expect(applied.code).toBe(3);
    expect(applied.json).toMatchObject({ adopted: 1 });
    await a.sync();
    const expected = {
      'cd.md': 'bob edit',
      'dc.md': 'alice edit',
      'keep.md': 'keep v1',
      'same.md': 'same edit',
    };
    expect(await s.tree(a.dir)).toEqual(expected);
    expect(await s.tree(b.dir)).toEqual(expected);
  });

  it('new on both sides: same content adopted, different content kept both', async () => {
    const { a, b } = team();
    await s.write(`${a.dir}/same.md`, 'x');
    await s.write(`${a.dir}/diff.md`, 'alice');
    await a.sync();
    await s.write(`${b.dir}/same.md`, 'x');
    await s.write(`${b.dir}/diff.md`, 'bob');
    const result = await b.sync();
    expect(result.code).toBe(3);
    expect(result.json).toMatchObject({
      adopted: 1,
      conflicts: [{ path: 'diff.md', kind: 'both-new-different' }],
    });
  });
});

describe('guards and exit codes through the CLI', () => {
  it('an emptied local folder is blocked (exit 4); nothing is deleted remotely', async () => {
    const { a, store } = team();
    await s.write(`${a.dir}/one.md`, '1');
    await s.write(`${a.dir}/two.md`, '2');
    await a.sync();
    await rm(`${a.dir}/one.md`);
    await rm(`${a.dir}/two.md`);
    const result = await a.sync();
    expect(result.code).toBe(4);
    expect(result.json).toMatchObject({ blocked: { guard: 'empty-side' } });
    expect(store.keys().filter((k) => !k.startsWith('.syncjournal/'))).toEqual([
      'one.md',
      'two.md',
    ]);
    // --force is about the delete limits: a script that always passes it is still stopped.
    const forced = await a.sync('--force');
    expect(forced.code).toBe(4);
    expect(forced.json).toMatchObject({ blocked: { guard: 'empty-side' } });
    const allowed = await a.sync('--allow-empty');
    expect(allowed.code).toBe(0);
    expect(allowed.json).toMatchObject({ status: 'in-sync', deletedRemote: 2 });
    expect(store.keys().filter((k) => !k.startsWith('.syncjournal/'))).toEqual([]);
  });

  it('a listing that fails never reads as empty or as deletes (exit 1), and the next sync finishes', async () => {
    const { a, b, store } = team();
    for (let i = 0; i < 5; i++) await s.write(`${a.dir}/f${i}.md`, `${i}`);
    await a.sync();
    await b.sync();
    store.deleteCurrent('f0.md');
    server.injectFault({ operation: 'ListObjectsV2', status: 503, code: 'SlowDown', times: 10 });
    const blocked = await b.sync();
    expect(blocked.code).toBe(1);
    expect(blocked.json).toMatchObject({
      status: 'failed',
      deletedLocal: 0,
      deletedRemote: 0,
      uploaded: 0,
    });
    expect(await s.exists(`${b.dir}/f0.md`)).toBe(true);
    server.clearFaults();
    const next = await b.sync();
    expect(next.json).toMatchObject({ status: 'in-sync', deletedLocal: 1 });
  });

  it('a filter change leaves newly excluded files alone on both sides', async () => {
    const { a, store } = team();
    await s.write(`${a.dir}/src/a.ts`, 'a');
    await s.write(`${a.dir}/build/out.js`, 'o');
    await a.sync();
    await rm(`${a.dir}/build/out.js`);
    const result = await a.sync('--exclude', 'build/');
    expect(result.code).toBe(0);
    expect(result.json).toMatchObject({ deletedRemote: 0 });
    expect(store.keys()).toContain('build/out.js');
  });

  it('unsafe remote keys are skipped and reported; nothing is written outside the folder', async () => {
    const { a, store } = team();
    store.putObject('../escape.md', 'x');
    store.putObject('ok.md', 'fine');
    const result = await a.sync();
    expect(result.code).toBe(0);
    expect(await s.tree(a.dir)).toEqual({ 'ok.md': 'fine' });
    expect(await s.exists(s.path('escape.md'))).toBe(false);
    const guards = (result.json.guards as Array<{ guard: string; paths?: string[] }>).find(
      (g) => g.guard === 'unsafe-keys',
    );
    expect(guards?.paths).toEqual(['../escape.md']);
  });

  it('a put the server refuses ends the run as failed (exit 1); the next run completes it', async () => {
    const { a, store } = team();
    await s.write(`${a.dir}/a.md`, 'a');
    server.injectFault({
      operation: 'PutObject',
      key: 'a.md',
      status: 403,
      code: 'AccessDenied',
      times: 1,
    });
    const failed = await a.sync();
    expect(failed.code).toBe(1);
    expect(failed.json).toMatchObject({ status: 'failed', errors: [{ path: 'a.md' }] });
    const next = await a.sync();
    expect(next.code).toBe(0);
    expect(store.keys().filter((k) => !k.startsWith('.syncjournal/'))).toEqual(['a.md']);
  });
});
