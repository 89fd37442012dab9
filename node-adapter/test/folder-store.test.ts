import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { PathLike } from 'node:fs';
import * as fs from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { comparePaths, type ObjectStore } from '@syncjournal/core';
import { runStoreConformance } from '@syncjournal/core/testing';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FolderStore, type FolderStoreFs, folderStoreFromUrl } from '../src/folder-store.js';
import { FolderFlusher } from '../src/folder-store-io.js';

const CAPABILITIES = { conditionalWrites: true, versioning: false, snapshots: false };

// A bucket folder on a local disk gets blocking calls (direct-fs.ts); one on a network or
// FUSE filesystem, the threadpool's (`node:fs/promises`): the suite runs on both.
for (const [pageSize, calls] of [
  [undefined, 'direct'],
  [2, 'direct'],
  [undefined, 'threadpool'],
] as const) {
  runStoreConformance(`FolderStore (pageSize ${pageSize ?? 'default'}, ${calls} calls)`, {
    async create() {
      const dir = await fs.mkdtemp(join(tmpdir(), 'syncjournal-folder-'));
      return {
        store: await FolderStore.open({
          root: dir,
          ...(pageSize ? { pageSize } : {}),
          ...(calls === 'threadpool' ? { fs } : {}),
        }),
        // The bucket's write lock is released up to 25 ms after the last write
        // (lockLingerMs), so a removal racing it may find a folder refilled: retry.
        teardown: () => fs.rm(dir, { recursive: true, force: true, maxRetries: 5 }),
      };
    },
    capabilities: CAPABILITIES,
    canCopy: true,
  });
}

// The built package reads listings ahead on a worker thread (under vitest the sources are
// TypeScript, which a worker cannot load; `npm test` builds first): the same suite runs on it.
const built = (await import('../dist/folder-store.js' as string)) as {
  FolderStore: typeof FolderStore;
};
for (const pageSize of [undefined, 2]) {
  runStoreConformance(
    `FolderStore, built, listing on a worker (pageSize ${pageSize ?? 'default'})`,
    {
      async create() {
        const dir = await fs.mkdtemp(join(tmpdir(), 'syncjournal-folder-'));
        return {
          store: await built.FolderStore.open({ root: dir, ...(pageSize ? { pageSize } : {}) }),
          teardown: () => fs.rm(dir, { recursive: true, force: true, maxRetries: 5 }),
        };
      },
      capabilities: CAPABILITIES,
      canCopy: true,
    },
  );
}

const bytes = (text: string) => new TextEncoder().encode(text);
const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');

async function text(store: ObjectStore, key: string): Promise<string> {
  const { body } = await store.get(key);
  let out = '';
  for await (const chunk of body) out += Buffer.from(chunk).toString('utf8');
  return out;
}

function putText(store: ObjectStore, key: string, content: string, conditions = {}) {
  return store.put(key, bytes(content), { sha256: sha256(content), ...conditions });
}

async function listAll(store: ObjectStore) {
  const objects = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await store.list(cursor);
    objects.push(...page.objects);
    if (page.next === null) return objects;
    cursor = page.next;
  }
}

/**
 * Sets every folder under `dir` (and `dir`) to a minute ago, as a folder untouched for a
 * while. The store's own write lock may be released meanwhile (its folder removed once
 * the linger is over): a folder gone by the time it is reached is skipped.
 */
async function ageFolders(dir: string): Promise<void> {
  const past = new Date(Date.now() - 60_000);
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    await fs
      .utimes(join(e.parentPath, e.name), past, past)
      .catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
  }
  await fs.utimes(dir, past, past);
}

