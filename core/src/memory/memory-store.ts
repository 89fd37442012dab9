import { NotFoundError, PreconditionFailedError, SyncJournalError } from '../errors.js';
import { comparePaths } from '../paths.js';
import { type Clock, systemClock } from '../ports/clock.js';
import { type Hasher, hashOf } from '../ports/hasher.js';
import type {
  BodySource,
  ListPage,
  ObjectStore,
  PutOptions,
  RemoteObject,
  RemoteVersion,
  StoreCapabilities,
} from '../ports/store.js';
import {
  BucketHistory,
  type HistoryEntry,
  objectOf,
  type StoredVersion,
} from './bucket-history.js';
import { chunksOf, collectBytes, decodeUtf8, encodeUtf8 } from './bytes.js';
import { platformError } from './platform-error.js';
import { StoreFaults } from './store-faults.js';

export type { StoredVersion } from './bucket-history.js';

/** Options of {@link MemoryStore}; every ability can be turned off to play a weaker store. */
export interface MemoryStoreOptions {
  /** Honour `ifMatch`/`ifNoneMatch` (default true); off, they are ignored, as s3rver does. */
  conditionalWrites?: boolean;
  /** Keep old versions and delete markers (default false). */
  versioning?: boolean;
  /** Offer point-in-time snapshots, as Tigris does (default false). */
  snapshots?: boolean;
  /** Objects per listing page (default 1000, as S3). */
  pageSize?: number;
  /** Source of `lastModified`; the wall clock by default. */
  clock?: Clock;
  /** Lets the teammate helpers record a SHA-256 as a syncjournal teammate would; without it they record none. */
  hasher?: Hasher;
}

/** Operations a {@link MemoryStore} served through the port, for tests that count requests. */
export interface MemoryStoreStats {
  puts: number;
  deletes: number;
  gets: number;
  lists: number;
  heads: number;
}

/**
 * An {@link ObjectStore} held in memory, with every capability switchable, so the
 * engine can be tested against a strong store (conditional writes, versions,
 * snapshots) and a weak one. Besides the port it offers teammate helpers that write
 * around the conditions, request counters, and fault injection through
 * {@link MemoryStore.failListPage} and its siblings.
 */
export class MemoryStore implements ObjectStore {
  readonly capabilities: StoreCapabilities;
  /** Requests served through the port (teammate helpers are not counted). */
  readonly stats: MemoryStoreStats = { puts: 0, deletes: 0, gets: 0, lists: 0, heads: 0 };
  readonly #pageSize: number;
  readonly #hasher: Hasher | undefined;
  readonly #bucket: BucketHistory;
  readonly #faults = new StoreFaults();

  constructor(options: MemoryStoreOptions = {}) {
    this.capabilities = {
      conditionalWrites: options.conditionalWrites ?? true,
      versioning: options.versioning ?? false,
      snapshots: options.snapshots ?? false,
    };
    this.#pageSize = options.pageSize ?? 1000;
    if (!(this.#pageSize >= 1)) throw new RangeError('pageSize must be at least 1');
    this.#bucket = new BucketHistory({
      versioning: this.capabilities.versioning,
      snapshots: this.capabilities.snapshots,
      clock: options.clock ?? systemClock,
    });
    this.#hasher = options.hasher;
  }

