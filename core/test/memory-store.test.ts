import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ManualClock,
  MemoryStore,
  type MemoryStoreOptions,
  type ObjectStore,
} from '../src/index.js';
import { fnv1a64Hex } from '../src/memory/etag.js';
import { runStoreConformance } from '../src/testing/index.js';
import { sha256 } from './node-sha256.js';

const bytes = (text: string) => new TextEncoder().encode(text);
const SHA = 'a'.repeat(64);

async function text(
  store: ObjectStore,
  key: string,
  options?: { versionId?: string; snapshot?: string },
) {
  const { body } = await store.get(key, options);
  let out = '';
  for await (const chunk of body) out += new TextDecoder().decode(chunk);
  return out;
}

async function listKeys(store: MemoryStore, options?: { snapshot?: string }) {
  const pages: string[][] = [];
  let cursor: string | undefined;
  do {
    const page = await store.list(cursor, options);
    pages.push(page.objects.map((o) => o.key));
    cursor = page.next ?? undefined;
  } while (cursor !== undefined);
  return pages;
}

for (const conditionalWrites of [true, false]) {
  for (const versioning of [false, true]) {
    for (const snapshots of [false, true]) {
      for (const pageSize of [1000, 2]) {
        const options: MemoryStoreOptions = { conditionalWrites, versioning, snapshots, pageSize };
        runStoreConformance(`MemoryStore ${JSON.stringify(options)}`, {
          create: () => ({ store: new MemoryStore(options) }),
          capabilities: { conditionalWrites, versioning, snapshots },
          canCopy: true,
        });
      }
    }
  }
}

