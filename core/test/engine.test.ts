import type { PostgresJournal } from '@syncjournal/journal-schema';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Journal,
  MemoryJournal,
  type MemoryStore,
  MemoryTree,
  RECONCILE_RULES,
  replayPlan,
  trashKeyCandidate,
} from '../src/index.js';
import { bucket, Client, hashText, openTestJournal, world } from './engine-harness.js';
import { sha256 } from './node-sha256.js';

let journal: PostgresJournal;
beforeAll(async () => {
  journal = await openTestJournal();
});
afterAll(() => journal.close());

/** Two clients that have synced `files` once, in agreement. */
async function inSync(files: Record<string, string>, storeOptions = {}) {
  const w = world(journal, storeOptions);
  const a = w.client('alice');
  const b = w.client('bob');
  for (const [p, t] of Object.entries(files)) a.write(p, t);
  await a.sync();
  await b.sync();
  expect(b.listing()).toEqual(files);
  return { ...w, a, b };
}

describe('every row of the decision table, end to end', () => {
  it('new locally → uploaded; new remotely → downloaded', async () => {
    const w = world(journal);
    const a = w.client('alice');
    const b = w.client('bob');
    a.write('notes/a.md', 'hello');
    const first = await a.sync();
    expect(first.report).toMatchObject({
      status: 'in-sync',
      uploaded: 1,
      bytes: { up: 5, down: 0 },
    });
    expect(first.plan.map((o) => o.row)).toEqual(['local-new']);
    expect(bucket(w.store)).toEqual({ 'notes/a.md': 'hello' });
    const second = await b.sync();
    expect(second.report).toMatchObject({
      status: 'in-sync',
      downloaded: 1,
      bytes: { up: 0, down: 5 },
    });
    expect(b.text('notes/a.md')).toBe('hello');
  });

  it('changed locally → uploaded over the version it saw; the old one kept in the remote trash', async () => {
    const { a, b, store } = await inSync({ 'a.md': 'v1' });
    a.write('a.md', 'v2');
    expect((await a.sync()).plan.map((o) => o.row)).toEqual(['local-changed']);
    expect(bucket(store)).toEqual({ 'a.md': 'v2' });
    const trash = [...store.objects().keys()].filter((k) => k.startsWith('.syncjournal/trash/'));
    expect(trash).toHaveLength(1);
    expect(store.readText(trash[0]!)).toBe('v1');
    const down = await b.sync();
    expect(down.plan.map((o) => o.row)).toEqual(['remote-changed']);
    expect(b.text('a.md')).toBe('v2');
    // The version the download replaced is in the local trash, not gone.
    expect(b.tree.trashed().map((t) => new TextDecoder().decode(t.data))).toContain('v1');
  });

  it('deleted locally → deleted remotely (kept in trash); then deleted on the other client into its trash', async () => {
    const { a, b, store } = await inSync({ 'a.md': 'v1', 'b.md': 'keep' });
    a.tree.remove('a.md');
    const del = await a.sync();
    expect(del.report).toMatchObject({ deletedRemote: 1 });
    expect(bucket(store)).toEqual({ 'b.md': 'keep' });
    const tomb = await journal.tombstones(a.pair.id, 'a.md');
    expect(tomb).toMatchObject([{ side: 'remote', clientId: 'alice', hash: hashText('v1') }]);
    expect(store.readText(tomb[0]!.trash!)).toBe('v1');
    const follow = await b.sync();
    expect(follow.report).toMatchObject({ deletedLocal: 1 });
    expect(b.text('a.md')).toBeUndefined();
    const [trashed] = b.tree.trashed();
    expect(new TextDecoder().decode(trashed!.data)).toBe('v1');
    expect(await journal.tombstones(b.pair.id, 'a.md')).toMatchObject([
      { side: 'local', trash: trashed!.location },
    ]);
  });

  it('changed on both sides to the same content → adopted, no bytes moved', async () => {
    const { a, b, store } = await inSync({ 'a.md': 'v1' });
    a.write('a.md', 'same');
    b.write('a.md', 'same');
    await a.sync();
    const puts = store.stats.puts;
    const result = await b.sync();
    expect(result.plan.map((o) => o.row)).toEqual(['both-changed-same']);
    expect(result.report).toMatchObject({ adopted: 1, bytes: { up: 0, down: 0 } });
    expect(store.stats.puts).toBe(puts);
  });

  it('changed differently on both sides → both kept, the remote under the name, the local beside it', async () => {
    const { a, b, store } = await inSync({ 'notes/a.md': 'v1' });
    a.write('notes/a.md', 'alice');
    b.write('notes/a.md', 'bob');
    await a.sync();
    const { report, plan } = await b.sync();
    expect(plan.map((o) => o.row)).toEqual(['both-changed']);
    const copy = plan[0]!.conflictPath!;
    expect(copy).toMatch(/^notes\/a\.conflict-bob-\d{8}T\d{6}\.md$/);
    expect(report.status).toBe('conflicts');
    expect(report.conflicts).toEqual([
      { path: 'notes/a.md', kind: 'both-changed', kept: ['notes/a.md', copy] },
    ]);
    expect(b.listing()).toEqual({ 'notes/a.md': 'alice', [copy]: 'bob' });
    expect(bucket(store)).toEqual({ 'notes/a.md': 'alice', [copy]: 'bob' });
    const [conflict] = await journal.conflicts(b.pair.id, 'open');
    expect(conflict?.kept.map((k) => [k.side, k.path])).toEqual([
      ['remote', 'notes/a.md'],
      ['local', copy],
    ]);
    // Alice gets the conflict copy like any file; then everyone agrees.
    await a.sync();
    expect(a.listing()).toEqual(b.listing());
    expect((await b.sync()).report).toMatchObject({
      status: 'in-sync',
      uploaded: 0,
      downloaded: 0,
    });
  });

  it('deleted locally but changed remotely → the teammate’s edit is restored', async () => {
    const { a, b } = await inSync({ 'a.md': 'v1' });
    a.write('a.md', 'alice edit');
    await a.sync();
    b.tree.remove('a.md');
    const { report, plan } = await b.sync();
    expect(plan.map((o) => o.row)).toEqual(['local-deleted-remote-changed']);
    expect(b.text('a.md')).toBe('alice edit');
    expect(report.conflicts).toEqual([
      { path: 'a.md', kind: 'local-deleted-remote-changed', kept: ['a.md'] },
    ]);
  });

  it('changed locally but deleted remotely → the local edit is uploaded again', async () => {
    const { a, b, store } = await inSync({ 'a.md': 'v1', 'other.md': 'o' });
    a.tree.remove('a.md');
    await a.sync();
    b.write('a.md', 'bob edit');
    const { plan } = await b.sync();
    expect(plan.map((o) => o.row)).toEqual(['local-changed-remote-deleted']);
    expect(bucket(store)).toEqual({ 'a.md': 'bob edit', 'other.md': 'o' });
    await a.sync();
    expect(a.text('a.md')).toBe('bob edit');
  });

  it('deleted on both sides → dropped from the baseline, with a tombstone', async () => {
    const { a, b } = await inSync({ 'a.md': 'v1', 'other.md': 'o' });
    a.tree.remove('a.md');
    b.tree.remove('a.md');
    await a.sync();
    const { plan } = await b.sync();
    expect(plan.map((o) => o.row)).toEqual(['both-deleted']);
    expect((await journal.baseline(b.pair.id)).map((r) => r.path)).toEqual(['other.md']);
    expect(await journal.tombstones(b.pair.id, 'a.md')).toMatchObject([{ side: 'both' }]);
  });

  it('new on both sides: same content adopted, different content kept both', async () => {
    const w = world(journal);
    const a = w.client('alice');
    const b = w.client('bob');
    a.write('same.md', 'identical');
    a.write('diff.md', 'alice');
    await a.sync();
    b.write('same.md', 'identical');
    b.write('diff.md', 'bob');
    const { plan, report } = await b.sync();
    expect(plan.map((o) => [o.path, o.row])).toEqual([
      ['diff.md', 'both-new-different'],
      ['same.md', 'both-new-same'],
    ]);
    expect(report.adopted).toBe(1);
    expect(Object.values(bucket(w.store)).sort()).toEqual(['alice', 'bob', 'identical']);
  });
});