  /**
   * The port's listing. The extra `snapshot` option (MemoryStore only) lists the
   * bucket as of a {@link snapshot}.
   */
  async list(cursor?: string, options: { snapshot?: string } = {}): Promise<ListPage> {
    this.stats.lists++;
    const listing = this.#faults.beginPage(cursor, this.#pageSize, () =>
      cursor === undefined ? 0 : firstAfter(this.#bucket.currentKeys(), cursor),
    );
    this.#faults.checkListPage(listing.page);
    const at =
      options.snapshot === undefined ? undefined : this.#bucket.snapshotTick(options.snapshot);
    const keys = at === undefined ? this.#bucket.currentKeys() : this.#bucket.keysAt(at);
    const start = cursor === undefined ? 0 : firstAfter(keys, cursor);
    const pageKeys = keys.slice(start, start + this.#pageSize);
    const next = start + this.#pageSize < keys.length ? (pageKeys.at(-1) ?? null) : null;
    this.#faults.endPage(cursor, next, listing);
    const objects: RemoteObject[] = [];
    for (const key of pageKeys) {
      const entry = at === undefined ? this.#bucket.current(key) : this.#bucket.entryAt(key, at);
      if (entry && !listing.hidden.has(key)) objects.push(objectOf(key, entry));
    }
    return { objects, next };
  }

  async head(key: string): Promise<RemoteObject | undefined> {
    this.stats.heads++;
    validateKey(key);
    const entry = this.#bucket.current(key);
    return entry && objectOf(key, entry);
  }

  async get(
    key: string,
    options: { versionId?: string; snapshot?: string } = {},
  ): Promise<{ object: RemoteObject; body: AsyncIterable<Uint8Array> }> {
    this.stats.gets++;
    validateKey(key);
    let entry: HistoryEntry | undefined;
    let what = `The object ${key}`;
    if (options.versionId !== undefined) {
      what = `Version ${options.versionId} of ${key}`;
      entry = this.#bucket.version(key, options.versionId);
    } else if (options.snapshot !== undefined) {
      what = `The object ${key} in snapshot ${options.snapshot}`;
      entry = this.#bucket.entryAt(key, this.#bucket.snapshotTick(options.snapshot));
    } else {
      entry = this.#bucket.current(key);
    }
    if (!entry?.data) throw new NotFoundError(what, { key, ...options });
    return { object: objectOf(key, entry), body: chunksOf(entry.data) };
  }

  async put(key: string, body: BodySource, options: PutOptions): Promise<RemoteObject> {
    this.stats.puts++;
    validateKey(key);
    const data = await readBody(body);
    await this.#faults.runBeforePut(key);
    const fault = this.#faults.takePutFault(key);
    if (fault && !fault.afterWrite) {
      throw platformError('InternalError', `injected failure: the put of ${key} did not land`);
    }
    // From here on no await: the condition check and the write are one step.
    if (this.capabilities.conditionalWrites) {
      const current = this.#bucket.current(key);
      if (options.ifNoneMatch === '*' && current) {
        throw new PreconditionFailedError('remote', key, 'an object already exists');
      }
      if (options.ifMatch !== undefined) this.#checkIfMatch(key, options.ifMatch);
    }
    const object = this.#bucket.write(key, data, options.sha256);
    if (fault?.afterWrite) {
      throw platformError(
        'ECONNRESET',
        `injected failure: the put of ${key} landed, its response was lost`,
      );
    }
    return object;
  }

  async delete(key: string, options: { ifMatch?: string } = {}): Promise<{ versionId?: string }> {
    this.stats.deletes++;
    validateKey(key);
    if (this.#faults.takeDeleteFault(key)) {
      throw platformError('InternalError', `injected failure: the delete of ${key} did not land`);
    }
    if (this.capabilities.conditionalWrites && options.ifMatch !== undefined) {
      this.#checkIfMatch(key, options.ifMatch);
    }
    const versionId = this.#bucket.erase(key);
    return versionId === null ? {} : { versionId };
  }

  async copy(from: string, to: string): Promise<RemoteObject> {
    validateKey(from);
    validateKey(to);
    const source = this.#bucket.current(from);
    if (!source?.data) throw new NotFoundError(`The object ${from}`, { key: from });
    return this.#bucket.write(to, source.data, source.sha256);
  }

  async listVersions(key: string): Promise<RemoteVersion[]> {
    this.#require('versioning');
    return this.versions(key).map(({ data: _, ...version }) => version);
  }

  async snapshot(): Promise<string> {
    this.#require('snapshots');
    return this.#bucket.takeSnapshot();
  }

  // ---- Fault injection ----

  /**
   * Page `n` (0-based) of the next `times` listings that reach it throws an error
   * with code `ServiceUnavailable`, as a throttled S3 does mid-listing.
   */
  failListPage(n: number, times = 1): void {
    this.#faults.failListPage(n, times);
  }

  /**
   * The next put (of `key`, when given) throws `InternalError` and writes nothing;
   * with `afterWrite` the object is written and then `ECONNRESET` is thrown — a put
   * that landed but whose response was lost.
   */
  failNextPut(options: { key?: string; afterWrite?: boolean } = {}): void {
    this.#faults.failNextPut(options);
  }

  /** The next delete (of `key`, when given) throws `InternalError` and deletes nothing. */
  failNextDelete(options: { key?: string } = {}): void {
    this.#faults.failNextDelete(options);
  }

  /** Runs `hook` once before the next put's condition check: a teammate writing between list and put. */
  beforeNextPut(hook: (key: string) => void | Promise<void>): void {
    this.#faults.beforeNextPut(hook);
  }

  /** The next listing leaves `key` out once, as an eventually consistent listing may. */
  hideFromNextListing(key: string): void {
    this.#faults.hideFromNextListing(key);
  }

  // ---- Teammate helpers: unconditional, uncounted, never faulted. ----

  /** A teammate's upload of `text`; test/demo helper. */
  putText(key: string, text: string, options: { sha256?: string } = {}): RemoteObject {
    return this.putBytes(key, encodeUtf8(text), options);
  }

  /** A teammate's upload; records `sha256` if given, else the hasher's, else none; test/demo helper. */
  putBytes(key: string, data: Uint8Array, options: { sha256?: string } = {}): RemoteObject {
    validateKey(key);
    const sha256 = options.sha256 ?? (this.#hasher ? hashOf(this.#hasher, data) : null);
    return this.#bucket.write(key, data.slice(), sha256);
  }

  /** A teammate's delete (a delete marker on versioned stores); test/demo helper. */
  remove(key: string): void {
    validateKey(key);
    this.#bucket.erase(key);
  }

  /** The text of the current object; throws `NotFoundError` when missing; test/demo helper. */
  readText(key: string): string {
    const entry = this.#bucket.current(key);
    if (!entry?.data) throw new NotFoundError(`The object ${key}`, { key });
    return decodeUtf8(entry.data);
  }

  /** A copy of every current object, in key order; test/demo helper. */
  objects(): Map<string, Uint8Array> {
    return new Map(
      this.#bucket
        .currentKeys()
        .map((key) => [key, (this.#bucket.current(key)?.data ?? new Uint8Array()).slice()]),
    );
  }

  /** Every key that ever held an object, deleted ones included, in key order; test/demo helper. */
  keysEverWritten(): string[] {
    return this.#bucket.everyKey();
  }

  /**
   * The versions kept for `key`, newest first, with their bytes. Without versioning
   * only the current object is kept; it is reported with version id `null` as S3 does.
   */
  versions(key: string): StoredVersion[] {
    return this.#bucket.versions(key);
  }

  // ---- internals ----

  #require(ability: 'versioning' | 'snapshots'): void {
    if (!this.capabilities[ability]) {
      throw new SyncJournalError(
        'not-supported',
        `This MemoryStore was created without ${ability}; check capabilities.${ability} first.`,
        { ability },
      );
    }
  }

  #checkIfMatch(key: string, ifMatch: string): void {
    const current = this.#bucket.current(key);
    if (!current) throw new PreconditionFailedError('remote', key, 'the object is gone');
    if (unquote(current.etag ?? '') !== unquote(ifMatch)) {
      throw new PreconditionFailedError('remote', key, `its ETag is no longer ${ifMatch}`);
    }
  }
}

async function readBody(body: BodySource): Promise<Uint8Array> {
  if (body instanceof Uint8Array) return body.slice();
  const data = await collectBytes(body.open());
  if (data.length !== body.size) {
    throw platformError(
      'IncompleteBody',
      `the body had ${data.length} bytes, ${body.size} were declared`,
    );
  }
  return data;
}

/** Index of the first key after `cursor` in sorted `keys`. */
function firstAfter(keys: readonly string[], cursor: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (comparePaths(keys[mid] as string, cursor) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function unquote(etag: string): string {
  return etag.replace(/^W\//, '').replace(/^"|"$/g, '');
}

function validateKey(key: string): void {
  if (key === '' || key.startsWith('/')) {
    throw new SyncJournalError('invalid-key', `"${key}" is not a valid object key.`, { key });
  }
}
