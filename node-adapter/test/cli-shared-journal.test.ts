import pg from 'pg';
import { afterAll, afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { openJournal } from '../src/index.js';
import { type S3TestServer, startS3TestServer } from '../test-support/s3-test-server.js';
import { cli, s3TestEnv, scratch } from './cli-harness.js';

type Scratch = Awaited<ReturnType<typeof scratch>>;

// A real PostgreSQL server (scripts/test-postgres.ts): a fresh database per test.
const serverUrl = inject('postgresUrl');
const admin = new pg.Pool({ connectionString: serverUrl, max: 2 });
afterAll(() => admin.end());
let databases = 0;
async function freshDatabase(): Promise<string> {
  const name = `syncjournal_shared_${process.pid}_${++databases}`;
  await admin.query(`drop database if exists ${name}`);
  await admin.query(`create database ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

describe('one shared journal on a PostgreSQL server (CLI)', () => {
  let s: Scratch;
  beforeEach(async () => {
    s = await scratch();
  });
  afterEach(() => s.cleanup());

  const client = (name: string) => ({
    dir: s.path(name),
    run: (...args: string[]) => cli(['--state-dir', s.path(`state-${name}`), '--json', ...args]),
    sync: (...pre: string[]) =>
      cli([
        '--state-dir',
        s.path(`state-${name}`),
        '--json',
        ...pre,
        'sync',
        s.path(name),
        s.path('bucket'),
      ]),
  });

  it('two clients append to one journal; history and log show every client', async () => {
    const url = await freshDatabase();
    const [alice, bob] = [client('alice'), client('bob')];
    // Both start at once on an empty database: the schema is created exactly once.
    await s.write(`${alice.dir}/notes/plan.md`, 'v1');
    const [a1, b1] = await Promise.all([alice.sync('--journal', url), bob.sync('--journal', url)]);
    expect([a1.code, b1.code]).toEqual([0, 0]);
    // The journal was remembered: no --journal from here on.
    // (Bob's first run may have come before or after Alice's upload.)
    expect((await bob.sync()).json).toMatchObject({ status: 'in-sync' });
    expect((await s.tree(bob.dir))['notes/plan.md']).toBe('v1');
    await s.write(`${bob.dir}/notes/plan.md`, 'v2 by bob');
    expect((await bob.sync()).json).toMatchObject({ uploaded: 1 });
    expect((await alice.sync()).json).toMatchObject({ downloaded: 1 });

    const mine = (await alice.run('history')).json.runs as Array<{ clientId: string }>;
    const all = (await alice.run('history', '--all-clients')).json.runs as Array<{
      clientId: string;
      run: number;
    }>;
    const aliceId = mine[0]!.clientId;
    expect(new Set(mine.map((r) => r.clientId))).toEqual(new Set([aliceId]));
    expect(new Set(all.map((r) => r.clientId)).size).toBe(2);
    expect(all.length).toBe(mine.length + 3);
    // Run numbers are journal-wide: every run has its own.
    expect(new Set(all.map((r) => r.run)).size).toBe(all.length);

    // The path's story includes Bob's upload, seen from Alice's state dir.
    const log = (await alice.run('log', `${alice.dir}/notes/plan.md`)).json.entries as Array<{
      client: string;
      kind: string;
      text: string;
    }>;
    const bobId = all.find((r) => r.clientId !== aliceId)!.clientId;
    expect(
      log.some((e) => e.client === bobId && e.kind === 'op.applied' && /^upload/.test(e.text)),
    ).toBe(true);
    expect(
      log.some((e) => e.client === aliceId && e.kind === 'op.applied' && /^download/.test(e.text)),
    ).toBe(true);
    expect((await bob.run('journal', 'verify')).json).toMatchObject({ ok: true });
    // The state dirs hold no journal of their own.
    expect(await s.exists(s.path('state-alice', 'journal'))).toBe(false);
  });

  it('four clients opening an empty database at once create the schema once and share one chain', async () => {
    const url = await freshDatabase();
    const journals = await Promise.all([1, 2, 3, 4].map(() => openJournal(url)));
    try {
      await Promise.all(
        journals.map((j, i) =>
          j.startRun({ pairId: `p${i}`, clientId: `c${i}`, mode: 'sync', local: 'l', remote: 'r' }),
        ),
      );
      expect((await journals[0]!.runs()).map((r) => r.run).sort()).toEqual([1, 2, 3, 4]);
      expect(await journals[3]!.verify()).toMatchObject({ ok: true, events: 4 });
    } finally {
      await Promise.all(journals.map((j) => j.close()));
    }
  });

  it('refuses a --journal that is not a postgres:// URL, changing nothing', async () => {
    const alice = client('alice');
    const result = await alice.sync('--journal', '/tmp/some-dir');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--journal takes a postgres:\/\/ URL/);
    expect(await s.exists(s.path('state-alice', 'config.json'))).toBe(false);
  });
});

describe('a client new to a shared journal, on a bucket with snapshots', () => {
  let s: Scratch;
  let server: S3TestServer;
  beforeEach(async () => {
    s = await scratch();
    server = await startS3TestServer({ snapshots: true });
  });
  afterEach(async () => {
    await server.stop();
    await s.cleanup();
  });

  it("rebuilds its base from the team's last snapshot in the journal", async () => {
    const url = await freshDatabase();
    server.bucket('team');
    const env = s3TestEnv(server.url);
    const sync = (name: string) =>
      cli(
        [
          '--state-dir',
          s.path(`state-${name}`),
          '--json',
          '--journal',
          url,
          'sync',
          s.path(name),
          's3://team/notes',
        ],
        {
          env,
        },
      );
    await s.write(s.path('alice', 'keep.md'), 'k');
    await s.write(s.path('alice', 'gone.md'), 'g');
    const first = await sync('alice');
    expect(first.json).toMatchObject({
      status: 'in-sync',
      snapshot: expect.stringMatching(/^\d+$/),
    });
    // The web app (not a syncjournal client) deletes a note straight in the bucket.
    server.bucket('team').deleteCurrent('notes/gone.md');
    // Dave joins with a copy of the notes as they were.
    await s.write(s.path('dave', 'keep.md'), 'k');
    await s.write(s.path('dave', 'gone.md'), 'g');
    const dave = await sync('dave');
    expect(dave.stderr).toMatch(
      /rebuilt the base of 2 of 2 file\(s\) from bucket snapshot \d+, the last one recorded in the shared journal/,
    );
    expect(dave.json).toMatchObject({ status: 'in-sync', deletedLocal: 1, uploaded: 0 });
    expect(Object.keys(await s.tree(s.path('dave')))).toEqual(['keep.md']);
  });
});
