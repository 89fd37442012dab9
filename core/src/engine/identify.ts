import pLimit from 'p-limit';
import type { BaselineRow } from '../journal/projections.js';
import { comparePaths } from '../paths.js';
import { type Hasher, hashStream } from '../ports/hasher.js';
import type { ObjectStore } from '../ports/store.js';
import type { ListedObject, ListingDelta } from '../scan/lister.js';
import type { ScannedFile } from '../scan/scanner.js';

/**
 * Fills in the content SHA-256 of remote objects where a decision depends on it and
 * the listing did not carry it (S3 and folder-bucket listings never do): both sides
 * changed, both are new, or the ETag changed at the base's size, which may be the same
 * bytes rewritten (`remote-touched`: a re-upload, a `touch`, a restored copy of a
 * folder bucket) rather than an edit to download. A HEAD reads the hash we stored
 * with the object; an object written by another tool, of the same size as a changed
 * or new local file, is read and hashed. The results are journaled as listing deltas,
 * so a replay plans from the same facts.
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
  // Decided without a promise per object: a no-op run over 100k objects asks nothing.
  const asks: { index: number; hashAtSize: number | undefined }[] = [];
  options.remote.forEach((object, index) => {
    if (object.sha256) return;
    const L = local.get(object.path);
    const B = base.get(object.path);
    const rewritten = B !== undefined && object.etag !== B.etag;
    const bothSides = L !== undefined && (!B || (L.hash !== B.hash && rewritten));
    const maybeTouched = rewritten && object.size === B.size;
    // Only where both sides changed is an object without a recorded hash read to hash it.
    if (bothSides || maybeTouched) asks.push({ index, hashAtSize: bothSides ? L.size : undefined });
  });
  const limit = pLimit(4);
  const objects = [...options.remote];
  const deltas: ListingDelta[] = [];
  await Promise.all(
    asks.map(({ index, hashAtSize }) =>
      limit(async () => {
        const object = objects[index]!;
        const head = await options.store.head(object.path);
        let sha256 = head?.sha256 ?? null;
        if (!sha256 && head && head.size === hashAtSize)
          sha256 = await hashObject(options, object.path);
        if (!sha256 || !head) return;
        const updated: ListedObject = {
          ...object,
          etag: head.etag,
          size: head.size,
          versionId: head.versionId ?? object.versionId ?? null,
          sha256,
        };
        objects[index] = updated;
        const { path, ...payload } = updated;
        deltas.push({ kind: 'listing.changed', path, payload });
      }),
    ),
  );
  // In path order whatever order the answers came in, so a run journals the same deltas.
  deltas.sort((a, b) => comparePaths(a.path ?? '', b.path ?? ''));
  return { objects, deltas };
}

async function hashObject(
  options: { store: ObjectStore; hasher: Hasher },
  key: string,
): Promise<string> {
  return hashStream(options.hasher, (await options.store.get(key)).body);
}
