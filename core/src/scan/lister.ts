import type { JournalEventInput, ListingEntryPayload } from '../journal/events.js';
import type { ListingRow } from '../journal/projections.js';
import { comparePaths } from '../paths.js';
import type { Hasher } from '../ports/hasher.js';
import type { ListPage, ObjectStore, RemoteObject } from '../ports/store.js';
import type { ReportError } from '../report.js';
import { manifestDigest } from './scanner.js';

/** Keys under this prefix belong to syncjournal (trash, journal backups), never to the user. */
export const RESERVED_PREFIX = '.syncjournal/';

/** Where a bucket without versioning keeps replaced and deleted versions, by default. */
export const REMOTE_TRASH_PREFIX = `${RESERVED_PREFIX}trash/`;

/** A remote object as the listing leaves it. */
export type ListedObject = ListingEntryPayload & { path: string };

/** A listing delta, ready to journal (the run is filled in by the caller). */
export type ListingDelta = Omit<
  Extract<JournalEventInput, { kind: 'listing.added' | 'listing.changed' | 'listing.removed' }>,
  'run'
>;

/** What {@link listStore} found. */
export interface ListResult {
  /** Objects seen, sorted by key (reserved and excluded keys left out). */
  objects: ListedObject[];
  deltas: ListingDelta[];
  /** True only when the store said the last page was the last. */
  complete: boolean;
  /** When incomplete: the last key reached (`null`: no page came back). */
  listedThrough?: string | null;
  pages: number;
  digest: string;
  errors: ReportError[];
}

/**
 * Every object of the store (or of the bucket as of `snapshot`), all pages. Unlike
 * {@link listStore} a failed page throws: for callers that need the whole listing or
 * nothing (rebuilding a base, checks).
 */
export async function listEveryObject(
  store: ObjectStore,
  options: { snapshot?: string } = {},
): Promise<RemoteObject[]> {
  const objects: RemoteObject[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.list(cursor, options);
    objects.push(...page.objects);
    cursor = page.next ?? undefined;
  } while (cursor);
  return objects;
}

/**
 * Lists the whole store, page by page. A page that fails ends the listing as
 * incomplete — never as empty — and keys after the last page seen are unknown, so
 * no delta says they were removed. Content hashes the store does not list are carried
 * over from the previous listing while the ETag is unchanged.
 *
 * Each page is asked for as soon as the one before it arrives, whether or not it has
 * been read yet, and `previous` may be a promise (the journal still opening or reading
 * it): a store that answers over the network lists while the journal works.
 */
export async function listStore(options: {
  store: ObjectStore;
  hasher: Hasher;
  previous: readonly ListingRow[] | Promise<readonly ListingRow[]>;
  excluded?: (path: string) => boolean;
}): Promise<ListResult> {
  const ahead = { stopped: false };
  let link = listAhead(options.store, undefined, ahead);
  let previous: readonly ListingRow[];
  try {
    previous = await options.previous;
  } catch (error) {
    ahead.stopped = true; // nothing reads the pages after this: ask for no more
    throw error;
  }
  const before = new Map(previous.map((row) => [row.path, row]));
  const objects: ListedObject[] = [];
  const errors: ReportError[] = [];
  let pages = 0;
  let complete = false;
  let lastKey: string | null = null;
  for (;;) {
    let page: ListPage;
    let next: Promise<PageLink> | null;
    try {
      ({ page, next } = await link);
    } catch (error) {
      errors.push({
        code:
          (error as { code?: string; name?: string }).code ??
          (error as Error).name ??
          'list-failed',
        message: `listing page ${pages + 1} failed: ${(error as Error).message}`,
      });
      break;
    }
    pages++;
    for (const object of page.objects) {
      lastKey = object.key;
      if (object.key.startsWith(RESERVED_PREFIX) || options.excluded?.(object.key)) continue;
      objects.push(toListed(object, before.get(object.key)));
    }
    if (next === null) {
      complete = true;
      break;
    }
    link = next;
  }
  objects.sort((a, b) => comparePaths(a.path, b.path));

  const known = (path: string) =>
    complete || (lastKey !== null && comparePaths(path, lastKey) <= 0);
  const deltas = diffListing(
    previous.filter((row) => known(row.path) && !options.excluded?.(row.path)),
    objects,
  );
  return {
    objects,
    deltas,
    complete,
    ...(complete ? {} : { listedThrough: lastKey }),
    pages,
    digest: manifestDigest(options.hasher, objects),
    errors,
  };
}

/** A page of a listing read ahead, and the request for the page after it (null after the last). */
interface PageLink {
  page: ListPage;
  next: Promise<PageLink> | null;
}

/**
 * Asks for the page at `cursor`, and for the next one as soon as it arrives, until the
 * last page, a failure, or `ahead.stopped`. Each request is marked handled when it is
 * made: its failure is thrown where it is read.
 */
function listAhead(
  store: ObjectStore,
  cursor: string | undefined,
  ahead: { stopped: boolean },
): Promise<PageLink> {
  const link = store.list(cursor).then((page) => ({
    page,
    next: page.next === null || ahead.stopped ? null : listAhead(store, page.next, ahead),
  }));
  link.catch(() => {});
  return link;
}

function toListed(object: RemoteObject, prev: ListingRow | undefined): ListedObject {
  const same = prev !== undefined && prev.etag === object.etag;
  const sha256 = object.sha256 ?? (same ? prev.sha256 : null) ?? null;
  // S3 listings name no version ids: the one a PUT of this client returned is kept while
  // the ETag is the same (else it would read as a change of every object it uploaded).
  const versionId = object.versionId ?? (same ? prev.versionId : null) ?? null;
  return {
    path: object.key,
    size: object.size,
    etag: object.etag,
    versionId,
    sha256,
    lastModified: object.lastModified ?? null,
  };
}

/** Deltas between two sorted listings. */
export function diffListing(
  previous: readonly ListingRow[],
  objects: readonly ListedObject[],
): ListingDelta[] {
  const deltas: ListingDelta[] = [];
  let i = 0;
  let j = 0;
  while (i < previous.length || j < objects.length) {
    const p = previous[i];
    const o = objects[j];
    const order = !p ? 1 : !o ? -1 : comparePaths(p.path, o.path);
    if (order < 0) {
      deltas.push({ kind: 'listing.removed', path: p!.path, payload: {} });
      i++;
    } else if (order > 0) {
      deltas.push({ kind: 'listing.added', path: o!.path, payload: payloadOf(o!) });
      j++;
    } else {
      // A row without `lastModified` is one this client wrote: an S3 PUT's answer has no
      // Last-Modified, and asking for it would cost a request per upload. The listing that
      // tells it is not a change: it would journal every uploaded object again on the
      // next run (~500 B and ~0.1 ms each). The object's content is the same (its ETag,
      // size and version). An object that did change is journaled with its time, so the
      // `newer` conflict policy, the one reader of the time, still finds it there.
      const changed =
        p!.etag !== o!.etag ||
        p!.size !== o!.size ||
        (p!.versionId ?? null) !== (o!.versionId ?? null) ||
        (p!.sha256 ?? null) !== (o!.sha256 ?? null) ||
        (p!.lastModified != null && p!.lastModified !== (o!.lastModified ?? null));
      if (changed) deltas.push({ kind: 'listing.changed', path: o!.path, payload: payloadOf(o!) });
      i++;
      j++;
    }
  }
  return deltas;
}

function payloadOf(o: ListedObject): ListingEntryPayload {
  const { path: _path, ...payload } = o;
  return payload;
}