describe('client ids', () => {
  it('an id that cannot name a conflict copy or bucket key is refused before anything runs', async () => {
    const w = world(journal);
    const a = w.client('team/alice');
    a.write('a.md', 'a');
    await expect(a.sync()).rejects.toMatchObject({
      code: 'invalid-client-id',
      message: expect.stringMatching(/"team\/alice" cannot be used: .*Nothing was synced/),
    });
    expect(bucket(w.store)).toEqual({});
  });
});

describe('safety guards, end to end', () => {
  it('a failed listing page blocks the deletes it would imply, and applies nothing', async () => {
    const w = world(journal, { pageSize: 2 });
    const a = w.client('alice');
    for (const n of [1, 2, 3, 4, 5]) a.write(`f${n}.md`, `${n}`);
    await a.sync();
    // A teammate deletes f1; the listing then fails after its first page (f2, f3).
    w.store.remove('f1.md');
    w.store.failListPage(1);
    a.write('new.md', 'new');
    const { report } = await a.sync();
    expect(report.status).toBe('blocked');
    expect(report.blocked?.guard).toBe('incomplete-listing');
    expect(a.text('f1.md')).toBe('1');
    expect(bucket(w.store)['new.md']).toBeUndefined();
    // With the listing whole again, the teammate's delete is applied (into the trash).
    const next = await a.sync();
    expect(next.report).toMatchObject({ status: 'in-sync', uploaded: 1, deletedLocal: 1 });
    expect(a.tree.trashed().map((t) => t.path)).toEqual(['f1.md']);
  });

  it('an unreadable folder makes the scan incomplete, never empty', async () => {
    const { a, store } = await inSync({ 'private/a.md': 'secret', 'b.md': 'b' });
    a.tree.failDirectory('private');
    a.tree.remove('b.md');
    const { report } = await a.sync();
    expect(report.blocked?.guard).toBe('incomplete-scan');
    expect(bucket(store)).toEqual({ 'private/a.md': 'secret', 'b.md': 'b' });
    // With nothing to delete, the same incomplete scan still lets other changes through,
    // and the run says it did not get everything.
    a.write('b.md', 'b');
    a.write('c.md', 'c');
    const ok = await a.sync();
    expect(ok.report).toMatchObject({ status: 'failed', uploaded: 1, deletedRemote: 0 });
    expect(ok.report.errors).toMatchObject([{ path: 'private', code: 'EACCES' }]);
    expect(ok.report.guards.find((g) => g.guard === 'incomplete-scan')?.verdict).toBe('limited');
  });

  it('an emptied local folder blocks the run, --force too; --allow-empty applies it', async () => {
    const { a, store } = await inSync({ 'a.md': '1', 'b.md': '2' });
    a.tree.remove('a.md');
    a.tree.remove('b.md');
    const blocked = await a.sync();
    expect(blocked.report.blocked?.guard).toBe('empty-side');
    expect(Object.keys(bucket(store))).toHaveLength(2);
    const forced = await a.sync({ force: true });
    expect(forced.report.blocked?.guard).toBe('empty-side');
    expect(Object.keys(bucket(store))).toHaveLength(2);
    const allowed = await a.sync({ allowEmpty: true });
    expect(allowed.report).toMatchObject({ status: 'in-sync', deletedRemote: 2 });
  });

  it('deletes above the profile limit block the run', async () => {
    const files = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`n${i}.md`, `${i}`]));
    const { a, store } = await inSync(files);
    for (let i = 0; i < 12; i++) a.tree.remove(`n${i}.md`);
    const safe = await a.sync({ profile: 'safe' });
    expect(safe.report.blocked?.guard).toBe('delete-limit');
    expect(Object.keys(bucket(store))).toHaveLength(40);
    // 12 of 40 is 30%: over balanced's 25% share too; fast allows 50 and 50%.
    expect((await a.sync({ profile: 'balanced' })).report.blocked?.guard).toBe('delete-limit');
    expect((await a.sync({ profile: 'fast' })).report).toMatchObject({
      status: 'in-sync',
      deletedRemote: 12,
    });
  });

  it('a filter change never turns newly excluded files into deletes', async () => {
    const { a, b, store } = await inSync({ 'build/out.js': 'x', 'src/a.ts': 'a' });
    const filter = {
      spec: { exclude: ['build/'] },
      excluded: (p: string) => p.startsWith('build/'),
    };
    const { report } = await a.sync({ filter });
    expect(report).toMatchObject({ deletedLocal: 0, deletedRemote: 0 });
    expect(report.guards.find((g) => g.guard === 'filter-change')).toMatchObject({
      verdict: 'limited',
      paths: ['build/out.js'],
    });
    a.tree.remove('build/out.js');
    await a.sync({ filter });
    expect(bucket(store)['build/out.js']).toBe('x');
    expect((await b.sync()).report.deletedLocal).toBe(0);
  });

  it('unsafe remote keys are skipped and reported; nothing lands outside the tree', async () => {
    const w = world(journal);
    const a = w.client('alice');
    w.store.putText('../escape.md', 'x');
    w.store.putText('ok/../../etc.md', 'x');
    w.store.putText('fine.md', 'fine');
    const { report } = await a.sync();
    expect(a.listing()).toEqual({ 'fine.md': 'fine' });
    expect(report.guards.find((g) => g.guard === 'unsafe-keys')).toMatchObject({
      verdict: 'limited',
      paths: ['../escape.md', 'ok/../../etc.md'],
    });
  });

  it('a file replaced by a symbolic link is left out, never deleted in the bucket or written over; each run reports it', async () => {
    const { store, a, b } = await inSync({ 'a.md': 'alice wrote this', 'keep.md': 'k' });
    // Tools that manage files by linking them (stow, git-annex) replace a file with a link.
    a.tree.remove('a.md');
    a.tree.addSymlink('a.md');
    a.tree.addSymlink('pipe-like');
    const first = await a.sync();
    expect(first.report).toMatchObject({
      status: 'in-sync',
      deletedRemote: 0,
      leftOut: {
        count: 2,
        entries: [
          { path: 'a.md', reason: 'symlink' },
          { path: 'pipe-like', reason: 'symlink' },
        ],
      },
    });
    expect(bucket(store)).toEqual({ 'a.md': 'alice wrote this', 'keep.md': 'k' });
    // Bob edits it: the edit stays in the bucket and reaches nobody's link.
    b.write('a.md', 'bob edited');
    await b.sync();
    const second = await a.sync();
    expect(second.plan.map((o) => [o.path, o.action, o.row])).toEqual([
      ['a.md', 'skip', 'local-left-out'],
    ]);
    expect(second.report.status).toBe('in-sync');
    expect(second.report.guards.find((g) => g.guard === 'unsafe-keys')).toMatchObject({
      verdict: 'limited',
      paths: ['a.md'],
    });
    expect(bucket(store)).toEqual({ 'a.md': 'bob edited', 'keep.md': 'k' });
    expect(b.listing()).toEqual({ 'a.md': 'bob edited', 'keep.md': 'k' });
    const events = await journal.events();
    for (const { report } of [first, second]) {
      expect(replayPlan(events, report.run, { hasher: sha256 })?.matches).toBe(true);
    }
    // The link gone, the path reads as deleted locally, as any deleted file does.
    a.tree.remove('a.md');
    const third = await a.sync();
    expect(third.plan.map((o) => [o.path, o.row])).toEqual([
      ['a.md', 'local-deleted-remote-changed'],
    ]);
    expect(a.listing()).toEqual({ 'a.md': 'bob edited', 'keep.md': 'k' });
  });

  /** A Mac (a tree that ignores case) and a Linux teammate in sync on notes.md; the Mac renames it Notes.md. */
  async function caseOnlyRename() {
    const w = world(journal);
    const mac = w.client('mac');
    mac.tree = new MemoryTree({ clock: w.clock, caseInsensitive: true });
    const linux = w.client('linux');
    mac.write('notes.md', 'v1');
    await mac.sync();
    await linux.sync();
    mac.tree.remove('notes.md');
    mac.write('Notes.md', 'v2 on the mac');
    return { w, mac, linux };
  }

  it('a case-only rename on a tree that ignores case reaches the bucket and the teammate', async () => {
    const { w, mac, linux } = await caseOnlyRename();
    const renamed = await mac.sync();
    expect(renamed.report).toMatchObject({ status: 'in-sync', uploaded: 1, deletedRemote: 1 });
    expect(bucket(w.store)).toEqual({ 'Notes.md': 'v2 on the mac' });
    await linux.sync();
    expect(linux.listing()).toEqual({ 'Notes.md': 'v2 on the mac' });
  });

  it('a teammate edit of the old spelling is kept and reported, never written over the renamed file', async () => {
    const { w, mac, linux } = await caseOnlyRename();
    linux.write('notes.md', 'v3 on linux');
    await linux.sync();
    const { report } = await mac.sync();
    expect(report.status).toBe('in-sync');
    expect(report.guards.find((g) => g.guard === 'unsafe-keys')).toMatchObject({
      verdict: 'limited',
      paths: ['notes.md'],
    });
    expect(mac.listing()).toEqual({ 'Notes.md': 'v2 on the mac' });
    expect(bucket(w.store)).toEqual({ 'Notes.md': 'v2 on the mac', 'notes.md': 'v3 on linux' });
    await linux.sync();
    expect(linux.listing()).toEqual({ 'Notes.md': 'v2 on the mac', 'notes.md': 'v3 on linux' });
  });

  it('a teammate’s name that differs only in accent encoding from a Mac’s file is kept in the bucket, reported, and never written over it', async () => {
    const w = world(journal);
    const mac = w.client('mac');
    mac.tree = new MemoryTree({
      clock: w.clock,
      caseInsensitive: true,
      normalizationInsensitive: true,
    });
    const linux = w.client('linux');
    const nfc = 'caf\u00e9.md';
    const nfd = nfc.normalize('NFD');
    mac.write(nfd, 'written on the mac');
    await mac.sync();
    linux.write(nfc, 'written on linux');
    await linux.sync();
    expect(bucket(w.store)).toEqual({ [nfd]: 'written on the mac', [nfc]: 'written on linux' });
    for (let again = 0; again < 2; again++) {
      const { report } = await mac.sync();
      expect(report.status).toBe('in-sync');
      expect(report.guards.find((g) => g.guard === 'unsafe-keys')).toMatchObject({
        verdict: 'limited',
        paths: [nfc],
      });
      expect(mac.listing()).toEqual({ [nfd]: 'written on the mac' });
      expect(bucket(w.store)).toEqual({ [nfd]: 'written on the mac', [nfc]: 'written on linux' });
      // The run journals how the tree folds names, and an audit replays it by that.
      const events = await journal.events();
      const started = events.find((e) => e.run === report.run && e.kind === 'run.started')!;
      expect(started.payload).toMatchObject({ options: { normalizationInsensitive: true } });
      expect(replayPlan(events, report.run, { hasher: sha256 })?.matches).toBe(true);
    }
  });

  it('on a Mac disk that stores names decomposed (HFS+), a teammate’s NFC key is renamed to NFD once, and nothing is lost', async () => {
    /** HFS+: every name is stored as NFD, whatever spelling it was given. */
    class HfsTree extends MemoryTree {
      override write(...[path, ...rest]: Parameters<MemoryTree['write']>) {
        return super.write(path.normalize('NFD'), ...rest);
      }
      override writeText(...[path, ...rest]: Parameters<MemoryTree['writeText']>) {
        return super.writeText(path.normalize('NFD'), ...rest);
      }
      override restore(location: string, path: string) {
        return super.restore(location, path.normalize('NFD'));
      }
    }
    const w = world(journal);
    const mac = w.client('mac-hfs');
    mac.tree = new HfsTree({
      clock: w.clock,
      caseInsensitive: true,
      normalizationInsensitive: true,
    });
    const linux = w.client('linux-nfc');
    const nfc = 'caf\u00e9.md';
    const nfd = nfc.normalize('NFD');
    linux.write(nfc, 'menu');
    await linux.sync();
    await mac.sync();
    expect(mac.listing()).toEqual({ [nfd]: 'menu' });
    const renamed = await mac.sync();
    expect(renamed.report).toMatchObject({ status: 'in-sync', uploaded: 1, deletedRemote: 1 });
    expect(bucket(w.store)).toEqual({ [nfd]: 'menu' });
    const followed = await linux.sync();
    expect(followed.report).toMatchObject({ status: 'in-sync', downloaded: 1, deletedLocal: 1 });
    expect(linux.listing()).toEqual({ [nfd]: 'menu' });
    // Linux's NFC file went to its trash, where restore finds it.
    expect(linux.tree.trashed().map((t) => [t.path, new TextDecoder().decode(t.data)])).toEqual([
      [nfc, 'menu'],
    ]);
    const quiet = await mac.sync();
    expect(quiet.report).toMatchObject({ status: 'in-sync', uploaded: 0, downloaded: 0 });
  });

  it('a local .syncjournal/ folder is never uploaded among the bucket’s own keys, and is reported', async () => {
    const w = world(journal);
    const a = w.client('alice');
    a.write('.syncjournal/mine.md', 'user data');
    a.write('x.md', 'x');
    for (let i = 0; i < 2; i++) {
      const { report } = await a.sync();
      expect(report.status).toBe('in-sync');
      expect(report.guards.find((g) => g.guard === 'unsafe-keys')).toMatchObject({
        verdict: 'limited',
        paths: ['.syncjournal/mine.md'],
      });
    }
    expect([...w.store.objects().keys()].filter((k) => k.startsWith('.syncjournal/'))).toEqual([]);
    expect(a.text('.syncjournal/mine.md')).toBe('user data');
  });
});

