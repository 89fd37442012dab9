import { describe, expect, it } from 'vitest';
import {
  createSyncEngine,
  ManualClock,
  MemoryJournal,
  MemoryStore,
  MemoryTree,
  readSnapshotMarker,
  rebuildBaseFromSnapshot,
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
  (await store.list(undefined, snapshot === undefined ? {} : { snapshot })).objects
    .map((o) => o.key)
    .filter((k) => !k.startsWith('.syncjournal/'));

describe('snapshots (Tigris) after a sync', () => {
  it('a successful run takes one after its writes and records its version in the report', async () => {
    const w = setup(true);
    w.tree.writeText('a.md', 'one');
    w.tree.writeText('b.md', 'two');
    const { report } = await w.engine.sync();
    expect(report.snapshot).toEqual(expect.any(String));
    expect(await listedAt(w.store, report.snapshot)).toEqual(['a.md', 'b.md']);
    // Journaled with the run (the report is the run.completed payload), and noted in
    // the bucket for a new host of this client.
    expect((await w.journal.report(report.run))?.report.snapshot).toBe(report.snapshot);
    expect(await readSnapshotMarker(w.store, 'c')).toMatchObject({
      clientId: 'c',
      snapshot: report.snapshot,
      run: report.run,
    });

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

  it('never replaces a marker it did not write: the snapshot stays in the journal only', async () => {
    const w = setup(true);
    w.store.putText('.syncjournal/snapshots/c.json', 'someone else');
    w.tree.writeText('a.md', 'one');
    const { report } = await w.engine.sync();
    expect(report).toMatchObject({ status: 'in-sync', snapshot: expect.any(String) });
    expect(report.errors).toEqual([expect.objectContaining({ code: 'snapshot-marker-foreign' })]);
    expect(w.store.readText('.syncjournal/snapshots/c.json')).toBe('someone else');
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

describe('a new host rebuilds its base from the last snapshot', () => {
  it('paths that still hold the snapshot’s bytes get a base; a teammate delete then applies', async () => {
    for (const rebuild of [true, false]) {
      const clock = new ManualClock(Date.UTC(2026, 10, 22, 9, 0, 0));
      const store = new MemoryStore({ clock, hasher: sha256, snapshots: true });
      const tree = new MemoryTree({ clock });
      const pair = { id: 'p', local: 'memory://alice', remote: 'memory://bucket' };
      const engine = (journal: MemoryJournal) =>
        createSyncEngine({ tree, store, journal, hasher: sha256, clock, pair, clientId: 'alice' });
      tree.writeText('keep.md', 'k');
      tree.writeText('gone.md', 'g');
      tree.writeText('changed.md', 'c1');
      tree.writeText('mine.md', 'm1');
      await engine(new MemoryJournal({ hasher: sha256, clock })).sync();
      clock.advance(10_000);
      // Teammates meanwhile; Alice's host is redeployed and edits mine.md offline.
      store.remove('gone.md');
      store.putText('changed.md', 'c2');
      tree.writeText('mine.md', 'm2 offline');

      const journal = new MemoryJournal({ hasher: sha256, clock });
      if (rebuild) {
        const marker = await readSnapshotMarker(store, 'alice');
        const base = await rebuildBaseFromSnapshot(
          { tree, store, journal, pair, clientId: 'alice', hasher: sha256 },
          marker!.snapshot,
        );
        expect(base.seeded).toEqual(['changed.md', 'gone.md', 'keep.md']);
        expect(base.examined).toBe(4);
        expect((await journal.baseline('p')).map((b) => b.path)).toEqual(base.seeded);
        await expect(
          rebuildBaseFromSnapshot(
            { tree, store, journal, pair, clientId: 'alice', hasher: sha256 },
            marker!.snapshot,
          ),
        ).rejects.toMatchObject({ code: 'base-exists' });
      }
      const { report } = await engine(journal).sync();
      if (rebuild) {
        // The delete and the edit are the teammates'; mine.md had no base: both kept.
        expect(report).toMatchObject({ deletedLocal: 1, downloaded: 1 });
        expect(tree.files().has('gone.md')).toBe(false);
        expect(tree.readText('changed.md')).toBe('c2');
      } else {
        // Blind: nothing deleted, the teammate's delete undone, the edit a conflict.
        expect(report).toMatchObject({ deletedLocal: 0 });
        expect([...store.objects().keys()]).toContain('gone.md');
      }
      expect(report.conflicts.map((c) => c.path)).toEqual(
        rebuild ? ['mine.md'] : ['changed.md', 'mine.md'],
      );
    }
  });
});
