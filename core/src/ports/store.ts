/**
 * The remote side of a pair: an S3-compatible bucket under a prefix, a folder acting
 * as a bucket, or memory. Keys are relative to the store's root: `/`-separated, no
 * leading `/`. The store never interprets keys as paths; the engine decides which keys
 * are safe to bring down.
 */
export interface ObjectStore {
  /** What this store can do; the engine asks rather than guesses. */
  readonly capabilities: StoreCapabilities;

  /**
   * One page of the listing, in ascending key order (UTF-8 byte order, which is
   * {@link comparePaths}). Pass the previous page's `next` to continue. `next: null`
   * is the store's explicit answer that the listing is complete; a page that fails
   * throws, and the caller must then treat the listing as incomplete — never as
   * empty. With `snapshot` (stores with snapshots), the bucket as of that snapshot.
   */
  list(cursor?: string, options?: { snapshot?: string }): Promise<ListPage>;

  /** The object at `key`, or `undefined` when there is none. */
  head(key: string): Promise<RemoteObject | undefined>;

  /**
   * The object's bytes. Throws `NotFoundError` when it is missing. With `versionId`,
   * that version (stores with versioning); with `snapshot`, the object as of that
   * snapshot (stores with snapshots).
   */
  get(
    key: string,
    options?: { versionId?: string; snapshot?: string },
  ): Promise<{ object: RemoteObject; body: AsyncIterable<Uint8Array> }>;

  /**
   * Writes an object and records its SHA-256 with it (so a crashed run's upload can be
   * recognised by content later). `ifNoneMatch: '*'` requires that no object exists;
   * `ifMatch` requires the current ETag. When a condition fails — or, on stores that
   * answer 409, when another write raced this one — throws `PreconditionFailedError`
   * and writes nothing. Conditions are only honoured where
   * `capabilities.conditionalWrites` is true.
   */
  put(key: string, body: BodySource, options: PutOptions): Promise<RemoteObject>;

  /**
   * Deletes an object; `ifMatch` as in {@link put}. Deleting a missing key succeeds
   * (S3 semantics) unless `ifMatch` is given, which then fails. Returns the delete
   * marker's version id on versioned stores.
   */
  delete(key: string, options?: { ifMatch?: string }): Promise<{ versionId?: string }>;

  /** Copies an object within the store (used for trash copies). Optional. */
  copy?(from: string, to: string): Promise<RemoteObject>;

  /** Versions of a key, newest first (stores with versioning). */
  listVersions?(key: string): Promise<RemoteVersion[]>;

  /** Takes a snapshot of the whole bucket and returns its version (stores with snapshots). */
  snapshot?(): Promise<string>;
}

/** What a store supports. */
export interface StoreCapabilities {
  /** `If-None-Match: *` and `If-Match: <etag>` on put and delete are enforced. */
  conditionalWrites: boolean;
  /** Old versions are kept and can be read by version id. */
  versioning: boolean;
  /** Point-in-time snapshots of the bucket can be taken and read. */
  snapshots: boolean;
}

/** An object as a listing or head reports it. */
export interface RemoteObject {
  key: string;
  size: number;
  /** Changes whenever the content changes (S3 derives it from the bytes, so a rewrite of the same bytes may keep it). */
  etag: string;
  versionId?: string | null;
  /** The content SHA-256 where the store has it (always after our own put; not in S3 listings). */
  sha256?: string | null;
  lastModified?: string | null;
}

/** One version of an object. */
export interface RemoteVersion {
  versionId: string;
  etag: string | null;
  size: number;
  lastModified: string | null;
  isLatest: boolean;
  isDeleteMarker: boolean;
  sha256?: string | null;
}

/** One page of a listing. */
export interface ListPage {
  objects: RemoteObject[];
  /** The cursor of the next page, or `null`: the listing is complete. */
  next: string | null;
}

/** Bytes to upload: in memory, or a source that can be opened again for a retry. */
export type BodySource = Uint8Array | { size: number; open(): AsyncIterable<Uint8Array> };

/** Conditions and identity of a put. */
export interface PutOptions {
  /** The content SHA-256 (lowercase hex), stored with the object. */
  sha256: string;
  ifMatch?: string;
  ifNoneMatch?: '*';
}
