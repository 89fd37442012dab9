import { rm } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type S3TestServer, startS3TestServer } from '../test-support/s3-test-server.js';
import { cli, s3TestEnv, scratch } from './cli-harness.js';

type Scratch = Awaited<ReturnType<typeof scratch>>;

describe.each([{ versioning: false }, { versioning: true }])(
  'the CLI on an S3 server (%o)',
  ({ versioning }) => {
    let server: S3TestServer;
    let s: Scratch;
    beforeAll(async () => {
      server = await startS3TestServer({ versioning });
    });
    afterAll(() => server.stop());
    beforeEach(async () => {
      s = await scratch();
    });
    afterEach(() => s.cleanup());

    const env = () => s3TestEnv(server.url);
    const client = (name: string, bucket: string) => ({
      dir: s.path(name),
      state: s.path(`state-${name}`),
      sync: (...extra: string[]) =>
        cli(
          [
            '--state-dir',
            s.path(`state-${name}`),
            '--json',
            'sync',
            s.path(name),
            `s3://${bucket}/team`,
            ...extra,
          ],
          {
            env: env(),
          },
        ),
    });
    const keys = (bucket: string) =>
      server
        .bucket(bucket)
        .keys()
        .filter((k: string) => !k.includes('.syncjournal/'))
        .sort();

    it('a no-op after uploads journals the run, not every uploaded object again', async () => {
      const bucket = `n${versioning ? 'v' : 'u'}${Date.now()}`;
      server.bucket(bucket);
      const a = client('alice', bucket);
      for (let i = 0; i < 20; i++) await s.write(`${a.dir}/n${i}.md`, `note ${i}`);
      expect((await a.sync()).json).toMatchObject({ uploaded: 20 });
      const events = async () =>
        (await cli(['--state-dir', a.state, 'journal', 'export'], { env: env() })).stdout
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line) as { kind: string; run: number });
      const before = (await events()).length;
      const noop = await a.sync();
      expect(noop.json).toMatchObject({ status: 'in-sync', uploaded: 0, downloaded: 0 });
      // The listing now tells each object's Last-Modified, which the PUTs did not: that
      // is not a change, so only run.started, scan, listing, plan and run.completed.
      const added = (await events()).slice(before);
      expect(added.map((e) => e.kind)).toEqual([
        'run.started',
        'scan.completed',
        'listing.completed',
        'plan.completed',
        'run.completed',
      ]);
    });

    it('three clients edit, delete and conflict through one bucket; nothing is lost', async () => {
      const bucket = `b${versioning ? 'v' : 'u'}${Date.now()}`;
      server.bucket(bucket);
      const [a, b, c] = [client('alice', bucket), client('bob', bucket), client('carol', bucket)];
      await s.write(`${a.dir}/notes/plan.md`, 'v1');
      await s.write(`${a.dir}/notes/keep.md`, 'k');
      expect((await a.sync()).json).toMatchObject({ status: 'in-sync', uploaded: 2 });
      expect(keys(bucket)).toEqual(['team/notes/keep.md', 'team/notes/plan.md']);
      expect((await b.sync()).json).toMatchObject({ downloaded: 2 });
      expect((await c.sync()).json).toMatchObject({ downloaded: 2 });

      // Carol is offline while Alice edits and Bob deletes.
      await s.write(`${a.dir}/notes/plan.md`, 'alice v2');
      expect((await a.sync()).json).toMatchObject({ uploaded: 1 });
      await rm(`${b.dir}/notes/keep.md`);
      expect((await b.sync()).json).toMatchObject({ downloaded: 1, deletedRemote: 1 });
      // Carol edited the same note offline: a conflict, both versions kept.
      await s.write(`${c.dir}/notes/plan.md`, 'carol offline');
      const carol = await c.sync();
      expect(carol.code).toBe(3);
      expect(carol.json).toMatchObject({ status: 'conflicts', deletedLocal: 1 });
      const tree = await s.tree(c.dir);
      expect(tree['notes/plan.md']).toBe('alice v2');
      expect(Object.values(tree).sort()).toEqual(['alice v2', 'carol offline']);
      // Everyone converges on the same files.
      await a.sync();
      await b.sync();
      expect(await s.tree(a.dir)).toEqual(tree);
      expect(await s.tree(b.dir)).toEqual(tree);

      const status = await cli(['--state-dir', a.state, '--json', 'status'], { env: env() });
      expect(status.json).toMatchObject({
        pairs: [{ capabilities: { conditionalWrites: true, versioning } }],
      });

      // Bob's remote delete and Alice's remote overwrite both kept the old version: as a
      // bucket version (versioning on) or a trash copy in the bucket (off). Restore reads it.
      const restore = (state: string, file: string) =>
        cli(['--state-dir', state, '--json', 'restore', file], { env: env() });
      const deleted = await restore(b.state, `${b.dir}/notes/keep.md`);
      expect(deleted.json).toMatchObject({
        restored: 'notes/keep.md',
        from: versioning
          ? { side: 'remote', versionId: expect.any(String) }
          : { side: 'remote', trash: expect.stringMatching(/^\.syncjournal\/trash\//) },
      });
      expect((await s.tree(b.dir))['notes/keep.md']).toBe('k');
      const overwritten = await restore(a.state, `${a.dir}/notes/plan.md`);
      expect(overwritten.json).toMatchObject({
        to: expect.stringMatching(/^notes\/plan\.restored-run\d+\.md$/),
        from: versioning ? { versionId: expect.any(String) } : { trash: expect.any(String) },
      });
      expect((await s.tree(a.dir))[overwritten.json.to as string]).toBe('v1');
    });
  },
);