describe('the remote trash', () => {
  it('never copies two versions to one key, also when a lost journal starts its runs again', async () => {
    const w = world(journal);
    const ownJournal = () => new MemoryJournal({ hasher: sha256, clock: w.clock }) as never;
    const a = new Client(
      'alice',
      new MemoryTree({ clock: w.clock }),
      w.store,
      ownJournal(),
      w.clock,
      {},
    );
    a.write('a.md', 'a v1');
    a.write('a.md~2', 'tilde v1');
    await a.sync(); // run 1
    a.write('a.md', 'a v2');
    await a.sync(); // run 2: a v1 to .syncjournal/trash/alice/2/a.md
    // The same client and folder with a new journal: its runs count from 1 again.
    const again = new Client('alice', a.tree, w.store, ownJournal(), w.clock, {});
    await again.sync(); // run 1: adopts what is identical
    again.write('a.md', 'a v3');
    again.write('a.md~2', 'tilde v2');
    await again.sync(); // run 2 again: both replaced versions go to the trash at once
    const trash = new Map(
      [...w.store.objects()]
        .filter(([k]) => k.startsWith('.syncjournal/trash/'))
        .map(([k, v]) => [k, new TextDecoder().decode(v)]),
    );
    expect(Object.fromEntries(trash)).toEqual({
      '.syncjournal/trash/alice/2/a.md': 'a v1',
      '.syncjournal/trash/alice/2~2/a.md': 'a v2',
      '.syncjournal/trash/alice/2/a.md~2': 'tilde v1',
    });
  });

  it('candidate keys of two different paths never meet, whatever their counters', () => {
    const paths = ['a.md', 'a.md~2', 'x/a.md', '2~2/a.md', 'a.md~3'];
    const keys = new Set<string>();
    for (const path of paths)
      for (let n = 1; n <= 4; n++)
        keys.add(trashKeyCandidate('.syncjournal/trash/', 'c', 2, path, n));
    expect(keys.size).toBe(paths.length * 4);
  });
});

