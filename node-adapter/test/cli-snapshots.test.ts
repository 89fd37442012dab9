import { rm } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { cli, s3Fixture } from './cli-harness.js';

describe.each([
  { snapshots: true, name: 'a snapshot-enabled (Tigris-like) bucket' },
  { snapshots: false, name: 'a bucket without snapshots or versions' },
])('the CLI on $name', ({ snapshots }) => {
  const f = s3Fixture({ snapshots });

  it('syncs a teammate delete just as safely; with snapshots each run records the bucket it left', async () => {
    const { s, server, bucket, env } = f;
    const client = (name: string) => ({
      dir: s.path(name),
      run: (...args: string[]) =>
        cli(['--state-dir', s.path(`state-${name}`), '--json', ...args], { env }),
      sync: () =>
        cli(
          [
            '--state-dir',
            s.path(`state-${name}`),
            '--json',
            'sync',
            s.path(name),
            `s3://${bucket}/team`,
          ],
          {
            env,
          },
        ),
    });
    const [alice, bob] = [client('alice'), client('bob')];
    await s.write(`${alice.dir}/keep.md`, 'k');
    await s.write(`${alice.dir}/gone.md`, 'g');
    const first = (await alice.sync()).json;
    expect(first).toMatchObject({ status: 'in-sync', uploaded: 2 });
    expect((await alice.run('status')).json).toMatchObject({
      pairs: [expect.objectContaining({ capabilities: expect.objectContaining({ snapshots }) })],
    });
    await bob.sync();
    await rm(`${bob.dir}/gone.md`);
    expect((await bob.sync()).json).toMatchObject({ deletedRemote: 1 });
    const second = (await alice.sync()).json;
    expect(second).toMatchObject({ status: 'in-sync', deletedLocal: 1 });
    expect(Object.keys(await s.tree(alice.dir))).toEqual(['keep.md']);

    if (snapshots) {
      // Alice's first run left both files; its snapshot still holds them.
      expect(first.snapshot).toMatch(/^\d{19,}$/);
      const then = server.bucket(bucket).asOf(first.snapshot as string)!;
      expect(then.keys().filter((k) => !k.includes('.syncjournal/'))).toEqual([
        'team/gone.md',
        'team/keep.md',
      ]);
      expect(then.current('team/gone.md')?.data?.toString()).toBe('g');
      expect(second.snapshot).not.toBe(first.snapshot);
    } else {
      expect(first.snapshot).toBeUndefined();
      // Without versions, the remote delete kept a copy in the bucket's trash.
      expect(
        server
          .bucket(bucket)
          .keys()
          .some((k) => /^team\/\.syncjournal\/trash\/.*gone\.md$/.test(k)),
      ).toBe(true);
    }
    // Either way the deleted file comes back from where it was kept.
    const restored = await alice.run('restore', `${alice.dir}/gone.md`);
    expect(restored.code).toBe(0);
    expect((await s.tree(alice.dir))['gone.md']).toBe('g');

    // With snapshots, `log` lists the runs whose snapshot holds the bucket, and any
    // file can be read as one of those runs left it.
    const log = (await alice.run('log', `${alice.dir}/keep.md`)).json;
    expect(log.snapshots).toEqual(
      snapshots
        ? [
            { run: first.run, snapshot: first.snapshot },
            { run: second.run, snapshot: second.snapshot },
          ]
        : [],
    );
    const asOf = await alice.run(
      'restore',
      `${alice.dir}/keep.md`,
      '--as-of-run',
      String(first.run),
    );
    if (snapshots) {
      expect(asOf.json).toMatchObject({
        restored: 'keep.md',
        to: `keep.restored-run${first.run}.md`,
      });
      expect((await s.tree(alice.dir))[`keep.restored-run${first.run}.md`]).toBe('k');
    } else {
      expect(asOf.code).toBe(2);
      expect(asOf.stdout).toMatch(/recorded no bucket snapshot/);
    }
  });
});

describe('a new host on a snapshot-enabled bucket, without a journal backup', () => {
  const f = s3Fixture({ snapshots: true });

  it('rebuilds its base from the last snapshot its client noted, and applies a teammate delete', async () => {
    const { s, server, bucket, env } = f;
    const remote = `s3://${bucket}/team`;
    const sync = (state: string, folder: string, ...extra: string[]) =>
      cli(['--state-dir', s.path(state), '--json', 'sync', s.path(folder), remote, ...extra], {
        env,
      });
    await s.write(s.path('alice', 'keep.md'), 'k');
    await s.write(s.path('alice', 'gone.md'), 'g');
    expect((await sync('state-alice', 'alice', '--client-id', 'web-1')).code).toBe(0);
    expect(server.bucket(bucket).keys()).toContain('team/.syncjournal/snapshots/web-1.json');
    await sync('state-bob', 'bob');
    await rm(s.path('bob', 'gone.md'));
    expect((await sync('state-bob', 'bob')).json).toMatchObject({ deletedRemote: 1 });

    // Alice's host is redeployed: no state dir, no journal backup, the files survive.
    await rm(s.path('state-alice'), { recursive: true });
    const again = await sync('state-alice', 'alice', '--client-id', 'web-1');
    expect(again.stderr).toMatch(
      /rebuilt the base of 2 of 2 file\(s\) from bucket snapshot \d+, the last one client web-1 noted/,
    );
    expect(again.json).toMatchObject({ status: 'in-sync', deletedLocal: 1, uploaded: 0 });
    expect(Object.keys(await s.tree(s.path('alice')))).toEqual(['keep.md']);
    // The rebuilt base is journaled as a run of its own.
    const history = (
      await cli(['--state-dir', s.path('state-alice'), '--json', 'history'], { env })
    ).json.runs as Array<{ mode: string }>;
    expect(history.map((r) => r.mode)).toEqual(['sync', 'resolve']);
  });
});
