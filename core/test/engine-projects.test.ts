import { describe, expect, it } from 'vitest';
import {
  createSyncEngine,
  ManualClock,
  MemoryJournal,
  MemoryStore,
  MemoryTree,
  projectOf,
} from '../src/index.js';
import { sha256 } from './node-sha256.js';

describe('projects: top-level folders of one pair (the Dropbox model)', () => {
  it('one run syncs every project and breaks its report down per project', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 22, 9, 0, 0));
    const store = new MemoryStore({ clock, hasher: sha256 });
    const tree = new MemoryTree({ clock });
    const journal = new MemoryJournal({ hasher: sha256, clock });
    const engine = (projects: boolean) =>
      createSyncEngine({
        tree,
        store,
        journal,
        hasher: sha256,
        clock,
        pair: { id: 'p', local: 'memory://l', remote: 'memory://r' },
        clientId: 'c',
        projects,
      });
    tree.writeText('work/plan.md', 'p');
    tree.writeText('work/notes/a.md', 'a');
    tree.writeText('personal/diary.md', 'd');
    tree.writeText('README.md', 'r');
    store.putText('research/paper.md', 'from the cloud');
    const { report } = await engine(true).sync();
    expect(report).toMatchObject({ status: 'in-sync', uploaded: 4, downloaded: 1 });
    expect(report.projects).toEqual({
      '/': {
        uploaded: 1,
        downloaded: 0,
        deletedLocal: 0,
        deletedRemote: 0,
        adopted: 0,
        conflicts: 0,
        errors: 0,
      },
      personal: {
        uploaded: 1,
        downloaded: 0,
        deletedLocal: 0,
        deletedRemote: 0,
        adopted: 0,
        conflicts: 0,
        errors: 0,
      },
      research: {
        uploaded: 0,
        downloaded: 1,
        deletedLocal: 0,
        deletedRemote: 0,
        adopted: 0,
        conflicts: 0,
        errors: 0,
      },
      work: {
        uploaded: 2,
        downloaded: 0,
        deletedLocal: 0,
        deletedRemote: 0,
        adopted: 0,
        conflicts: 0,
        errors: 0,
      },
    });
    expect(tree.readText('research/paper.md')).toBe('from the cloud');

    // A conflict, a failed put and a delete land in their own projects.
    clock.advance(10_000);
    tree.writeText('work/plan.md', 'mine');
    store.putText('work/plan.md', 'theirs');
    tree.remove('personal/diary.md');
    tree.writeText('research/new.md', 'n');
    store.failNextPut({ key: 'research/new.md' });
    const second = await engine(true).sync();
    expect(second.report.projects).toMatchObject({
      work: { conflicts: 1 },
      personal: { deletedRemote: 1 },
      research: { errors: 1, uploaded: 0 },
    });
    // Without the option the report has no breakdown.
    expect((await engine(false).sync()).report.projects).toBeUndefined();
  });

  it('names a root file /, and a file in a folder by its top-level folder', () => {
    expect(projectOf('README.md')).toBe('/');
    expect(projectOf('work/a/b.md')).toBe('work');
  });
});
