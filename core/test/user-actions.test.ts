import { describe, expect, it } from 'vitest';
import {
  createSyncEngine,
  ManualClock,
  MemoryJournal,
  MemoryStore,
  MemoryTree,
  pathTimeline,
  pruneRemoteTrash,
  resolveConflict,
  restoreVersion,
} from '../src/index.js';
import { sha256 } from './node-sha256.js';

/** Two clients on one bucket, each with its own tree and in-memory journal. */
function twoClients() {
  const clock = new ManualClock(Date.UTC(2026, 10, 22, 9, 0, 0));
  const store = new MemoryStore({ clock, hasher: sha256 });
  const client = (name: string) => {
    const tree = new MemoryTree({ clock });
    const journal = new MemoryJournal({ hasher: sha256, clock });
    const pair = { id: `pair-${name}`, local: `memory://${name}`, remote: 'memory://bucket' };
    const ctx = { tree, store, journal, pair, clientId: name };
    const sync = async () => {
      const result = await createSyncEngine({ ...ctx, hasher: sha256, clock }).sync();
      clock.advance(10_000);
      return result;
    };
    return { ...ctx, ctx, sync };
  };
  return { clock, store, a: client('a'), b: client('b') };
}

async function conflicted() {
  const w = twoClients();
  w.a.tree.writeText('n.md', 'base');
  await w.a.sync();
  await w.b.sync();
  w.clock.advance(10_000);
  w.a.tree.writeText('n.md', 'alice');
  w.b.tree.writeText('n.md', 'bob');
  await w.a.sync();
  const { report } = await w.b.sync();
  expect(report.status).toBe('conflicts');
  const copy = [...w.b.tree.files().keys()].find((p) => p.includes('conflict'))!;
  return { ...w, copy };
}

describe('resolveConflict', () => {
  it('keep local: the copy takes the name, the other version goes to the trash, journaled', async () => {
    const { b, copy } = await conflicted();
    const result = await resolveConflict(b.ctx, 'n.md', 'local');
    expect(result.resolution).toBe('keep-local');
    expect(b.tree.readText('n.md')).toBe('bob');
    expect(b.tree.files().has(copy)).toBe(false);
    // Bob's version was trashed once by the conflict's download (and kept as the copy),
    // Alice's now by the resolution, and the copy itself: nothing is gone.
    expect(
      b.tree
        .trashed()
        .map((t) => new TextDecoder().decode(t.data))
        .sort(),
    ).toEqual(['alice', 'bob', 'bob']);
    expect(await b.journal.conflicts(b.pair.id, 'open')).toEqual([]);
    const [run] = await b.journal.runs({ limit: 1 });
    expect(run).toMatchObject({ mode: 'resolve', status: 'in-sync', clientId: 'b' });
  });

  it('keep remote trashes the copy; keep both leaves both files', async () => {
    const first = await conflicted();
    await resolveConflict(first.b.ctx, 'n.md', 'remote');
    expect([...first.b.tree.files().keys()]).toEqual(['n.md']);
    expect(first.b.tree.readText('n.md')).toBe('alice');
    const second = await conflicted();
    const both = await resolveConflict(second.b.ctx, 'n.md', 'both');
    expect(both.kept).toEqual([]);
    expect(second.b.tree.files().size).toBe(2);
  });

  it('refuses a path with no open conflict, changing nothing', async () => {
    const { b } = await conflicted();
    const events = (await b.journal.events()).length;
    await expect(resolveConflict(b.ctx, 'other.md', 'local')).rejects.toMatchObject({
      code: 'no-open-conflict',
    });
    expect((await b.journal.events()).length).toBe(events);
  });
});

describe('restoreVersion', () => {
  it('brings back a version a sync deleted, from the trash, and beside a taken path', async () => {
    const { a, b } = twoClients();
    a.tree.writeText('n.md', 'one');
    a.tree.writeText('keep.md', 'an emptied folder would be blocked by a guard');
    await a.sync();
    await b.sync();
    b.tree.remove('n.md');
    await b.sync();
    await a.sync();
    expect(a.tree.files().has('n.md')).toBe(false);
    const restored = await restoreVersion(a.ctx, 'n.md');
    expect(restored.to).toBe('n.md');
    expect(a.tree.readText('n.md')).toBe('one');
    // Restored again while n.md is taken: the version goes beside it.
    b.tree.writeText('n.md', 'two');
    const beside = await restoreVersion(b.ctx, 'n.md');
    expect(beside.to).toMatch(/^n\.restored-run\d+\.md$/);
    expect(b.tree.readText(beside.to)).toBe('one');
    await expect(restoreVersion(a.ctx, 'never.md')).rejects.toMatchObject({ code: 'not-found' });
  });
});