/** Every file under `dir`, relative, sorted. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => !e.isDirectory())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

describe('FolderStore', () => {
  let dir: string;
  let store: FolderStore;
  beforeEach(async () => {
    dir = await fs.mkdtemp(join(tmpdir(), 'syncjournal-folder-'));
    store = await FolderStore.open({ lockLingerMs: 0, root: dir });
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true, maxRetries: 5 });
  });
  const at = (key: string) => join(store.root, key);

  describe('layout', () => {
    it('keeps each object as a plain file at <root>/<key> and its record out of the way', async () => {
      const put = await putText(store, 'notes/a.md', 'hello');
      expect(await fs.readFile(at('notes/a.md'), 'utf8')).toBe('hello');
      const stats = await fs.stat(at('notes/a.md'));
      expect(put).toMatchObject({
        key: 'notes/a.md',
        size: 5,
        etag: `"s-5-${stats.mtimeMs}-${stats.ino}"`,
        sha256: sha256('hello'),
        versionId: null,
      });
      const files = await filesUnder(store.root);
      expect(files).toEqual([
        expect.stringMatching(/^\.syncjournal\/meta\/[0-9a-f]{2}\/[0-9a-f]{64}\.json$/),
        'notes/a.md',
      ]);
      const sidecar = JSON.parse(await fs.readFile(at(files[0] as string), 'utf8'));
      expect(sidecar).toEqual({
        key: 'notes/a.md',
        sha256: sha256('hello'),
        size: 5,
        mtimeMs: stats.mtimeMs,
        ino: stats.ino,
      });
    });

    it('gives each file the ETag of its stat, so a listing reads no record beside it', async () => {
      const first = await putText(store, 'a.md', 'same');
      const second = await putText(store, 'b.md', 'same');
      expect(second.etag).not.toBe(first.etag);
      // The listing is the files' stats alone: the same ETags, and no SHA-256 (as S3's).
      await fs.rm(join(store.root, '.syncjournal/meta'), { recursive: true });
      expect(await listAll(store)).toEqual([
        { ...first, sha256: null },
        { ...second, sha256: null },
      ]);
      // head reads the record; without it the hash is unknown, never guessed.
      expect(await store.head('a.md')).toEqual({ ...first, sha256: null });
      await putText(store, 'a.md', 'again', { ifMatch: first.etag });
      expect((await store.head('a.md'))?.sha256).toBe(sha256('again'));
    });

    it('still reads the SHA-256 of a record written with a content ETag (older versions)', async () => {
      const put = await putText(store, 'a.md', 'older');
      const [record] = (await filesUnder(store.root)).filter((f) => f.includes('/meta/'));
      const path = join(store.root, record as string);
      const older = { ...JSON.parse(await fs.readFile(path, 'utf8')), etag: '"0123abcd"' };
      await fs.writeFile(path, JSON.stringify(older));
      expect(await store.head('a.md')).toEqual(put);
      expect(put.etag).toMatch(/^"s-5-/);
    });

    it('opens a file: URL, through open and folderStoreFromUrl', async () => {
      const url = pathToFileURL(dir);
      await putText(store, 'a.md', 'one');
      for (const other of [
        await FolderStore.open({ root: url.href }),
        await FolderStore.open({ root: url }),
        await folderStoreFromUrl(url.href),
      ]) {
        expect(other.root).toBe(store.root);
        expect(await text(other, 'a.md')).toBe('one');
      }
      await expect(folderStoreFromUrl('s3://bucket/prefix')).rejects.toMatchObject({
        code: 'unsupported-url',
      });
    });

    it('refuses a missing bucket folder unless asked to create it, and a file', async () => {
      const missing = join(dir, 'not-mounted');
      await expect(FolderStore.open({ root: missing })).rejects.toMatchObject({
        code: 'bucket-missing',
        message: expect.stringMatching(/does not exist.*Nothing was read or written/),
      });
      await expect(fs.stat(missing)).rejects.toMatchObject({ code: 'ENOENT' });
      const created = await FolderStore.open({ root: missing, create: true });
      expect(await created.list()).toEqual({ objects: [], next: null });
      await fs.writeFile(join(dir, 'file'), 'x');
      await expect(FolderStore.open({ root: join(dir, 'file') })).rejects.toMatchObject({
        code: 'bucket-not-a-folder',
      });
    });
  });

  describe('files changed by hand', () => {
    it('an in-place edit makes the sidecar stale: sha256 null and a new ETag', async () => {
      const put = await putText(store, 'a.md', 'one');
      await fs.writeFile(at('a.md'), 'two');
      // Same size, same inode; only the mtime tells, so make sure it moved.
      await fs.utimes(at('a.md'), new Date(2020, 0, 1), new Date(2020, 0, 1));
      const head = await store.head('a.md');
      const stats = await fs.stat(at('a.md'));
      expect(head).toMatchObject({ size: 3, sha256: null });
      expect(head?.etag).toBe(`"s-3-${stats.mtimeMs}-${stats.ino}"`);
      expect(head?.etag).not.toBe(put.etag);
      expect(await listAll(store)).toEqual([head]);
      expect((await store.get('a.md')).object).toEqual(head);
      expect(await text(store, 'a.md')).toBe('two');
    });

    it('a replace by rename (new inode, same size and mtime) is caught too', async () => {
      const put = await putText(store, 'a.md', 'one');
      const before = await fs.stat(at('a.md'));
      await fs.writeFile(join(dir, 'new'), 'two');
      await fs.utimes(join(dir, 'new'), before.atime, before.mtime);
      await fs.rename(join(dir, 'new'), at('a.md'));
      const head = await store.head('a.md');
      expect(head).toMatchObject({ size: 3, sha256: null });
      expect(head?.etag).not.toBe(put.etag);
    });

    it('a file dropped in by hand is listed with sha256 null and can be replaced by its ETag', async () => {
      await fs.mkdir(at('dropped'));
      await fs.writeFile(at('dropped/in.md'), 'by hand');
      const [listed] = await listAll(store);
      expect(listed).toMatchObject({ key: 'dropped/in.md', size: 7, sha256: null });
      expect(listed?.etag).toMatch(/^"s-7-/);
      expect(await store.head('dropped/in.md')).toEqual(listed);
      expect(await text(store, 'dropped/in.md')).toBe('by hand');
      const put = await putText(store, 'dropped/in.md', 'synced', { ifMatch: listed?.etag });
      expect((await store.head('dropped/in.md'))?.sha256).toBe(sha256('synced'));
      expect(put.etag).toMatch(/^"s-6-/);
      expect(put.etag).toBe((await store.head('dropped/in.md'))?.etag);
    });

    it('a torn or foreign sidecar is ignored, never believed', async () => {
      await putText(store, 'a.md', 'one');
      const [record] = (await filesUnder(store.root)).filter((f) => f.startsWith('.syncjournal/'));
      await fs.writeFile(at(record as string), '{"key":"a.md","sha2');
      expect(await store.head('a.md')).toMatchObject({
        sha256: null,
        etag: expect.stringMatching(/^"s-/),
      });
    });
  });

  describe('checksums', () => {
    it('refuses a body whose SHA-256 is not the one given, writing nothing', async () => {
      await expect(
        store.put('a.md', bytes('one'), { sha256: sha256('other') }),
      ).rejects.toMatchObject({ code: 'checksum-mismatch', data: { actual: sha256('one') } });
      expect(await store.head('a.md')).toBeUndefined();
      expect(await filesUnder(store.root)).toEqual([]);
    });

    it('keeps the old object when the replacement fails its checksum', async () => {
      const put = await putText(store, 'a.md', 'one');
      const body = {
        size: 3,
        async *open() {
          yield bytes('tw');
          yield bytes('o');
        },
      };
      await expect(store.put('a.md', body, { sha256: sha256('one') })).rejects.toMatchObject({
        code: 'checksum-mismatch',
      });
      expect(await store.head('a.md')).toEqual(put);
      expect(await text(store, 'a.md')).toBe('one');
    });

    it('refuses a streamed body shorter than declared', async () => {
      const body = {
        size: 10,
        async *open() {
          yield bytes('short');
        },
      };
      await expect(store.put('a.md', body, { sha256: sha256('short') })).rejects.toMatchObject({
        code: 'incomplete-body',
      });
      expect(await filesUnder(store.root)).toEqual([]);
    });
  });

  describe('keys', () => {
    it('refuses keys that are not a path inside the bucket folder', async () => {
      for (const key of ['', '/a', '../a', 'a/../../b', 'a//b', 'a/./b', 'a/', 'a\\b', 'a\0b']) {
        await expect(putText(store, key, 'x'), key).rejects.toMatchObject({ code: 'unsafe-key' });
        await expect(store.head(key), key).rejects.toMatchObject({ code: 'unsafe-key' });
        await expect(store.get(key), key).rejects.toMatchObject({ code: 'unsafe-key' });
        await expect(store.delete(key), key).rejects.toMatchObject({ code: 'unsafe-key' });
      }
      expect(await fs.readdir(dir)).toEqual([]);
    });

    it('stores the engine keys under .syncjournal/ but never its own meta, locks and tmp', async () => {
      await putText(store, '.syncjournal/trash/1/a.md', 'one');
      await putText(store, 'a.md', 'two');
      for (const key of [
        '.syncjournal',
        '.syncjournal/meta',
        '.syncjournal/meta/x.json',
        '.syncjournal/locks/write',
        '.syncjournal/tmp/x',
      ]) {
        await expect(putText(store, key, 'x'), key).rejects.toMatchObject({ code: 'reserved-key' });
        await expect(store.delete(key), key).rejects.toMatchObject({ code: 'reserved-key' });
        await expect(store.copy('a.md', key), key).rejects.toMatchObject({ code: 'reserved-key' });
        expect(await store.head(key), key).toBeUndefined();
      }
      // Even files placed there by hand are the store's, not objects.
      await fs.mkdir(at('.syncjournal/locks'), { recursive: true });
      await fs.writeFile(at('.syncjournal/locks/stray'), 'x');
      await fs.writeFile(at('.syncjournal/tmp/stray'), 'x');
      await fs.writeFile(at('.syncjournal/meta/stray'), 'x');
      await expect(store.get('.syncjournal/tmp/stray')).rejects.toMatchObject({
        code: 'not-found',
      });
      expect((await listAll(store)).map((o) => o.key)).toEqual([
        '.syncjournal/trash/1/a.md',
        'a.md',
      ]);
      const paged = await FolderStore.open({ root: dir, pageSize: 1 });
      expect((await listAll(paged)).map((o) => o.key)).toEqual([
        '.syncjournal/trash/1/a.md',
        'a.md',
      ]);
    });

    it('refuses a key that is a folder of another key, changing nothing', async () => {
      await putText(store, 'a', 'one');
      await putText(store, 'd/e', 'two');
      await expect(putText(store, 'a/b', 'x')).rejects.toMatchObject({ code: 'key-conflict' });
      await expect(putText(store, 'd', 'x')).rejects.toMatchObject({ code: 'key-conflict' });
      await expect(store.copy('a', 'd')).rejects.toMatchObject({ code: 'key-conflict' });
      expect((await listAll(store)).map((o) => [o.key, o.size])).toEqual([
        ['a', 3],
        ['d/e', 3],
      ]);
      expect(await store.head('d')).toBeUndefined();
      expect(await store.delete('d')).toEqual({});
      expect(await text(store, 'd/e')).toBe('two');
      expect((await fs.readdir(at('.syncjournal/tmp'))).length).toBe(0);
    });

    it('never follows a symbolic link out of the bucket folder', async () => {
      const outside = await fs.mkdtemp(join(tmpdir(), 'syncjournal-outside-'));
      try {
        await fs.writeFile(join(outside, 'secret.md'), 'secret');
        await fs.symlink(outside, at('linked'));
        await fs.symlink(join(outside, 'secret.md'), at('file-link.md'));
        expect(await listAll(store)).toEqual([]);
        expect(await store.head('linked/secret.md')).toBeUndefined();
        expect(await store.head('file-link.md')).toBeUndefined();
        await expect(store.get('linked/secret.md')).rejects.toMatchObject({ code: 'not-found' });
        await expect(putText(store, 'linked/new.md', 'x')).rejects.toMatchObject({
          code: 'key-conflict',
        });
        await store.delete('linked/secret.md');
        expect(await fs.readdir(outside)).toEqual(['secret.md']);
      } finally {
        await fs.rm(outside, { recursive: true, force: true });
      }
    });
  });

  describe('delete', () => {
    it('removes the record and the folders it left empty, never the root', async () => {
      await putText(store, 'x/y/z.md', 'one');
      await putText(store, 'x/keep.md', 'two');
      await store.delete('x/y/z.md');
      expect(await fs.readdir(at('x'))).toEqual(['keep.md']);
      await store.delete('x/keep.md');
      expect(await fs.readdir(store.root)).toEqual(['.syncjournal']);
      expect((await filesUnder(store.root)).filter((f) => f.endsWith('.json'))).toEqual([]);
      await putText(store, 'top.md', 'one');
      await store.delete('top.md');
      expect((await fs.stat(store.root)).isDirectory()).toBe(true);
    });
  });

  describe('get', () => {
    it('streams 64 KiB Uint8Array chunks', async () => {
      const data = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 7) & 0xff);
      await store.put('big.bin', data, { sha256: sha256(data) });
      const { object, body } = await store.get('big.bin');
      expect(object).toMatchObject({ size: 200_000, sha256: sha256(data) });
      const chunks: Uint8Array[] = [];
      for await (const chunk of body) chunks.push(chunk);
      expect(chunks.map((c) => c.length)).toEqual([65_536, 65_536, 65_536, 3_392]);
      for (const chunk of chunks) expect(chunk).toBeInstanceOf(Uint8Array);
      expect(sha256(Buffer.concat(chunks))).toBe(sha256(data));
    });

    it('streams only the file it described: a replaced or deleted one fails the body', async () => {
      const drain = async (body: AsyncIterable<Uint8Array>) => {
        for await (const _ of body);
      };
      await putText(store, 'a.md', 'one');
      const stale = await store.get('a.md');
      await putText(store, 'a.md', 'two');
      await expect(drain(stale.body)).rejects.toMatchObject({ code: 'precondition-failed' });
      const gone = await store.get('a.md');
      await store.delete('a.md');
      await expect(drain(gone.body)).rejects.toMatchObject({ code: 'precondition-failed' });
    });

    it('has no versions or snapshots to read', async () => {
      await putText(store, 'a.md', 'one');
      await expect(store.get('a.md', { versionId: 'null' })).rejects.toMatchObject({
        code: 'not-found',
      });
      await expect(store.get('a.md', { snapshot: '1' })).rejects.toMatchObject({
        code: 'not-found',
      });
    });
  });

  describe('paged listings', () => {
    const segment = fc
      .array(fc.constantFrom('a', 'b', 'B', '-', '0', '\uff21', '\u{1f600}'), {
        minLength: 1,
        maxLength: 3,
      })
      .map((chars) => chars.join(''));
    const key = fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => s.join('/'));

    it('page any tree in comparePaths order, reusing settled folders between pages', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.uniqueArray(key, { maxLength: 25 }),
          fc.integer({ min: 1, max: 4 }),
          async (keys, pageSize) => {
            const root = await fs.mkdtemp(join(tmpdir(), 'syncjournal-folder-prop-'));
            try {
              const paged = await FolderStore.open({ lockLingerMs: 0, root, pageSize });
              const stored: string[] = [];
              for (const k of keys) {
                try {
                  await putText(paged, k, 'x');
                  stored.push(k);
                } catch (error) {
                  // `a` and `a/b` cannot both be in a folder.
                  expect(error).toMatchObject({ code: 'key-conflict' });
                }
              }
              await ageFolders(root);
              for (let pass = 0; pass < 2; pass++) {
                const listed = (await listAll(paged)).map((o) => o.key);
                expect(listed).toEqual([...stored].sort(comparePaths));
              }
            } finally {
              await fs.rm(root, { recursive: true, force: true });
            }
          },
        ),
        { numRuns: 40 },
      );
    });

    it('sees keys added and removed between pages of a settled folder', async () => {
      const paged = await FolderStore.open({ root: dir, pageSize: 2 });
      for (const k of ['a', 'b', 'c', 'd', 'e']) await putText(paged, k, 'x');
      await ageFolders(dir);
      const first = await paged.list();
      expect(first.objects.map((o) => o.key)).toEqual(['a', 'b']);
      await putText(paged, 'c0', 'x');
      await paged.delete('d');
      const second = await paged.list(first.next ?? undefined);
      expect(second.objects.map((o) => o.key)).toEqual(['c', 'c0']);
      expect(await paged.list(second.next ?? undefined)).toMatchObject({
        objects: [expect.objectContaining({ key: 'e' })],
        next: null,
      });
    });
  });

  // Pages 1-16 are listed at once on the calling thread, the rest (of 120 objects in pages
  // of 2) on the worker.
  describe('listings read ahead on a worker thread (the built package)', () => {
    const keys = (objects: { key: string }[]) => objects.map((o) => o.key);
    const fill = async () => {
      const all: string[] = [];
      for (let i = 0; i < 40; i++)
        all.push(`${i % 4}/n${i}.md`, `top${i}.md`, `${i % 3}/d/${i}.md`);
      for (const k of all) await putText(store, k, k);
      await ageFolders(dir);
      return [...all].sort(comparePaths);
    };

    /** The same bucket listed ahead on a worker and listed here, two keys a page. */
    const aheadAndHere = async () => {
      const options = { lockLingerMs: 0, root: dir, pageSize: 2 };
      return [
        await built.FolderStore.open(options),
        await built.FolderStore.open({ ...options, listInWorker: false }),
      ] as const;
    };

    it('gives the pages a listing here gives, whatever order they are asked in', async () => {
      const all = await fill();
      const [ahead, here] = await aheadAndHere();
      const ahead1 = await ahead.list();
      const here1 = await here.list();
      expect(ahead1).toEqual(here1);
      expect(keys(await listAll(ahead))).toEqual(all);
      expect(await listAll(ahead)).toEqual(await listAll(here));
      // A cursor the worker is not at (skipping pages, going back, or from another
      // listing) is listed here, with the same answer.
      for (const cursor of [all[30], all[3], 'top1', '2/d/']) {
        expect(await ahead.list(cursor)).toEqual(await here.list(cursor));
      }
      // A listing started again mid-way starts over.
      await ahead.list();
      expect(keys(await listAll(ahead))).toEqual(all);
    });

    it('reads ahead from the first call: a key added later in a listing already read is not in it', async () => {
      await fill();
      const [ahead, here] = await aheadAndHere();
      const first = [await ahead.list(), await here.list()];
      await new Promise((resolve) => setTimeout(resolve, 2000));
      await putText(store, 'zz-later.md', 'later');
      const rest = async (store: FolderStore, page: { next: string | null }) => {
        const out: string[] = [];
        for (let cursor = page.next; cursor !== null; ) {
          const next = await store.list(cursor);
          out.push(...keys(next.objects));
          cursor = next.next;
        }
        return out;
      };
      expect(await rest(ahead, first[0]!)).not.toContain('zz-later.md');
      expect(await rest(here, first[1]!)).toContain('zz-later.md');
    });

    it('lists here what the worker cannot: a worker that failed gives no page', async () => {
      const list = (await import('../dist/folder-store-list.js' as string)) as {
        ListAhead: new (
          root: string,
          pageSize: number,
          cursor: string,
        ) => { take(cursor: string | undefined): Promise<unknown>; close(): void };
      };
      const gone = new list.ListAhead(join(dir, 'no-such-folder'), 7, 'a');
      expect(await gone.take('a')).toBeUndefined();
      expect(await gone.take('a')).toBeUndefined();
      // Nor does it give a page for any cursor but the one after the last it gave.
      await fill();
      const ahead = new list.ListAhead(dir, 7, '0/');
      expect(await ahead.take('1/')).toBeUndefined();
      ahead.close();
      // The bucket gone mid-way: whatever the worker had listed by then, the listing
      // either ends complete or throws; it never ends early as if it were complete.
      const all = [...keys((await listAll(store)) as { key: string }[])];
      const store2 = await built.FolderStore.open({ lockLingerMs: 0, root: dir, pageSize: 2 });
      const first = await store2.list();
      await fs.rm(dir, { recursive: true });
      const seen = keys(first.objects);
      try {
        for (let cursor = first.next; cursor !== null; ) {
          const page = await store2.list(cursor);
          seen.push(...keys(page.objects));
          cursor = page.next;
        }
        expect(seen).toEqual(all);
      } catch (error) {
        expect(error).toMatchObject({ code: 'bucket-unreadable' });
      }
    });
  });

  describe('a listing that cannot read a folder throws, never skips it', () => {
    /** The real filesystem, except that reading `failing` fails as a permission error does. */
    function unreadable(failing: string): FolderStoreFs {
      const readdir = (async (path: PathLike, options?: unknown) => {
        if (String(path) === failing) {
          throw Object.assign(new Error(`EACCES: permission denied, scandir '${failing}'`), {
            code: 'EACCES',
          });
        }
        return (fs.readdir as (p: PathLike, o?: unknown) => Promise<unknown>)(path, options);
      }) as typeof fs.readdir;
      return { ...fs, readdir };
    }

    it('on the first page', async () => {
      await putText(store, 'a/one.md', 'one');
      await putText(store, 'b/two.md', 'two');
      const broken = await FolderStore.open({ root: dir, fs: unreadable(at('b')) });
      await expect(broken.list()).rejects.toMatchObject({
        code: 'bucket-unreadable',
        data: { path: at('b'), errno: 'EACCES' },
        message: expect.stringMatching(/listing is incomplete/),
      });
    });

    it('on a later page, after earlier pages came back', async () => {
      await putText(store, 'a/one.md', 'one');
      await putText(store, 'a/two.md', 'two');
      await putText(store, 'b/two.md', 'two');
      await putText(store, 'c.md', 'three');
      const broken = await FolderStore.open({ root: dir, pageSize: 1, fs: unreadable(at('b')) });
      const first = await broken.list();
      expect(first.objects.map((o) => o.key)).toEqual(['a/one.md']);
      expect(first.next).toBe('a/one.md');
      await expect(broken.list(first.next ?? undefined)).rejects.toMatchObject({
        code: 'bucket-unreadable',
      });
      // A cursor past the broken folder skips it without reading it.
      expect((await broken.list('b0')).objects.map((o) => o.key)).toEqual(['c.md']);
    });

    it('when the bucket folder itself is gone (an unmounted drive)', async () => {
      await putText(store, 'a.md', 'one');
      await fs.rm(dir, { recursive: true });
      await expect(store.list()).rejects.toMatchObject({
        code: 'bucket-unreadable',
        data: { errno: 'ENOENT' },
      });
    });
  });

  describe('the write lock', () => {
    const lockDir = () => at('.syncjournal/locks/write');
    async function plantLock(owner: object) {
      await fs.mkdir(lockDir(), { recursive: true });
      await fs.writeFile(join(lockDir(), 'owner.json'), JSON.stringify(owner));
    }

    /**
     * The lock folder's entries once this process no longer keeps its lock for a next
     * writer and has finished releasing it: a release moves `write` aside as
     * `released-…` and then deletes that, so both must be gone (within 2 s).
     */
    async function locksOnceReleased(): Promise<string[]> {
      for (let waited = 0; waited < 2_000; waited += 10) {
        const entries = await fs.readdir(at('.syncjournal/locks'));
        if (!entries.some((e) => e === 'write' || e.startsWith('released-'))) return entries;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return fs.readdir(at('.syncjournal/locks'));
    }

    it('is released once no more writes come, and leaves nothing behind', async () => {
      const lingering = await FolderStore.open({ root: dir }); // the default linger
      await putText(lingering, 'a.md', 'one');
      await expect(putText(lingering, 'a.md', 'two', { ifNoneMatch: '*' })).rejects.toMatchObject({
        code: 'precondition-failed',
      });
      await lingering.delete('a.md');
      expect(await locksOnceReleased()).toEqual([]);
      expect(await fs.readdir(at('.syncjournal/tmp'))).toEqual([]);
    });

    it('is released after each write with lockLingerMs 0', async () => {
      await putText(store, 'a.md', 'one');
      expect(await fs.readdir(at('.syncjournal/locks'))).toEqual([]);
    });

    it('is kept for the next write of this process instead of being taken again', async () => {
      let taken = 0;
      const counting: FolderStoreFs = {
        ...fs,
        rename: async (from: string, to: string) => {
          await fs.rename(from, to);
          if (to.endsWith(join('locks', 'write'))) taken += 1;
        },
      };
      const counted = await FolderStore.open({ root: dir, fs: counting });
      for (let i = 0; i < 20; i++) await putText(counted, `n${i}.md`, `note ${i}`);
      expect(taken).toBeGreaterThanOrEqual(1);
      expect(taken).toBeLessThan(20); // one take per write without the handoff
      expect(await locksOnceReleased()).toEqual([]);
    });

    it('is released by a process that exits right after its write', async () => {
      await child(`
        const store = await FolderStore.open({ root: ${JSON.stringify(dir)} });
        const body = new TextEncoder().encode('one');
        await store.put('a.md', body, { sha256: createHash('sha256').update(body).digest('hex') });
        process.exit(0);
      `);
      expect(await fs.readdir(at('.syncjournal/locks'))).toEqual([]);
      expect(await text(store, 'a.md')).toBe('one');
    });

    it('serialises concurrent writers in one process', async () => {
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) => putText(store, 'a.md', `v${i}`, { ifNoneMatch: '*' })),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results) {
        if (r.status === 'rejected')
          expect(r.reason).toMatchObject({ code: 'precondition-failed' });
      }
    });

    it('takes over a lock left by a dead process', async () => {
      const child = spawn(process.execPath, ['-e', '']);
      const pid = child.pid;
      await new Promise((resolve) => child.on('exit', resolve));
      await plantLock({ pid, host: hostname(), since: new Date().toISOString(), token: 'dead' });
      const store2 = await FolderStore.open({ lockLingerMs: 0, root: dir, lockTimeoutMs: 2_000 });
      await putText(store2, 'a.md', 'one');
      expect(await text(store2, 'a.md')).toBe('one');
      expect(await fs.readdir(at('.syncjournal/locks'))).toEqual([]);
    });

    it('waits for a live holder, then refuses clearly and writes nothing', async () => {
      await plantLock({ pid: 1, host: 'another-host', since: '2026-01-01T00:00:00Z', token: 't' });
      const impatient = await FolderStore.open({ root: dir, lockTimeoutMs: 200 });
      await expect(putText(impatient, 'a.md', 'one')).rejects.toMatchObject({
        code: 'bucket-locked',
        message: expect.stringMatching(/pid 1 on another-host.*Nothing was written/),
      });
      expect(await impatient.head('a.md')).toBeUndefined();
      expect(await fs.readdir(at('.syncjournal/tmp'))).toEqual([]);
      await fs.rm(lockDir(), { recursive: true });
      await putText(impatient, 'a.md', 'one');
    });
  });
});

