import { describe, expect, it } from 'vitest';
import {
  createSyncEngine,
  ManualClock,
  MemoryJournal,
  MemoryStore,
  MemoryTree,
} from '../src/index.js';
import { sha256 } from './node-sha256.js';

function setup(snapshots: boolean) {
  const clock = new ManualClock(Date.UTC(2026, 10, 22, 9, 0, 0));
  const store = new MemoryStore({ clock, hasher: sha256, snapshots });
  const tree = new MemoryTree({ clock });
  const journal = new MemoryJournal({ hasher: sha256, clock });
  const engine = createSyncEngine({
    tree,
    store,
    journal,
    hasher: sha256,
    clock,
    pair: { id: 'p', local: 'memory://l', remote: 'memory://r' },
    clientId: 'c',
  });
  return { clock, store, tree, journal, engine };
}

const listedAt = async (store: MemoryStore, snapshot?: string) =>
  (await store.list(undefined, snapshot === undefined ? {} : { snapshot })).objects.map(
    (o) => o.key,
  );

describe('snapshots (Tigris) after a sync', () => {
  it('a successful run takes one after its writes and records its version in the report', async () => {
    const w = setup(true);
    w.tree.writeText('a.md', 'one');
    w.tree.writeText('b.md', 'two');
    const { report } = await w.engine.sync();
    expect(report.snapshot).toEqual(expect.any(String));
    expect(await listedAt(w.store, report.snapshot)).toEqual(['a.md', 'b.md']);
    // Journaled with the run (the report is the run.completed payload).
    expect((await w.journal.report(report.run))?.report.snapshot).toBe(report.snapshot);

    // Later changes do not move it: it is this run's remote base.
    w.store.putText('c.md', 'teammate');
    w.store.remove('a.md');
    expect(await listedAt(w.store, report.snapshot)).toEqual(['a.md', 'b.md']);
    const second = await w.engine.sync();
    expect(second.report.snapshot).not.toBe(report.snapshot);
    expect(await listedAt(w.store, second.report.snapshot)).toEqual(['b.md', 'c.md']);
  });

  it('takes none on a dry run, a blocked run, or a store without snapshots', async () => {
    const w = setup(true);
    w.tree.writeText('a.md', 'one');
    expect((await w.engine.sync({ dryRun: true })).report.snapshot).toBeUndefined();
    const plain = setup(false);
    plain.tree.writeText('a.md', 'one');
    expect((await plain.engine.sync()).report.snapshot).toBeUndefined();
  });

  it('a snapshot that fails is reported; the sync it followed still counts', async () => {
    const w = setup(true);
    w.tree.writeText('a.md', 'one');
    w.store.snapshot = async () => {
      throw new Error('snapshot service down');
    };
    const { report } = await w.engine.sync();
    expect(report).toMatchObject({ status: 'in-sync', uploaded: 1 });
    expect(report.snapshot).toBeUndefined();
    expect(report.errors).toEqual([
      expect.objectContaining({
        code: 'snapshot-failed',
        message: expect.stringMatching(/snapshot service down/),
      }),
    ]);
  });
});