describe('the executor under faults', () => {
  it('a put that fails is reported, and the next sync completes it', async () => {
    const w = world(journal);
    const a = w.client('alice');
    a.write('a.md', 'x');
    w.store.failNextPut({ key: 'a.md' });
    const failed = await a.sync();
    expect(failed.report.status).toBe('failed');
    expect(failed.report.errors).toMatchObject([{ path: 'a.md' }]);
    expect((await a.sync()).report).toMatchObject({ status: 'in-sync', uploaded: 1 });
    expect(bucket(w.store)).toEqual({ 'a.md': 'x' });
  });

  it('an upload that landed but whose answer was lost is adopted by content, not sent again', async () => {
    const w = world(journal);
    const a = w.client('alice');
    a.write('big.md', 'payload');
    w.store.failNextPut({ key: 'big.md', afterWrite: true });
    await a.sync();
    const puts = w.store.stats.puts;
    const { report, plan } = await a.sync();
    expect(plan.map((o) => o.row)).toEqual(['both-new-same']);
    expect(report).toMatchObject({ status: 'in-sync', adopted: 1, uploaded: 0 });
    expect(w.store.stats.puts).toBe(puts);
  });

  it('a teammate write between listing and put (412) is re-planned into a conflict, never overwritten', async () => {
    const { a, store } = await inSync({ 'a.md': 'v1' });
    a.write('a.md', 'alice');
    store.beforeNextPut((key) => {
      if (key === 'a.md') store.putText('a.md', 'teammate', { sha256: hashText('teammate') });
    });
    const { report } = await a.sync();
    expect(report.status).toBe('conflicts');
    expect(Object.values(bucket(store)).sort()).toEqual(['alice', 'teammate']);
    expect(a.text('a.md')).toBe('teammate');
    const events = await journal.events({
      run: report.run,
      path: 'a.md',
      kinds: ['op.failed', 'plan.op'],
    });
    expect(events.map((e) => [e.kind, (e.payload as { row?: string }).row])).toEqual([
      ['plan.op', 'local-changed'],
      ['op.failed', undefined],
      ['plan.op', 'both-changed'],
    ]);
    expect(events[1]?.payload).toMatchObject({ error: { code: 'precondition-failed' } });
  });

  it('a local edit after the scan stops a download from replacing it', async () => {
    const { a, b } = await inSync({ 'a.md': 'v1' });
    a.write('a.md', 'remote edit');
    await a.sync();
    b.tree.beforeNextWrite((path) => {
      if (path === 'a.md') b.tree.writeText('a.md', 'late local edit');
    });
    const { report } = await b.sync();
    expect(report.status).toBe('conflicts');
    expect(Object.values(b.listing()).sort()).toEqual(['late local edit', 'remote edit']);
  });

  it('a run killed after any op is finished by the next run, without duplicates', async () => {
    for (let killAt = 0; killAt < 4; killAt++) {
      const w = world(journal);
      const a = w.client(`killed${killAt}`);
      for (const n of [1, 2, 3, 4]) a.write(`f${n}.md`, `content ${n}`);
      let puts = 0;
      const hang = new Promise<never>(() => {});
      w.store.beforeNextPut(function hook() {
        // Each put re-arms the hook; the killAt-th one lands and then the process "dies".
        if (puts++ === killAt) return hang;
        w.store.beforeNextPut(hook);
      });
      void a.sync();
      await new Promise((r) => setTimeout(r, 300));
      const { report } = await a.sync();
      expect(report.status).toBe('in-sync');
      expect(bucket(w.store)).toEqual({
        'f1.md': 'content 1',
        'f2.md': 'content 2',
        'f3.md': 'content 3',
        'f4.md': 'content 4',
      });
      expect(report.uploaded + report.adopted).toBeLessThanOrEqual(4);
      expect((await a.sync()).report).toMatchObject({ uploaded: 0, downloaded: 0, adopted: 0 });
    }
  });
});

