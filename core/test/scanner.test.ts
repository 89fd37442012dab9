import { describe, expect, it } from 'vitest';
import {
  diffManifest,
  type ListingRow,
  listStore,
  type ManifestRow,
  ManualClock,
  MemoryStore,
  MemoryTree,
  type ScannedFile,
  scanTree,
} from '../src/index.js';
import { hashText } from './engine-harness.js';
import { sha256 } from './node-sha256.js';

const asRows = (files: ScannedFile[]): ManifestRow[] =>
  files.map((f) => ({
    ...f,
    pairId: 'p',
    run: 1,
    racy: f.racy ?? false,
    ino: f.ino ?? null,
    ctimeMs: f.ctimeMs ?? null,
  }));

function setup(granularity = 1) {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const tree = new MemoryTree({ clock, timestampGranularityMs: granularity });
  const scan = (previous: ManifestRow[] = []) =>
    scanTree({ tree, hasher: sha256, clock, previous });
  return { clock, tree, scan };
}

describe('the scanner', () => {
  it('hashes every file the first time, in path order, with streaming SHA-256', async () => {
    const { clock, tree, scan } = setup();
    tree.writeText('b/c.md', 'c');
    tree.writeText('a.md', 'a');
    tree.writeText('b-c.md', 'bc');
    clock.advance(5000);
    const result = await scan();
    expect(result.files.map((f) => [f.path, f.hash])).toEqual([
      ['a.md', hashText('a')],
      ['b-c.md', hashText('bc')],
      ['b/c.md', hashText('c')],
    ]);
    expect(result).toMatchObject({ complete: true, hashed: 3 });
    expect(result.deltas.map((d) => [d.kind, d.path])).toEqual([
      ['scan.added', 'a.md'],
      ['scan.added', 'b-c.md'],
      ['scan.added', 'b/c.md'],
    ]);
  });

  it('reuses the manifest for files whose size, mtime, inode and ctime are unchanged', async () => {
    const { clock, tree, scan } = setup();
    tree.writeText('a.md', 'a');
    tree.writeText('b.md', 'b');
    clock.advance(5000);
    const first = await scan();
    clock.advance(5000);
    tree.writeText('b.md', 'B');
    clock.advance(5000);
    const second = await scan(asRows(first.files));
    expect(second.hashed).toBe(1);
    expect(second.deltas.map((d) => [d.kind, d.path])).toEqual([['scan.changed', 'b.md']]);
    const third = await scan(asRows(second.files));
    expect(third).toMatchObject({ hashed: 0, deltas: [] });
    expect(third.digest).toBe(second.digest);
  });

  it('catches an edit that keeps size and mtime, by its ctime', async () => {
    const { clock, tree, scan } = setup();
    const stat = tree.writeText('a.md', 'aaaa');
    clock.advance(5000);
    const first = await scan();
    clock.advance(5000);
    tree.writeText('a.md', 'bbbb', { mtimeMs: stat.mtimeMs });
    const second = await scan(asRows(first.files));
    expect(second.files[0]?.hash).toBe(hashText('bbbb'));
  });

  it('marks a file modified within the timestamp granularity racy, and re-hashes it next time', async () => {
    const { clock, tree, scan } = setup(2000);
    tree.writeText('a.md', 'aaaa');
    clock.advance(500);
    const first = await scan();
    expect(first.files[0]?.racy).toBe(true);
    // Edited again in the same tick: size and mtime do not move.
    tree.writeText('a.md', 'bbbb', { mtimeMs: first.files[0]!.mtimeMs });
    const rows = asRows(first.files).map((r) => ({ ...r, ctimeMs: null }));
    const second = await scan(rows);
    expect(second.hashed).toBe(1);
    expect(second.files[0]?.hash).toBe(hashText('bbbb'));
    clock.advance(10_000);
    const third = await scan(asRows(second.files));
    expect(third.files[0]?.racy).toBe(false);
  });

  it('counts a racy ctime: an old mtime put back in the tick of the scan is re-hashed next time', async () => {
    const { clock, tree, scan } = setup();
    const stat = tree.writeText('a.md', 'aaaa');
    clock.advance(5000);
    // The mtime is old, the ctime is now: the scan happens in the ctime's tick.
    tree.writeText('a.md', 'bbbb', { mtimeMs: stat.mtimeMs });
    const first = await scan();
    expect(first.files[0]?.racy).toBe(true);
    // Same tick again: size, mtime, inode and ctime all stay as the scan saw them.
    tree.writeText('a.md', 'cccc', { mtimeMs: stat.mtimeMs });
    const second = await scan(asRows(first.files));
    expect(second.files[0]?.hash).toBe(hashText('cccc'));
  });

  it('makes a scan with an unreadable folder incomplete, keeping what it knew there', async () => {
    const { clock, tree, scan } = setup();
    tree.writeText('private/x.md', 'x');
    tree.writeText('public.md', 'p');
    clock.advance(5000);
    const first = await scan();
    tree.failDirectory('private');
    const second = await scan(asRows(first.files));
    expect(second.complete).toBe(false);
    expect(second.unreadable).toEqual(['private']);
    expect(second.files.map((f) => f.path)).toEqual(['private/x.md', 'public.md']);
    expect(second.deltas).toEqual([]);
    expect(second.errors).toMatchObject([{ path: 'private', code: 'EACCES' }]);
  });

  it('skips symbolic links and reports them', async () => {
    const { tree, scan } = setup();
    tree.writeText('a.md', 'a');
    tree.addSymlink('link');
    const result = await scan();
    expect(result.files.map((f) => f.path)).toEqual(['a.md']);
    expect(result.skipped).toEqual([{ path: 'link', reason: 'symlink' }]);
  });

  it('reports removed files as deltas', () => {
    const prev = asRows([{ path: 'a', kind: 'file', size: 1, mtimeMs: 1, hash: 'h' }]);
    expect(diffManifest(prev, [])).toEqual([{ kind: 'scan.removed', path: 'a', payload: {} }]);
  });
});