describe('MemoryStore', () => {
  describe('ETags', () => {
    it('are a quoted 64-bit FNV-1a of the content', async () => {
      expect(fnv1a64Hex(new Uint8Array())).toBe('cbf29ce484222325');
      expect(fnv1a64Hex(bytes('a'))).toBe('af63dc4c8601ec8c');
      expect(fnv1a64Hex(bytes('foobar'))).toBe('85944171f73967e8');
      const store = new MemoryStore();
      expect((await store.put('k', bytes('foobar'), { sha256: SHA })).etag).toBe(
        '"85944171f73967e8"',
      );
    });

    it('match a BigInt reference on any bytes', () => {
      const reference = (data: Uint8Array) => {
        let h = 0xcbf29ce484222325n;
        for (const b of data) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
        return h.toString(16).padStart(16, '0');
      };
      fc.assert(
        fc.property(
          fc.uint8Array({ maxLength: 300 }),
          (data) => fnv1a64Hex(data) === reference(data),
        ),
      );
    });

    it('stay the same when identical content is rewritten, as S3 MD5 ETags do', async () => {
      const store = new MemoryStore();
      const first = await store.put('k', bytes('same'), { sha256: SHA });
      const second = await store.put('k', bytes('same'), { sha256: SHA });
      expect(second.etag).toBe(first.etag);
    });
  });

  it('numbers versions globally, and reports null without versioning', async () => {
    const versioned = new MemoryStore({ versioning: true });
    expect((await versioned.put('a', bytes('1'), { sha256: SHA })).versionId).toBe('v1');
    expect((await versioned.put('b', bytes('2'), { sha256: SHA })).versionId).toBe('v2');
    expect(await versioned.delete('a')).toEqual({ versionId: 'v3' });
    const plain = new MemoryStore();
    expect((await plain.put('a', bytes('1'), { sha256: SHA })).versionId).toBeNull();
    expect(await plain.delete('a')).toEqual({});
  });

  it('stamps lastModified from its clock and returns the sha256 in listings', async () => {
    const clock = new ManualClock(Date.UTC(2026, 2, 3));
    const store = new MemoryStore({ clock });
    await store.put('a', bytes('1'), { sha256: SHA });
    const { objects } = await store.list();
    expect(objects).toEqual([
      expect.objectContaining({ key: 'a', lastModified: '2026-03-03T00:00:00.000Z', sha256: SHA }),
    ]);
  });

  it('pages listings in key order; the cursor is the last key of the page', async () => {
    const store = new MemoryStore({ pageSize: 2 });
    for (const key of ['e', 'c', 'a', 'd', 'b']) store.putText(key, key);
    expect(await store.list()).toMatchObject({ next: 'b' });
    expect(await store.list('b')).toMatchObject({ next: 'd' });
    expect(await store.list('d')).toMatchObject({ next: null });
    expect(await listKeys(store)).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    store.remove('e');
    expect(await listKeys(store)).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
  });

  it('ignores conditions when conditional writes are off', async () => {
    const store = new MemoryStore({ conditionalWrites: false });
    await store.put('a', bytes('1'), { sha256: SHA });
    await store.put('a', bytes('2'), { sha256: SHA, ifNoneMatch: '*' });
    await store.put('a', bytes('3'), { sha256: SHA, ifMatch: '"stale"' });
    await store.delete('a', { ifMatch: '"stale"' });
    expect(await store.head('a')).toBeUndefined();
  });

  it('accepts an ETag with or without quotes in ifMatch', async () => {
    const store = new MemoryStore();
    const { etag } = await store.put('a', bytes('1'), { sha256: SHA });
    await store.put('a', bytes('2'), { sha256: SHA, ifMatch: etag.replaceAll('"', '') });
    expect(store.readText('a')).toBe('2');
  });

  it('refuses what it was built without', async () => {
    const store = new MemoryStore();
    store.putText('a', 'x');
    await expect(store.snapshot()).rejects.toMatchObject({ code: 'not-supported' });
    await expect(store.listVersions('a')).rejects.toMatchObject({ code: 'not-supported' });
    await expect(store.get('a', { versionId: 'v1' })).rejects.toMatchObject({ code: 'not-found' });
    await expect(store.get('a', { snapshot: '1' })).rejects.toMatchObject({ code: 'not-found' });
  });

  it('lists a snapshot as the bucket was then', async () => {
    const store = new MemoryStore({ snapshots: true, pageSize: 2 });
    for (const key of ['a', 'b', 'c']) store.putText(key, `${key}1`);
    const snapshot = await store.snapshot();
    store.remove('b');
    store.putText('a', 'a2');
    store.putText('d', 'd1');
    expect(await listKeys(store, { snapshot })).toEqual([['a', 'b'], ['c']]);
    expect(await listKeys(store)).toEqual([['a', 'c'], ['d']]);
    expect(await text(store, 'a', { snapshot })).toBe('a1');
    await expect(store.list(undefined, { snapshot: '999' })).rejects.toMatchObject({
      code: 'not-found',
    });
  });

  it('copies objects with their sha256', async () => {
    const store = new MemoryStore({ versioning: true });
    await store.put('a', bytes('x'), { sha256: SHA });
    const copy = await store.copy('a', 'trash/a');
    expect(copy).toMatchObject({ key: 'trash/a', sha256: SHA, versionId: 'v2' });
    expect(store.readText('trash/a')).toBe('x');
  });

  it('refuses a body whose length differs from its declared size', async () => {
    const store = new MemoryStore();
    const body = {
      size: 10,
      async *open() {
        yield bytes('short');
      },
    };
    await expect(store.put('a', body, { sha256: SHA })).rejects.toMatchObject({
      code: 'IncompleteBody',
    });
    expect(await store.head('a')).toBeUndefined();
  });

  it('counts the requests it served, not the teammate helpers', async () => {
    const store = new MemoryStore();
    store.putText('t', 'teammate');
    await store.put('a', bytes('1'), { sha256: SHA });
    await store.head('a');
    await text(store, 'a');
    await store.list();
    await store.list();
    await store.delete('a');
    expect(store.stats).toEqual({ puts: 1, deletes: 1, gets: 1, lists: 2, heads: 1 });
  });

  describe('teammate helpers', () => {
    it('write around conditions and record a sha256 only when given a hasher', async () => {
      const plain = new MemoryStore();
      expect(plain.putText('a', 'hello').sha256).toBeNull();
      expect(plain.putBytes('b', bytes('x'), { sha256: SHA }).sha256).toBe(SHA);
      const hashing = new MemoryStore({ hasher: sha256 });
      expect(hashing.putText('a', 'hello').sha256).toBe(
        '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824',
      );
      expect((await hashing.head('a'))?.sha256).toBe(hashing.putText('a', 'hello').sha256);
    });

    it('objects, readText, remove and versions show the bucket as a teammate sees it', () => {
      const store = new MemoryStore({ versioning: true });
      store.putText('b', 'one');
      store.putText('a', 'x');
      store.putText('b', 'two');
      expect(store.objects()).toEqual(
        new Map([
          ['a', bytes('x')],
          ['b', bytes('two')],
        ]),
      );
      store.remove('b');
      expect(() => store.readText('b')).toThrow(expect.objectContaining({ code: 'not-found' }));
      expect(store.versions('b').map((v) => [v.versionId, v.isDeleteMarker, v.data])).toEqual([
        ['v4', true, null],
        ['v3', false, bytes('two')],
        ['v1', false, bytes('one')],
      ]);
      expect([...store.objects().keys()]).toEqual(['a']);
    });

    it('versions() reports only the current object without versioning', () => {
      const store = new MemoryStore();
      store.putText('a', 'one');
      store.putText('a', 'two');
      expect(store.versions('a')).toEqual([
        expect.objectContaining({ versionId: 'null', isLatest: true, data: bytes('two') }),
      ]);
      store.remove('a');
      expect(store.versions('a')).toEqual([]);
    });
  });

  describe('fault injection', () => {
    it('failListPage fails page n of the next listings that reach it, then recovers', async () => {
      const store = new MemoryStore({ pageSize: 2 });
      for (const key of ['a', 'b', 'c', 'd', 'e']) store.putText(key, key);
      store.failListPage(1, 2);
      const first = await store.list();
      await expect(store.list(first.next ?? undefined)).rejects.toMatchObject({
        code: 'ServiceUnavailable',
      });
      // A retry of the same page is another request for page 1.
      await expect(store.list(first.next ?? undefined)).rejects.toMatchObject({
        code: 'ServiceUnavailable',
      });
      expect(await listKeys(store)).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    });

    it('failListPage(0) fails the first page', async () => {
      const store = new MemoryStore();
      store.putText('a', 'a');
      store.failListPage(0);
      await expect(store.list()).rejects.toMatchObject({ code: 'ServiceUnavailable' });
      expect((await store.list()).objects).toHaveLength(1);
    });

    it('failNextPut fails the next matching put before it lands', async () => {
      const store = new MemoryStore();
      store.failNextPut({ key: 'b' });
      await store.put('a', bytes('a'), { sha256: SHA });
      await expect(store.put('b', bytes('b'), { sha256: SHA })).rejects.toMatchObject({
        code: 'InternalError',
      });
      expect(await store.head('b')).toBeUndefined();
      await store.put('b', bytes('b'), { sha256: SHA });
      expect(store.readText('b')).toBe('b');
    });

    it('failNextPut with afterWrite lands the object and loses the response', async () => {
      const store = new MemoryStore();
      store.failNextPut({ afterWrite: true });
      await expect(store.put('a', bytes('a'), { sha256: SHA })).rejects.toMatchObject({
        code: 'ECONNRESET',
      });
      expect(await store.head('a')).toMatchObject({ size: 1, sha256: SHA });
    });

    it('failNextDelete fails the next matching delete and keeps the object', async () => {
      const store = new MemoryStore();
      store.putText('a', 'a');
      store.putText('b', 'b');
      store.failNextDelete({ key: 'b' });
      await store.delete('a');
      await expect(store.delete('b')).rejects.toMatchObject({ code: 'InternalError' });
      expect(store.readText('b')).toBe('b');
      await store.delete('b');
      expect(store.objects().size).toBe(0);
    });

    it('beforeNextPut lets a teammate write between listing and put, once', async () => {
      const store = new MemoryStore();
      const seen: string[] = [];
      store.beforeNextPut((key) => {
        seen.push(key);
        store.putText(key, 'teammate');
      });
      await expect(
        store.put('a', bytes('mine'), { sha256: SHA, ifNoneMatch: '*' }),
      ).rejects.toMatchObject({
        code: 'precondition-failed',
      });
      expect(store.readText('a')).toBe('teammate');
      await store.put('b', bytes('mine'), { sha256: SHA, ifNoneMatch: '*' });
      expect(seen).toEqual(['a']);
    });

    it('hideFromNextListing leaves a key out of one listing only', async () => {
      const store = new MemoryStore({ pageSize: 2 });
      for (const key of ['a', 'b', 'c', 'd']) store.putText(key, key);
      store.hideFromNextListing('c');
      expect(await listKeys(store)).toEqual([['a', 'b'], ['d']]);
      expect(await listKeys(store)).toEqual([
        ['a', 'b'],
        ['c', 'd'],
      ]);
    });
  });
});