// Child processes run the built module (dist/), which the test setup builds first.
const distEntry = new URL('../dist/folder-store.js', import.meta.url).href;

/** Runs `script` in another Node process with `FolderStore` in scope; resolves with its stdout. */
function child(script: string): Promise<string> {
  const code = `import { FolderStore } from ${JSON.stringify(distEntry)};\nimport { createHash } from 'node:crypto';\n${script}`;
  const proc = spawn(process.execPath, ['--input-type=module', '-e', code], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  proc.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  return new Promise((resolve, reject) => {
    proc.on('exit', (exitCode) => {
      if (exitCode === 0 && stderr === '') resolve(stdout);
      else reject(new Error(`child exited with ${exitCode}:\n${stderr}`));
    });
  });
}

describe('FolderStore shared by two processes', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(join(tmpdir(), 'syncjournal-folder-race-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true, maxRetries: 5 });
  });

  it('lets exactly one ifNoneMatch put win per key, and tears no record', async () => {
    const keys = 100;
    const startAt = Date.now() + 1_500;
    const racer = (name: string) =>
      child(`
        const store = await FolderStore.open({ root: ${JSON.stringify(dir)} });
        const outcomes = {};
        while (Date.now() < ${startAt}) await new Promise((r) => setTimeout(r, 1));
        for (let i = 0; i < ${keys}; i++) {
          const content = new TextEncoder().encode(${JSON.stringify(name)} + '-' + i + '-'.repeat(i * 97));
          const sha256 = createHash('sha256').update(content).digest('hex');
          try {
            await store.put('race/k' + i, content, { sha256, ifNoneMatch: '*' });
            outcomes[i] = 'won';
          } catch (error) {
            outcomes[i] = error.code;
          }
        }
        console.log(JSON.stringify(outcomes));`);
    const [a, b] = (await Promise.all([racer('a'), racer('b')])).map(
      (out) => JSON.parse(out) as Record<string, string>,
    );
    const store = await FolderStore.open({ root: dir });
    const listed = new Map((await listAll(store)).map((o) => [o.key, o]));
    expect(listed.size).toBe(keys);
    for (let i = 0; i < keys; i++) {
      const outcomes = [a?.[i], b?.[i]].sort();
      expect(outcomes, `key ${i}`).toEqual(['precondition-failed', 'won']);
      const winner = a?.[i] === 'won' ? 'a' : 'b';
      const content = `${winner}-${i}${'-'.repeat(i * 97)}`;
      expect(await text(store, `race/k${i}`)).toBe(content);
      // The record is whole and belongs to the bytes that won.
      expect(await store.head(`race/k${i}`)).toEqual({
        ...listed.get(`race/k${i}`),
        sha256: sha256(content),
        size: content.length,
      });
    }
    const records = (await filesUnder(store.root)).filter((f) =>
      f.startsWith('.syncjournal/meta/'),
    );
    expect(records).toHaveLength(keys);
    for (const record of records) {
      const parsed = JSON.parse(await fs.readFile(join(store.root, record), 'utf8'));
      const stats = await fs.stat(join(store.root, parsed.key));
      expect({ ino: parsed.ino, size: parsed.size }).toEqual({ ino: stats.ino, size: stats.size });
    }
    expect(await fs.readdir(join(store.root, '.syncjournal/locks'))).toEqual([]);
    expect(await fs.readdir(join(store.root, '.syncjournal/tmp'))).toEqual([]);
  });
});

