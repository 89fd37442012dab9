import { mkdir } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli, scratch } from './cli-harness.js';

type Scratch = Awaited<ReturnType<typeof scratch>>;

describe('many projects under one bucket root (the Dropbox model)', () => {
  let s: Scratch;
  beforeEach(async () => {
    s = await scratch();
  });
  afterEach(() => s.cleanup());

  it('one sync carries every project; reports and status break down per project; filters name a project', async () => {
    const bucket = s.path('bucket');
    const run = (state: string, ...args: string[]) => cli(['--state-dir', s.path(state), ...args]);
    const laptop = s.path('laptop');
    await s.write(`${laptop}/work/plan.md`, 'plan');
    await s.write(`${laptop}/work/drafts/wip.md`, 'not yet');
    await s.write(`${laptop}/personal/drafts/poem.md`, 'poem');
    await s.write(`${laptop}/README.md`, 'all my projects');

    // Drafts of the work project stay local; the personal project's drafts sync.
    const first = await run(
      'state-laptop',
      '--json',
      'sync',
      laptop,
      bucket,
      '--projects',
      '--exclude',
      'work/drafts/',
    );
    expect(first.code).toBe(0);
    expect(first.json).toMatchObject({
      status: 'in-sync',
      uploaded: 3,
      projects: {
        '/': expect.objectContaining({ uploaded: 1 }),
        personal: expect.objectContaining({ uploaded: 1 }),
        work: expect.objectContaining({ uploaded: 1 }),
      },
    });
    expect(Object.keys(await s.tree(bucket)).sort()).toEqual([
      'README.md',
      'personal/drafts/poem.md',
      'work/plan.md',
    ]);

    // A project made elsewhere (a folder in the bucket) arrives on the next sync of all pairs.
    await s.write(`${bucket}/research/paper.md`, 'from the web app');
    await mkdir(`${bucket}/research/empty`, { recursive: true });
    const second = await run('state-laptop', 'sync'); // every remembered pair, remembered options
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/research: ↓1/);
    expect(second.stdout).toMatch(/work: nothing to do/);
    expect((await s.tree(laptop))['research/paper.md']).toBe('from the web app');

    const status = await run('state-laptop', '--json', 'status');
    expect(status.json).toMatchObject({
      pairs: [
        expect.objectContaining({
          projects: {
            '/': { files: 1, openConflicts: 0 },
            personal: { files: 1, openConflicts: 0 },
            research: { files: 1, openConflicts: 0 },
            work: { files: 1, openConflicts: 0 },
          },
        }),
      ],
    });
    const text = await run('state-laptop', 'status');
    expect(text.stdout).toMatch(/work: 1 file\(s\) in sync/);
  });
});
