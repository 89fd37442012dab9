import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli, scratch } from './cli-harness.js';

type Scratch = Awaited<ReturnType<typeof scratch>>;

describe('remote trash retention on a bucket without versioning', () => {
  let s: Scratch;
  beforeEach(async () => {
    s = await scratch();
  });
  afterEach(() => s.cleanup());

  const files = async (dir: string): Promise<string[]> => {
    const out: string[] = [];
    const walk = async (d: string, rel: string) => {
      for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
        if (e.isDirectory()) await walk(join(d, e.name), `${rel}${e.name}/`);
        else out.push(`${rel}${e.name}`);
      }
    };
    await walk(dir, '');
    return out;
  };

  it('keeps copies by default; with a retention, prunes this client’s older ones and says so', async () => {
    const bucket = s.path('bucket');
    const client =
      (name: string) =>
      (...args: string[]) =>
        cli(['--state-dir', s.path(`state-${name}`), '--json', ...args]);
    const [alice, bob] = [client('alice'), client('bob')];
    await s.write(s.path('alice', 'a.md'), 'a');
    await s.write(s.path('alice', 'b.md'), 'b');
    await s.write(s.path('alice', 'keep.md'), 'k');
    await alice('sync', s.path('alice'), bucket);
    await bob('sync', s.path('bob'), bucket);
    await rm(s.path('bob', 'a.md'));
    expect((await bob('sync')).json).toMatchObject({ deletedRemote: 1 });
    const trash = async () =>
      (await files(join(bucket, '.syncjournal', 'trash'))).filter((f) => f.endsWith('.md'));
    expect(await trash()).toEqual([expect.stringMatching(/\/a\.md$/)]);

    // Retention 0 days: every copy Bob keeps is removed after each of his syncs.
    await rm(s.path('bob', 'b.md'));
    const pruned = await bob('sync', s.path('bob'), bucket, '--trash-retention-days', '0');
    expect(pruned.json).toMatchObject({ status: 'in-sync', deletedRemote: 1 });
    expect(pruned.stderr).toMatch(/removed 2 remote trash copies older than 0 day\(s\)/);
    expect(await trash()).toEqual([]);
    // The journal says so: restore refuses, naming the log.
    const gone = await bob('restore', s.path('bob', 'a.md'));
    expect(gone.code).toBe(2);
    expect(gone.stdout).toMatch(/No deleted or replaced version of a\.md is recorded/);
    expect((await bob('log', s.path('bob', 'a.md'))).code).toBe(0);
  });
});