describe('restoreVersion of what a failed op kept', () => {
  it('finds the remote trash copy an upload made before its put failed', async () => {
    const { a, store } = twoClients();
    a.tree.writeText('n.md', 'one');
    await a.sync();
    a.tree.writeText('n.md', 'two');
    store.failNextPut({ key: 'n.md' });
    const failed = await a.sync();
    expect(failed.report.status).toBe('failed');
    const timeline = await pathTimeline(a.journal, a.pair.id, 'n.md');
    const fail = timeline.find((e) => e.kind === 'op.failed')!;
    expect(fail).toMatchObject({ restorable: true });
    expect(fail.text).toMatch(/kept before it failed at \.syncjournal\/trash\/a\/\d+\/n\.md/);
    const restored = await restoreVersion(a.ctx, 'n.md');
    expect(restored.from).toMatchObject({ side: 'remote', trash: expect.stringContaining('n.md') });
    expect(a.tree.readText(restored.to)).toBe('one');
    expect(a.tree.readText('n.md')).toBe('two');
  });
});

/** A sync of `c` whose process dies after its ops ran, before their outcomes were journaled. */
async function killedSync(c: ReturnType<typeof twoClients>['a']): Promise<void> {
  const append = c.journal.append.bind(c.journal);
  c.journal.append = async (events) => {
    if (events.some((e) => e.kind === 'op.applied')) throw new Error('killed');
    return append(events);
  };
  await expect(c.sync()).rejects.toThrow('killed');
  c.journal.append = append;
}

describe('restoreVersion after a killed run', () => {
  it('finds the remote trash copy an op made before the run could journal it', async () => {
    const { a, store } = twoClients();
    for (let i = 0; i < 5; i++) a.tree.writeText(`other/f${i}.md`, `x${i}`);
    a.tree.writeText('b.md', 'a teammate needs this');
    await a.sync();
    a.tree.remove('b.md');
    await killedSync(a);
    expect([...store.objects().keys()].filter((k) => k.endsWith('b.md'))).toEqual([
      expect.stringMatching(/^\.syncjournal\/trash\/a\/\d+\/b\.md$/),
    ]);
    const restored = await restoreVersion(a.ctx, 'b.md');
    expect(restored.from).toMatchObject({ side: 'remote', trash: expect.stringMatching(/b\.md$/) });
    expect(a.tree.readText('b.md')).toBe('a teammate needs this');
  });

  it("finds the local trash copies a killed run's ops kept: a delete and a replaced file", async () => {
    const { a, b } = twoClients();
    a.tree.writeText('gone.md', 'deleted by a teammate');
    a.tree.writeText('n.md', 'mine');
    await a.sync();
    await b.sync();
    b.tree.remove('gone.md');
    b.tree.writeText('n.md', 'theirs');
    await b.sync();
    // a's run trashes gone.md and replaces n.md, then dies before journaling either.
    await killedSync(a);
    const trashed = a.tree.trashed().map((t) => t.location);
    expect(trashed.sort()).toEqual([
      expect.stringMatching(/^run-\d+-op-\d+\/gone\.md$/),
      expect.stringMatching(/^run-\d+-op-\d+\/n\.md$/),
    ]);
    const story = (await pathTimeline(a.journal, a.pair.id, 'gone.md')).filter(
      (e) => e.kind === 'op.started',
    );
    expect(story.map((e) => e.text)).toEqual([
      'upload started',
      'delete-local started; no outcome journaled: if the run was killed, `restore` finds what the op kept',
    ]);
    const gone = await restoreVersion(a.ctx, 'gone.md');
    expect(gone.from).toMatchObject({
      side: 'local',
      trash: trashed.find((t) => t.endsWith('gone.md')),
    });
    expect(a.tree.readText('gone.md')).toBe('deleted by a teammate');
    const replaced = await restoreVersion(a.ctx, 'n.md');
    expect(a.tree.readText(replaced.to)).toBe('mine');
    expect(a.tree.readText('n.md')).toBe('theirs');
    expect(a.tree.trashed()).toEqual([]);
  });
});