describe('FolderFlusher: writers landing objects in one folder share its flushes', () => {
  /** A file system whose folder flushes wait until the test settles them, in order. */
  function flushes() {
    const pending: { dir: string; settle: (error?: Error) => void }[] = [];
    const fs = {
      async open(dir: string) {
        return {
          sync: () =>
            new Promise<void>((resolve, reject) => {
              pending.push({ dir, settle: (error) => (error ? reject(error) : resolve()) });
            }),
          close: async () => {},
        };
      },
    } as unknown as FolderStoreFs;
    return { flusher: new FolderFlusher(fs), pending };
  }
  const settled = () => new Promise((resolve) => setImmediate(resolve));
  const state = (p: Promise<unknown>) =>
    Promise.race([
      p.then(
        () => 'done',
        () => 'failed',
      ),
      settled().then(() => 'waiting'),
    ]);

  it('starts at once when none runs; those asking meanwhile share one flush started after it', async () => {
    const { flusher, pending } = flushes();
    const first = flusher.flush('/b/a');
    await settled();
    expect(pending.map((p) => p.dir)).toEqual(['/b/a']);
    // Asked while the first runs (it may have begun before their renames): they wait.
    const second = flusher.flush('/b/a');
    const third = flusher.flush('/b/a');
    expect(third).toBe(second);
    // Another folder does not wait for this one.
    const other = flusher.flush('/b/c');
    await settled();
    expect(pending.map((p) => p.dir)).toEqual(['/b/a', '/b/c']);
    pending[0]!.settle();
    expect(await state(first)).toBe('done');
    // The first's end starts the one they share; they are done only when it is.
    await settled();
    expect(pending.map((p) => p.dir)).toEqual(['/b/a', '/b/c', '/b/a']);
    expect(await state(second)).toBe('waiting');
    // A writer asking now waits for a flush after the one just started.
    const fourth = flusher.flush('/b/a');
    expect(fourth).not.toBe(second);
    pending[2]!.settle();
    expect(await state(second)).toBe('done');
    expect(await state(third)).toBe('done');
    expect(await state(fourth)).toBe('waiting');
    await settled();
    expect(pending.map((p) => p.dir)).toEqual(['/b/a', '/b/c', '/b/a', '/b/a']);
    pending[3]!.settle();
    pending[1]!.settle();
    expect(await state(fourth)).toBe('done');
    expect(await state(other)).toBe('done');
  });

  it('fails the writers of a flush that failed, and still runs the next one', async () => {
    const { flusher, pending } = flushes();
    const first = flusher.flush('/b/a');
    await settled();
    const second = flusher.flush('/b/a');
    pending[0]!.settle(Object.assign(new Error('EIO'), { code: 'EIO' }));
    await expect(first).rejects.toMatchObject({ code: 'EIO' });
    await settled();
    expect(pending).toHaveLength(2);
    pending[1]!.settle();
    await expect(second).resolves.toBeUndefined();
    // Nothing runs now: the next writer starts a flush at once.
    flusher.flush('/b/a');
    await settled();
    expect(pending).toHaveLength(3);
  });
});
