import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { comparePaths } from '../paths.js';
import type { ObjectStore, StoreCapabilities } from '../ports/store.js';
import { expectCode, getText, ORDERED_PATHS, SHUFFLED_PATHS, utf8 } from './helpers.js';
import { describeStoreAbilities } from './store-ability-conformance.js';
import { CONTENT_SHA256, LARGE, listAll, putText } from './store-helpers.js';

/** One store under test, fresh (and empty) for each test. */
export interface StoreFixture {
  /** An empty store (a fresh bucket, or a fresh prefix of a shared one). */
  store: ObjectStore;
  /** Releases it (deletes the prefix, stops a server). */
  teardown?(): void | Promise<void>;
}

/**
 * How {@link runStoreConformance} gets stores, and what they can do. The declaration
 * picks which tests are registered (a test that does not apply is not there, rather
 * than skipped), and the suite checks every store against it, so a store can claim
 * neither less nor more than its setup says.
 */
export interface StoreSetup<F extends StoreFixture = StoreFixture> {
  /** A fresh, empty store for one test. */
  create(): F | Promise<F>;
  /** The `capabilities` every store from {@link create} reports, exactly. */
  readonly capabilities: StoreCapabilities;
  /** Whether every store from {@link create} has {@link ObjectStore.copy}. */
  readonly canCopy: boolean;
}

/**
 * The shared test suite of the {@link ObjectStore} port: every store runs it
 * (memory, folder bucket, S3 against a real server). It checks only what the port
 * promises and adapts to what the setup declares: condition, version, snapshot and
 * copy tests are registered only where declared, and nothing is asserted about
 * conditions on a store that does not enforce them.
 */
export function runStoreConformance<F extends StoreFixture>(
  name: string,
  setup: StoreSetup<F>,
): void {
  describe(`ObjectStore conformance: ${name}`, () => {
    let fixture: F | undefined;
    beforeEach(async () => {
      fixture = await setup.create();
    });
    afterEach(async () => {
      const done = fixture;
      fixture = undefined;
      await done?.teardown?.();
    });
    const store = (): ObjectStore => {
      if (!fixture) throw new Error('the store fixture was not created');
      return fixture.store;
    };

    it('has exactly the capabilities and methods its setup declares', () => {
      const instance = store();
      expect({ ...instance.capabilities }).toEqual({ ...setup.capabilities });
      expect(typeof instance.copy === 'function', 'copy is a function').toBe(setup.canCopy);
      // The port asks for these where the capability is; it does not forbid them elsewhere.
      if (setup.capabilities.versioning) expect(typeof instance.listVersions).toBe('function');
      if (setup.capabilities.snapshots) expect(typeof instance.snapshot).toBe('function');
    });

    describe('missing keys', () => {
      it('lists an empty store as one complete, empty page', async () => {
        expect(await store().list()).toEqual({ objects: [], next: null });
      });

      it('head returns undefined and get throws NotFoundError', async () => {
        expect(await store().head('missing.md')).toBeUndefined();
        await expectCode(() => getText(store(), 'missing.md'), 'not-found');
      });

      it('delete of a missing key succeeds', async () => {
        await expect(store().delete('missing.md')).resolves.toBeDefined();
        expect((await listAll(store())).objects).toEqual([]);
      });
    });

    describe('put, head, get', () => {
      it('put returns the object that head then reports, with the recorded sha256', async () => {
        const put = await putText(store(), 'notes/a.md', 'hello');
        expect(put.key).toBe('notes/a.md');
        expect(put.size).toBe(5);
        expect(put.etag).toEqual(expect.any(String));
        expect(put.etag).not.toBe('');
        const head = await store().head('notes/a.md');
        expect(head).toMatchObject({ key: 'notes/a.md', size: 5, etag: put.etag });
        expect(head?.sha256).toBe(CONTENT_SHA256.hello);
      });

      it('get returns the bytes and the object', async () => {
        const put = await putText(store(), 'a.md', 'hello, world');
        const { object, body } = await store().get('a.md');
        expect(object).toMatchObject({ key: 'a.md', size: 12, etag: put.etag });
        const chunks: Uint8Array[] = [];
        for await (const chunk of body) chunks.push(chunk);
        for (const chunk of chunks) expect(chunk).toBeInstanceOf(Uint8Array);
        expect(await getText(store(), 'a.md')).toBe('hello, world');
      });

      it('stores an empty object', async () => {
        await putText(store(), 'empty.md', '');
        expect((await store().head('empty.md'))?.size).toBe(0);
        expect(await getText(store(), 'empty.md')).toBe('');
      });

      it('accepts a body that is streamed in chunks', async () => {
        const chunk = utf8(LARGE.text.slice(0, 10_000));
        const body = {
          size: LARGE.text.length,
          async *open() {
            for (let i = 0; i < 10; i++) yield chunk.slice();
          },
        };
        const put = await store().put('large.txt', body, { sha256: LARGE.sha256 });
        expect(put.size).toBe(100_000);
        expect(await getText(store(), 'large.txt')).toBe(LARGE.text);
        expect((await store().head('large.txt'))?.sha256).toBe(LARGE.sha256);
      });

      it('overwrites an object; a new content gets a new ETag', async () => {
        const first = await putText(store(), 'a.md', 'one');
        const second = await putText(store(), 'a.md', 'three');
        expect(second.etag).not.toBe(first.etag);
        expect(await store().head('a.md')).toMatchObject({ size: 5, etag: second.etag });
        expect((await store().head('a.md'))?.sha256).toBe(CONTENT_SHA256.three);
        expect(await getText(store(), 'a.md')).toBe('three');
      });

      it('delete removes the object from head, get and list', async () => {
        await putText(store(), 'a.md', 'one');
        await putText(store(), 'b.md', 'two');
        await store().delete('a.md');
        expect(await store().head('a.md')).toBeUndefined();
        await expectCode(() => getText(store(), 'a.md'), 'not-found');
        expect((await listAll(store())).objects.map((o) => o.key)).toEqual(['b.md']);
      });
    });

    describe('list', () => {
      it('lists every key once, in comparePaths order, across pages until next is null', async () => {
        for (const key of SHUFFLED_PATHS) await putText(store(), key, 'x');
        const { pages, objects } = await listAll(store());
        const keys = objects.map((o) => o.key);
        expect(keys).toEqual(ORDERED_PATHS);
        expect([...keys].sort(comparePaths)).toEqual(keys);
        expect(pages.flat()).toHaveLength(ORDERED_PATHS.length);
      });

      it('reports each object with the size and ETag that head gives', async () => {
        await putText(store(), 'a.md', 'one');
        await putText(store(), 'dir/b.md', 'three');
        const { objects } = await listAll(store());
        expect(objects).toHaveLength(2);
        for (const object of objects) {
          const head = await store().head(object.key);
          expect({ size: object.size, etag: object.etag }).toEqual({
            size: head?.size,
            etag: head?.etag,
          });
          // A listing may leave the SHA-256 out (S3 does), but must not report a wrong one.
          if (object.sha256 != null) expect(object.sha256).toBe(head?.sha256);
        }
      });

      it('sees puts and deletes made before it', async () => {
        await putText(store(), 'a.md', 'one');
        expect((await listAll(store())).objects.map((o) => o.key)).toEqual(['a.md']);
        await putText(store(), 'b.md', 'two');
        await store().delete('a.md');
        expect((await listAll(store())).objects.map((o) => o.key)).toEqual(['b.md']);
      });
    });

    describeStoreAbilities(store, setup);
  });
}