describe('runs', () => {
  it('a sync right after a sync moves nothing and appends a handful of events', async () => {
    const { a, b } = await inSync({ 'a.md': '1', 'b/c.md': '2' });
    await a.sync();
    const before = (await journal.verify()).events;
    const { report } = await a.sync();
    expect(report).toMatchObject({
      status: 'in-sync',
      uploaded: 0,
      downloaded: 0,
      adopted: 0,
      deletedLocal: 0,
      deletedRemote: 0,
    });
    const after = (await journal.verify()).events;
    expect(after - before).toBeLessThanOrEqual(6);
    expect((await b.sync()).report.status).toBe('in-sync');
  });

  it('a dry run plans and reports but changes nothing', async () => {
    const { a, store } = await inSync({ 'a.md': '1' });
    a.write('a.md', '2');
    const dry = await a.sync({ dryRun: true });
    expect(dry.plan.map((o) => o.row)).toEqual(['local-changed']);
    expect(dry.report.uploaded).toBe(1);
    expect(bucket(store)).toEqual({ 'a.md': '1' });
    const again = await a.sync({ dryRun: true });
    expect(again.plan).toEqual(dry.plan.map((o) => ({ ...o })));
  });

  it('with no baseline (a lost journal) nothing is deleted: identical adopted, differing kept both', async () => {
    const { a, b, store } = await inSync({ 'same.md': 's', 'edited.md': 'v1', 'gone.md': 'g' });
    a.write('edited.md', 'v2');
    a.tree.remove('gone.md');
    await a.sync();
    b.loseJournal();
    const { report, plan } = await b.sync();
    expect(plan.filter((o) => o.action.startsWith('delete'))).toEqual([]);
    expect(plan.map((o) => [o.path, o.row])).toEqual([
      ['edited.md', 'both-new-different'],
      ['gone.md', 'local-new'],
      ['same.md', 'both-new-same'],
    ]);
    expect(report.adopted).toBe(1);
    expect(bucket(store)['gone.md']).toBe('g');
    expect(Object.values(b.listing()).sort()).toEqual(['g', 's', 'v1', 'v2']);
  });

  it('journals the whole run: the plan with its rows, ops started before applied, and a verifiable chain', async () => {
    const w = world(journal);
    const a = w.client('alice');
    a.write('a.md', 'x');
    const { report } = await a.sync();
    const kinds = (await journal.events({ run: report.run })).map((e) => e.kind);
    expect(kinds).toEqual([
      'run.started',
      'scan.added',
      'scan.completed',
      'listing.completed',
      'plan.op',
      'plan.completed',
      'op.started',
      'op.applied',
      'run.completed',
    ]);
    expect(await journal.report(report.run)).toMatchObject({ status: 'in-sync', report });
    expect((await journal.verify()).ok).toBe(true);
    expect((await journal.rebuild()).matched).toBe(true);
  });
});

