import { describe, expect, it } from 'vitest';
import type {
  ObjectStore,
  RemoteObject,
  RemoteVersion,
  StoreCapabilities,
} from '../ports/store.js';
import { expectCode, getText } from './helpers.js';
import { listAll, putText } from './store-helpers.js';

/** What a store setup declares its stores can do (`StoreSetup`'s declarations). */
export interface DeclaredAbilities {
  readonly capabilities: StoreCapabilities;
  readonly canCopy: boolean;
}

/** `listVersions`, failing clearly on a store that declares versioning without it. */
async function listVersions(store: ObjectStore, key: string): Promise<RemoteVersion[]> {
  if (!store.listVersions) throw new Error('the store declares versioning but has no listVersions');
  return store.listVersions(key);
}

/** `snapshot`, failing clearly on a store that declares snapshots without it. */
async function takeSnapshot(store: ObjectStore): Promise<string> {
  if (!store.snapshot) throw new Error('the store declares snapshots but has no snapshot');
  return store.snapshot();
}

/** `copy`, failing clearly on a store that declares copy without it. */
async function copy(store: ObjectStore, from: string, to: string): Promise<RemoteObject> {
  if (!store.copy) throw new Error('the store declares copy but has no copy');
  return store.copy(from, to);
}

/**
 * The capability-dependent part of {@link runStoreConformance}. Which blocks exist is
 * decided by what the setup declares, when the suite is registered, so a store never
 * reports a skipped test; {@link runStoreConformance} checks that every instance has
 * exactly the declared capabilities, so a store cannot escape a block by claiming less.
 */
