import pLimit from 'p-limit';
import type { BaselineRow } from '../journal/projections.js';
import { type Hasher, hashStream } from '../ports/hasher.js';
import type { ObjectStore } from '../ports/store.js';
import type { ListedObject, ListingDelta } from '../scan/lister.js';
import type { ScannedFile } from '../scan/scanner.js';

/**
 * Fills in the content SHA-256 of remote objects where a decision depends on it (both
 * sides changed, or both are new) and the listing did not carry it — S3 listings never
 * do. A HEAD reads the hash we stored with the object; an object written by another
 * tool, of the same size as the local file, is read and hashed. The results are
 * journaled as listing deltas, so a replay plans from the same facts.
 */
export async function identifyRemote(options: {
  store: ObjectStore;
  hasher: Hasher;
  base: readonly BaselineRow[];
  local: readonly ScannedFile[];
  remote: readonly ListedObject[];
}): Promise<{ objects: ListedObject[]; deltas: ListingDelta[] }> {
  const base = new Map(options.base.map((b) => [b.path, b]));
  const local = new Map(options.local.map((l) => [l.path, l]));
  const limit = pLimit(4);
  const deltas: ListingDelta[] = [];
  const objects = await Promise.all(
    options.remote.map((object) =>
      limit(async () => {
        const L = local.get(object.path);
        const B = base.get(object.path);
        const matters =
          L && !object.sha256 && (!B || (L.hash !== B.hash && object.etag !== B.etag));
        if (!matters) return object;
        const head = await options.store.head(object.path);
        let sha256 = head?.sha256 ?? null;
        if (!sha256 && head && head.size === L.size)
          sha256 = await hashObject(options, object.path);
        if (!sha256 || !head) return object;
        const updated: ListedObject = {
          ...object,
          etag: head.etag,
          size: head.size,
          versionId: head.versionId ?? object.versionId ?? null,
          sha256,
        };
        const { path, ...payload } = updated;
        deltas.push({ kind: 'listing.changed', path, payload });
        return updated;
      }),
    ),
  );
  return { objects, deltas };
}

async function hashObject(
  options: { store: ObjectStore; hasher: Hasher },
  key: string,
): Promise<string> {
  return hashStream(options.hasher, (await options.store.get(key)).body);
}