describe('restoreVersion after a killed run, a slot taken before', () => {
  it('finds the copy at slot~2 after the copy at the slot itself was restored', async () => {
    const { a, b } = twoClients();
    // A copy an earlier journal of this client kept for its run 2, op 0 (a lost journal
    // starts its runs from 1 again): the killed run below takes the next slot, ~2.
    a.tree.writeText('gone.md', 'kept under an earlier journal');
    expect(await a.tree.trash('gone.md', { trashSlot: 'run-2-op-0' })).toBe('run-2-op-0/gone.md');
    a.tree.writeText('gone.md', 'deleted by a teammate');
    a.tree.writeText('keep.md', 'an emptied bucket would be blocked by a guard');
    await a.sync();
    await b.sync();
    b.tree.remove('gone.md');
    await b.sync();
    await killedSync(a);
    expect(a.tree.trashed().map((t) => t.location)).toEqual([
      'run-2-op-0/gone.md',
      'run-2-op-0~2/gone.md',
    ]);
    // The user brings back the older copy by hand: its slot is empty now.
    await a.tree.restore('run-2-op-0/gone.md', 'older.md');
    const restored = await restoreVersion(a.ctx, 'gone.md');
    expect(restored.from).toMatchObject({ side: 'local', trash: 'run-2-op-0~2/gone.md' });
    expect(a.tree.readText('gone.md')).toBe('deleted by a teammate');
  });
});

describe('pathTimeline', () => {
  it("tells a path's story: which client's run, what kind of run, what happened, what can be restored", async () => {
    const { b } = await conflicted();
    await resolveConflict(b.ctx, 'n.md', 'local');
    const timeline = await pathTimeline(b.journal, b.pair.id, 'n.md');
    expect(timeline.map((e) => e.seq)).toEqual(
      [...timeline.map((e) => e.seq)].sort((x, y) => x - y),
    );
    expect(new Set(timeline.map((e) => e.client))).toEqual(new Set(['b']));
    const recorded = timeline.find((e) => e.kind === 'conflict.recorded')!;
    expect(recorded).toMatchObject({ mode: 'sync' });
    expect(recorded.text).toMatch(
      /^conflict \(both-changed\): remote at n\.md, local at n\.conflict-b-/,
    );
    const resolved = timeline.at(-1)!;
    expect(resolved).toMatchObject({
      kind: 'conflict.resolved',
      mode: 'resolve',
      restorable: false,
    });
    expect(resolved.text).toMatch(
      /^resolved: keep-local; the remote version kept in the trash at \S+/,
    );
    // The conflict's download replaced Bob's version (kept in the trash): restorable.
    const replaced = timeline.filter((e) => e.restorable);
    expect(replaced.map((e) => [e.kind, e.run])).toEqual([['op.applied', recorded.run]]);
    expect(replaced[0]!.text).toMatch(/replaced version kept at /);
    await restoreVersion(b.ctx, 'n.md', replaced[0]!.run);
    expect(b.tree.readText(`n.restored-run${recorded.run}.md`)).toBe('bob');
  });
});

describe('pruneRemoteTrash', () => {
  it('deletes this client’s remote trash copies older than the retention, journaled; restore then says gone', async () => {
    const { clock, store, a, b } = twoClients();
    a.tree.writeText('old.md', 'old');
    a.tree.writeText('new.md', 'new');
    a.tree.writeText('keep.md', 'an emptied bucket would be blocked by a guard');
    await a.sync();
    await b.sync();
    b.tree.remove('old.md');
    await b.sync();
    clock.advance(10 * 86_400_000);
    b.tree.remove('new.md');
    await b.sync();
    const trash = () =>
      [...store.objects().keys()].filter((k) => k.startsWith('.syncjournal/trash/'));
    expect(trash()).toHaveLength(2);

    // a keeps nothing there: it prunes nothing, whatever the retention.
    expect(await pruneRemoteTrash(a.ctx, { olderThanMs: 0, now: clock.now() })).toEqual({
      pruned: [],
      kept: 0,
    });
    const result = await pruneRemoteTrash(b.ctx, { olderThanMs: 5 * 86_400_000, now: clock.now() });
    expect(result.kept).toBe(1);
    expect(result.pruned).toEqual([
      expect.stringMatching(/^\.syncjournal\/trash\/b\/\d+\/old\.md$/),
    ]);
    expect(trash()).toEqual([expect.stringMatching(/new\.md$/)]);
    // Journaled: a run of its own whose op says which key went.
    const [run] = await b.journal.runs({ limit: 1 });
    expect(run).toMatchObject({ mode: 'resolve' });
    const events = await b.journal.events({ run: run!.run, kinds: ['op.applied'] });
    expect(events.map((e) => [e.path, (e.payload as { action: string }).action])).toEqual([
      [result.pruned[0], 'forget'],
    ]);
    // Pruned once: a second pass has nothing more to do.
    expect(
      (await pruneRemoteTrash(b.ctx, { olderThanMs: 5 * 86_400_000, now: clock.now() })).pruned,
    ).toEqual([]);

    await expect(restoreVersion(b.ctx, 'old.md')).rejects.toMatchObject({ code: 'not-found' });
    expect((await restoreVersion(b.ctx, 'new.md')).to).toBe('new.md');
    expect(b.tree.readText('new.md')).toBe('new');
  });
});