export function describeStoreAbilities(
  store: () => ObjectStore,
  declared: DeclaredAbilities,
): void {
  const { conditionalWrites, versioning, snapshots } = declared.capabilities;

  if (conditionalWrites) {
    describe('conditional writes', () => {
      it('ifNoneMatch * creates a missing object', async () => {
        await putText(store(), 'a.md', 'one', { ifNoneMatch: '*' });
        expect(await getText(store(), 'a.md')).toBe('one');
      });

      it('ifNoneMatch * fails on an existing object and writes nothing', async () => {
        const first = await putText(store(), 'a.md', 'one');
        await expectCode(
          () => putText(store(), 'a.md', 'three', { ifNoneMatch: '*' }),
          'precondition-failed',
        );
        expect(await getText(store(), 'a.md')).toBe('one');
        expect((await store().head('a.md'))?.etag).toBe(first.etag);
      });

      it('ifMatch with the current ETag overwrites', async () => {
        const first = await putText(store(), 'a.md', 'one');
        const second = await putText(store(), 'a.md', 'three', { ifMatch: first.etag });
        expect(await getText(store(), 'a.md')).toBe('three');
        await putText(store(), 'a.md', 'two', { ifMatch: second.etag });
        expect(await getText(store(), 'a.md')).toBe('two');
      });

      it('ifMatch with a stale ETag fails and writes nothing', async () => {
        const stale = await putText(store(), 'a.md', 'one');
        await putText(store(), 'a.md', 'three');
        await expectCode(
          () => putText(store(), 'a.md', 'two', { ifMatch: stale.etag }),
          'precondition-failed',
        );
        expect(await getText(store(), 'a.md')).toBe('three');
      });

      it('ifMatch on a missing key fails and creates nothing', async () => {
        const gone = await putText(store(), 'a.md', 'one');
        await store().delete('a.md');
        await expectCode(
          () => putText(store(), 'a.md', 'two', { ifMatch: gone.etag }),
          'precondition-failed',
        );
        expect(await store().head('a.md')).toBeUndefined();
      });

      it('delete with the current ETag deletes', async () => {
        const put = await putText(store(), 'a.md', 'one');
        await store().delete('a.md', { ifMatch: put.etag });
        expect(await store().head('a.md')).toBeUndefined();
      });

      it('delete with a stale ETag fails and keeps the object', async () => {
        const stale = await putText(store(), 'a.md', 'one');
        await putText(store(), 'a.md', 'three');
        await expectCode(
          () => store().delete('a.md', { ifMatch: stale.etag }),
          'precondition-failed',
        );
        expect(await getText(store(), 'a.md')).toBe('three');
      });

      it('delete with ifMatch on a missing key fails', async () => {
        const gone = await putText(store(), 'a.md', 'one');
        await store().delete('a.md');
        await expectCode(
          () => store().delete('a.md', { ifMatch: gone.etag }),
          'precondition-failed',
        );
      });
    });
  } else {
    // The port promises nothing about conditions here, only that plain writes work.
    describe('without conditional writes', () => {
      it('accepts plain puts and deletes: create, overwrite, delete, create again', async () => {
        await putText(store(), 'a.md', 'one');
        await putText(store(), 'a.md', 'three');
        expect(await getText(store(), 'a.md')).toBe('three');
        await store().delete('a.md');
        expect(await store().head('a.md')).toBeUndefined();
        await putText(store(), 'a.md', 'two');
        expect(await getText(store(), 'a.md')).toBe('two');
        expect((await listAll(store())).objects.map((o) => o.key)).toEqual(['a.md']);
      });
    });
  }

  if (versioning) {
    describe('versioning', () => {
      it('gives each write a distinct version id that head reports', async () => {
        const first = await putText(store(), 'a.md', 'one');
        const second = await putText(store(), 'a.md', 'three');
        expect(first.versionId).toEqual(expect.any(String));
        expect(second.versionId).toEqual(expect.any(String));
        expect(second.versionId).not.toBe(first.versionId);
        expect((await store().head('a.md'))?.versionId).toBe(second.versionId);
      });

      it('reads an overwritten version by its id', async () => {
        const first = await putText(store(), 'a.md', 'one');
        await putText(store(), 'a.md', 'three');
        const versionId = first.versionId as string;
        expect(await getText(store(), 'a.md', { versionId })).toBe('one');
        expect(await getText(store(), 'a.md')).toBe('three');
      });

      it('delete leaves a marker; listVersions lists newest first and old versions stay readable', async () => {
        const first = await putText(store(), 'a.md', 'one');
        const second = await putText(store(), 'a.md', 'three');
        const { versionId: marker } = await store().delete('a.md');
        expect(marker).toEqual(expect.any(String));
        const versions = await listVersions(store(), 'a.md');
        expect(versions.map((v) => [v.versionId, v.isDeleteMarker, v.isLatest])).toEqual([
          [marker, true, true],
          [second.versionId, false, false],
          [first.versionId, false, false],
        ]);
        expect(versions[1]).toMatchObject({ size: 5, etag: second.etag });
        expect(versions[2]).toMatchObject({ size: 3, etag: first.etag });
        expect(await store().head('a.md')).toBeUndefined();
        await expectCode(() => getText(store(), 'a.md'), 'not-found');
        const versionId = second.versionId as string;
        expect(await getText(store(), 'a.md', { versionId })).toBe('three');
      });

      it('listVersions keeps to its key, not keys that share a prefix', async () => {
        await putText(store(), 'doc', 'one');
        await putText(store(), 'doc2', 'two');
        await putText(store(), 'doc/x', 'x');
        const versions = await listVersions(store(), 'doc');
        expect(versions).toHaveLength(1);
        expect(versions[0]).toMatchObject({ size: 3, isLatest: true, isDeleteMarker: false });
      });
    });
  }

  if (snapshots) {
    describe('snapshots', () => {
      it('reads objects as they were when the snapshot was taken', async () => {
        await putText(store(), 'a.md', 'one');
        const before = await takeSnapshot(store());
        expect(before).toEqual(expect.any(String));
        await putText(store(), 'a.md', 'three');
        await putText(store(), 'b.md', 'two');
        const after = await takeSnapshot(store());
        expect(await getText(store(), 'a.md', { snapshot: before })).toBe('one');
        await expectCode(() => getText(store(), 'b.md', { snapshot: before }), 'not-found');
        expect(await getText(store(), 'a.md', { snapshot: after })).toBe('three');
        expect(await getText(store(), 'b.md', { snapshot: after })).toBe('two');
      });

      it('lists the bucket as it was when the snapshot was taken', async () => {
        await putText(store(), 'a.md', 'one');
        await putText(store(), 'gone.md', 'x');
        const taken = await takeSnapshot(store());
        await putText(store(), 'a.md', 'three');
        await putText(store(), 'new.md', 'two');
        await store().delete('gone.md');
        const listed = [];
        let cursor: string | undefined;
        do {
          const page = await store().list(cursor, { snapshot: taken });
          listed.push(...page.objects);
          cursor = page.next ?? undefined;
        } while (cursor);
        expect(listed.map((o) => [o.key, o.size])).toEqual([
          ['a.md', 3],
          ['gone.md', 1],
        ]);
        const then = await store().get('a.md', { snapshot: taken });
        for await (const _ of then.body) {
          // drain
        }
        expect(listed[0]!.etag).toBe(then.object.etag);
      });

      it('keeps a snapshot readable after later deletes', async () => {
        await putText(store(), 'a.md', 'one');
        const taken = await takeSnapshot(store());
        await store().delete('a.md');
        expect(await store().head('a.md')).toBeUndefined();
        expect(await getText(store(), 'a.md', { snapshot: taken })).toBe('one');
      });
    });
  }

  if (declared.canCopy) {
    describe('copy', () => {
      it('copies an object to a new key, leaving the source', async () => {
        await putText(store(), 'a.md', 'hello');
        const copied = await copy(store(), 'a.md', 'trash/a.md');
        expect(copied).toMatchObject({ key: 'trash/a.md', size: 5 });
        expect(await getText(store(), 'trash/a.md')).toBe('hello');
        expect(await getText(store(), 'a.md')).toBe('hello');
        expect((await store().head('trash/a.md'))?.etag).toBe(copied.etag);
      });

      it('copying a missing key fails and creates nothing', async () => {
        await expect(copy(store(), 'missing.md', 'b.md')).rejects.toThrow();
        expect(await store().head('b.md')).toBeUndefined();
      });
    });
  }
}