describe('a journal still opening', () => {
  /** Records when the tree's walk and the store's listing start, and a walk given up. */
  function watchReads(tree: MemoryTree, store: MemoryStore) {
    const reads: string[] = [];
    const walk = tree.walk.bind(tree);
    tree.walk = () => {
      reads.push('walk');
      const items = walk()[Symbol.asyncIterator]();
      return {
        [Symbol.asyncIterator]: () => ({
          next: () => items.next(),
          return: (value?: unknown) => {
            reads.push('walk given up');
            return items.return?.(value) ?? Promise.resolve({ done: true, value });
          },
        }),
      };
    };
    const list = store.list.bind(store);
    store.list = (...args) => {
      reads.push('list');
      return list(...args);
    };
    return reads;
  }

  it('both sides are read while it opens; the run is journaled, in order, once it is open', async () => {
    const { a, store } = await inSync({ 'a.md': '1' });
    a.write('a.md', '2');
    a.write('new.md', 'n');
    const reads = watchReads(a.tree, store);
    let open!: (journal: Journal) => void;
    const opening = new Promise<Journal>((resolve) => {
      open = resolve;
    });
    const events = (await journal.verify()).events;
    const running = a.sync({ journal: opening });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(reads).toEqual(['walk', 'list']);
    expect((await journal.verify()).events).toBe(events);
    open(journal);
    const { report } = await running;
    expect(report).toMatchObject({ status: 'in-sync', uploaded: 2 });
    expect(bucket(store)).toEqual({ 'a.md': '2', 'new.md': 'n' });
    const kinds = (await journal.events({ run: report.run })).map((e) => e.kind);
    expect(kinds.slice(0, 4)).toEqual([
      'run.started',
      'scan.changed',
      'scan.added',
      'scan.completed',
    ]);
    expect(kinds.at(-1)).toBe('run.completed');
  });

  it('one that cannot open fails the run with its own error; the walk is given up, nothing is written', async () => {
    const { a, b, store } = await inSync({ 'a.md': '1' });
    a.write('a.md', '2');
    a.tree.remove('a.md');
    a.write('new.md', 'n');
    const reads = watchReads(a.tree, store);
    const events = (await journal.verify()).events;
    const locked = new Error('The journal is held by another process.');
    await expect(a.sync({ journal: Promise.reject(locked) })).rejects.toBe(locked);
    expect(reads).toEqual(['walk', 'list', 'walk given up']);
    expect((await journal.verify()).events).toBe(events);
    expect(bucket(store)).toEqual({ 'a.md': '1' });
    expect(a.listing()).toEqual({ 'new.md': 'n' });
    // Once the journal opens, the same client syncs as if nothing had happened.
    const { report } = await a.sync();
    expect(report).toMatchObject({ status: 'in-sync', uploaded: 1, deletedRemote: 1 });
    expect((await b.sync()).report.status).toBe('in-sync');
    expect(b.listing()).toEqual({ 'new.md': 'n' });
  });
});