describe('the lister', () => {
  const listed = (
    objects: { path: string; etag: string | null; size: number; sha256?: string | null }[],
  ): ListingRow[] =>
    objects.map((o) => ({
      pairId: 'p',
      run: 1,
      versionId: null,
      lastModified: null,
      sha256: null,
      ...o,
    }));

  it('pages through the whole store and says the listing is complete', async () => {
    const store = new MemoryStore({ pageSize: 2 });
    for (const k of ['a', 'b', 'c', 'd', 'e']) store.putText(k, k);
    const result = await listStore({ store, hasher: sha256, previous: [] });
    expect(result).toMatchObject({ complete: true, pages: 3 });
    expect(result.objects.map((o) => o.path)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(result.listedThrough).toBeUndefined();
  });

  it('never reads a failed page as empty: incomplete, no removals past the last key seen', async () => {
    const store = new MemoryStore({ pageSize: 2 });
    for (const k of ['a', 'b', 'c', 'd']) store.putText(k, k);
    const previous = listed(
      ['a', 'b', 'c', 'd', 'x'].map((k) => ({
        path: k,
        etag: store.objects().has(k) ? null : '"x"',
        size: 1,
      })),
    );
    store.failListPage(1);
    const result = await listStore({ store, hasher: sha256, previous });
    expect(result).toMatchObject({ complete: false, listedThrough: 'b', pages: 1 });
    expect(result.deltas.filter((d) => d.kind === 'listing.removed')).toEqual([]);
    expect(result.errors[0]?.message).toMatch(/page 2 failed/);
  });

  it('asks for every page, each as the one before arrives, before the previous listing has arrived', async () => {
    const store = new MemoryStore({ pageSize: 2 });
    for (const k of ['a', 'b', 'c', 'd', 'e']) store.putText(k, k);
    const asked: (string | undefined)[] = [];
    const list = store.list.bind(store);
    store.list = (cursor, options) => {
      asked.push(cursor);
      return list(cursor, options);
    };
    let arrive!: (rows: ListingRow[]) => void;
    const pending = listStore({
      store,
      hasher: sha256,
      previous: new Promise<ListingRow[]>((resolve) => (arrive = resolve)),
    });
    expect(asked).toEqual([undefined]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(asked).toEqual([undefined, 'b', 'd']);
    arrive(listed([{ path: 'gone', etag: '"x"', size: 1 }]));
    const result = await pending;
    expect(asked).toEqual([undefined, 'b', 'd']);
    expect(result).toMatchObject({ complete: true, pages: 3 });
    expect(result.objects.map((o) => o.path)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(result.deltas).toContainEqual(
      expect.objectContaining({ kind: 'listing.removed', path: 'gone' }),
    );
  });

  it('asks for no more pages once the previous listing cannot be read, and fails with its error', async () => {
    const store = new MemoryStore({ pageSize: 1 });
    for (const k of ['a', 'b', 'c', 'd']) store.putText(k, k);
    const asked: (string | undefined)[] = [];
    const answers: Array<() => void> = [];
    const list = store.list.bind(store);
    store.list = (cursor, options) => {
      asked.push(cursor);
      return new Promise<void>((resolve) => answers.push(resolve)).then(() =>
        list(cursor, options),
      );
    };
    let fail!: (error: Error) => void;
    const pending = listStore({
      store,
      hasher: sha256,
      previous: new Promise<ListingRow[]>((_, reject) => (fail = reject)),
    });
    answers.shift()!();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(asked).toEqual([undefined, 'a']);
    const gone = new Error('the journal could not be read');
    fail(gone);
    await expect(pending).rejects.toBe(gone);
    answers.shift()!();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(asked).toEqual([undefined, 'a']);
  });

  it('reports a first page that failed before the previous listing arrived', async () => {
    const store = new MemoryStore();
    store.putText('a', 'a');
    store.failListPage(0);
    let arrive!: (rows: ListingRow[]) => void;
    const pending = listStore({
      store,
      hasher: sha256,
      previous: new Promise<ListingRow[]>((resolve) => (arrive = resolve)),
    });
    // The failure lands while nobody awaits the page: it must not go unhandled.
    await new Promise((resolve) => setTimeout(resolve, 20));
    arrive(listed([{ path: 'a', etag: '"x"', size: 1 }]));
    const result = await pending;
    expect(result).toMatchObject({ complete: false, listedThrough: null, pages: 0 });
    expect(result.deltas).toEqual([]);
    expect(result.errors[0]?.message).toMatch(/page 1 failed/);
  });

  it('takes an object this client wrote, learning only its time, as unchanged (and keeps its version)', async () => {
    const store = new MemoryStore();
    for (const k of ['mine', 'theirs', 'edited']) store.putText(k, k);
    const now = await listStore({ store, hasher: sha256, previous: [] });
    const row = (path: string) => now.objects.find((o) => o.path === path)!;
    // What an upload records: no time (an S3 PUT's answer has none), the version id the
    // PUT returned (S3 listings name none). In path order.
    const previous: ListingRow[] = [
      { ...row('edited'), pairId: 'p', run: 1, lastModified: null, etag: '"before"' },
      { ...row('mine'), pairId: 'p', run: 1, lastModified: null, versionId: 'v1' },
      { ...row('theirs'), pairId: 'p', run: 1, lastModified: '2020-01-01T00:00:00.000Z' },
    ];
    const result = await listStore({ store, hasher: sha256, previous });
    expect(result.deltas.map((d) => [d.kind, d.path, d.payload.lastModified])).toEqual([
      ['listing.changed', 'edited', row('edited').lastModified],
      ['listing.changed', 'theirs', row('theirs').lastModified],
    ]);
    expect(row('mine').lastModified).not.toBeNull();
    expect(result.objects.find((o) => o.path === 'mine')?.versionId).toBe('v1');
    expect(result.objects.find((o) => o.path === 'edited')?.versionId).toBeNull();
  });

  it('leaves out syncjournal’s reserved keys', async () => {
    const store = new MemoryStore();
    store.putText('.syncjournal/trash/1/a.md', 'old');
    store.putText('a.md', 'new');
    const result = await listStore({ store, hasher: sha256, previous: [] });
    expect(result.objects.map((o) => o.path)).toEqual(['a.md']);
  });

  it('carries a known SHA-256 over while the ETag is unchanged', async () => {
    const store = new MemoryStore();
    const object = store.putText('a.md', 'a');
    const result = await listStore({
      store,
      hasher: sha256,
      previous: listed([{ path: 'a.md', etag: object.etag, size: object.size, sha256: 'known' }]),
    });
    expect(result.objects[0]?.sha256).toBe('known');
  });
});