describe('conflict policies keep the losing version recoverable', () => {
  const conflicted = async () => {
    const s = await inSync({ 'n.md': 'base', 'other.md': 'o' });
    s.a.write('n.md', 'alice');
    await s.a.sync();
    s.b.write('n.md', 'bob');
    return s;
  };

  it('prefer-remote: the remote version takes the name, the local one goes to the trash', async () => {
    const { b, store } = await conflicted();
    const { report, plan } = await b.sync({ policy: 'prefer-remote' });
    expect(plan.find((o) => o.path === 'n.md')).toMatchObject({
      row: 'both-changed',
      resolution: 'keep-remote',
    });
    expect(b.listing()).toEqual({ 'n.md': 'alice', 'other.md': 'o' });
    expect(bucket(store)).toEqual({ 'n.md': 'alice', 'other.md': 'o' });
    const trashed = b.tree.trashed().find((t) => new TextDecoder().decode(t.data) === 'bob');
    expect(trashed).toBeDefined();
    expect(report.conflicts).toEqual([
      { path: 'n.md', kind: 'both-changed', kept: ['n.md', trashed!.location] },
    ]);
    const [row] = await journal.conflicts(b.pair.id);
    expect(row).toMatchObject({ status: 'resolved', resolution: 'keep-remote' });
  });

  it('prefer-local: the local version takes the name, the remote one is kept in the remote trash', async () => {
    const { a, b, store } = await conflicted();
    const { report } = await b.sync({ policy: 'prefer-local' });
    expect(bucket(store)).toEqual({ 'n.md': 'bob', 'other.md': 'o' });
    const trashKey = report.conflicts[0]!.kept[1]!;
    expect(trashKey).toMatch(/^\.syncjournal\/trash\//);
    expect(store.readText(trashKey)).toBe('alice');
    await a.sync();
    expect(a.text('n.md')).toBe('bob');
  });

  it('newer: the later edit takes the name', async () => {
    const { b, store } = await conflicted();
    // Bob's edit came after Alice's upload.
    await b.sync({ policy: 'newer' });
    expect(bucket(store)['n.md']).toBe('bob');
  });
});

describe('audit', () => {
  it('every run in this journal replays to the plan it recorded, byte for byte', async () => {
    // The journal by now holds every run of the tests above: conflicts, guards, faults,
    // lost journals, filters. Each plan must come back identical from the journaled inputs.
    const events = await journal.events();
    const runs = (await journal.runs()).map((r) => r.run).sort((a, b) => a - b);
    const excludedFor = (spec: unknown) => {
      const prefixes = (spec as { exclude?: string[] }).exclude ?? [];
      return (path: string) => prefixes.some((p) => path.startsWith(p));
    };
    let replayed = 0;
    for (const run of runs) {
      const result = replayPlan(events, run, { hasher: sha256, excludedFor });
      if (!result) continue;
      replayed++;
      expect({ run, matches: result.matches }).toEqual({ run, matches: true });
    }
    expect(replayed).toBeGreaterThan(50);
  });

  it('replays a run by the reconciler rules it journaled (a run without a number: rules 1)', async () => {
    const w = world(journal);
    const mac = w.client('mac-audited');
    mac.tree = new MemoryTree({ clock: w.clock, caseInsensitive: true });
    mac.write('notes.md', 'v1');
    await mac.sync();
    mac.tree.remove('notes.md');
    mac.write('Notes.md', 'v2');
    const { report } = await mac.sync();
    const events = await journal.events();
    const started = events.find((e) => e.run === report.run && e.kind === 'run.started')!;
    expect((started.payload as { options: { rules?: number } }).options.rules).toBe(
      RECONCILE_RULES,
    );
    expect(replayPlan(events, report.run, { hasher: sha256 })?.matches).toBe(true);
    // The same run as a journal from before the rules had a number: planned by rules 1,
    // which skipped both spellings, so its plan differs.
    const unnumbered = events.map((e) => {
      if (e !== started) return e;
      const { rules: _rules, ...options } = (e.payload as { options: Record<string, unknown> })
        .options;
      return { ...e, payload: { ...e.payload, options } } as typeof e;
    });
    const old = replayPlan(unnumbered, report.run, { hasher: sha256 });
    expect(old?.matches).toBe(false);
    expect(old?.ops.map((o) => o.row)).toEqual(['unsafe-key', 'unsafe-key']);
  });

  it('notices a plan that no longer follows from its inputs', async () => {
    const w = world(journal);
    const a = w.client('audited');
    a.write('a.md', 'x');
    const { report } = await a.sync();
    const events = await journal.events();
    // Pretend the scan had seen different content: the replayed plan must differ.
    const forged = events.map((e) =>
      e.run === report.run && e.kind === 'scan.added'
        ? ({ ...e, payload: { ...e.payload, size: 99 } } as typeof e)
        : e,
    );
    expect(replayPlan(events, report.run, { hasher: sha256 })?.matches).toBe(true);
    expect(replayPlan(forged, report.run, { hasher: sha256 })?.matches).toBe(false);
  });
});
