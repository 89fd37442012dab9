import { createHash, randomBytes } from 'node:crypto';

/** A bucket's versioning state, as GetBucketVersioning reports it (`Unversioned`: never enabled). */
export type VersioningStatus = 'Unversioned' | 'Enabled' | 'Suspended';

/** One version of a key: an object or a delete marker. */
export interface StoredVersion {
  /** `null` for versions written while versioning was off or suspended, as in S3. */
  readonly versionId: string;
  readonly isDeleteMarker: boolean;
  /** The bytes; null for a delete marker. */
  readonly data: Buffer | null;
  /** Quoted, as S3 sends it; null for a delete marker. */
  readonly etag: string | null;
  /** Whole seconds, as S3 keeps it. */
  readonly lastModified: Date;
  /** User metadata: `x-amz-meta-<name>` headers, names lowercased, without the prefix. */
  readonly metadata: Readonly<Record<string, string>>;
  readonly contentType: string | null;
  /** The verified `x-amz-checksum-sha256` it was uploaded with (base64), if any. */
  readonly checksumSha256: string | null;
}

/** What a write stores; the bucket adds the version id and time. */
export type ObjectContent = Pick<
  StoredVersion,
  'data' | 'etag' | 'metadata' | 'contentType' | 'checksumSha256'
>;

/** A part of a multipart upload. */
export interface StoredPart {
  readonly data: Buffer;
  /** Quoted MD5 hex, as UploadPart answers. */
  readonly etag: string;
}

/** A multipart upload in progress. */
export interface MultipartUpload {
  readonly uploadId: string;
  readonly key: string;
  readonly initiated: Date;
  readonly metadata: Readonly<Record<string, string>>;
  readonly contentType: string | null;
  /** The key's write generation when the upload began: a write since then is a conflicting one. */
  readonly generation: number;
  readonly parts: Map<number, StoredPart>;
}

/** What a listing or a read sees: the live bucket, or the bucket as of a snapshot. */
export interface BucketView {
  /** Keys with a current object, in UTF-8 byte order. */
  keys(): string[];
  current(key: string): StoredVersion | undefined;
}

/**
 * One bucket of the test server, in memory: per key its versions newest first (S3's
 * order), with S3's versioning rules (unversioned, enabled, suspended), multipart
 * uploads in progress, and a write generation per key for conflict detection. The
 * server's handlers and the tests share it: tests read it to check what the server
 * holds and use {@link putObject} to write as a teammate would.
 */
export class TestBucket implements BucketView {
  readonly name: string;
  readonly uploads = new Map<string, MultipartUpload>();
  /**
   * Snapshot-enabled, as a Tigris bucket created with `X-Tigris-Enable-Snapshot: true`:
   * every write and delete is kept in time order, so the bucket can be read as of any
   * snapshot version (a UNIX time in nanoseconds).
   */
  readonly snapshots: boolean;
  #versioning: VersioningStatus;
  readonly #versions = new Map<string, StoredVersion[]>();
  readonly #generations = new Map<string, number>();
  readonly #history: Array<{ key: string; at: bigint; version: StoredVersion | null }> = [];
  #clock = 0n;

  constructor(name: string, versioning: VersioningStatus, options: { snapshots?: boolean } = {}) {
    this.name = name;
    this.#versioning = versioning;
    this.snapshots = options.snapshots ?? false;
  }

  /** Takes a snapshot: its version is the current time in nanoseconds (Tigris' form). */
  takeSnapshot(): string {
    return String(this.#tick());
  }

  /**
   * The bucket as of a snapshot version (any nanosecond time works, as on Tigris):
   * each key's last write or delete at or before it. Undefined for a version that is
   * not a number.
   */
  asOf(version: string): BucketView | undefined {
    if (!/^\d{1,30}$/.test(version)) return undefined;
    const at = BigInt(version);
    const state = new Map<string, StoredVersion | null>();
    for (const entry of this.#history) {
      if (entry.at > at) break;
      state.set(entry.key, entry.version);
    }
    const live = [...state].filter((e): e is [string, StoredVersion] => e[1] !== null);
    const objects = new Map(live);
    return {
      keys: () => sortKeys([...objects.keys()]),
      current: (key) => objects.get(key),
    };
  }

  #tick(): bigint {
    const now = BigInt(Date.now()) * 1_000_000n;
    this.#clock = now > this.#clock ? now : this.#clock + 1n;
    return this.#clock;
  }

  #record(key: string, version: StoredVersion | null): void {
    if (this.snapshots) this.#history.push({ key, at: this.#tick(), version });
  }

  get versioning(): VersioningStatus {
    return this.#versioning;
  }

  /** Turns versioning on or suspends it (S3 never goes back to unversioned). */
  setVersioning(status: 'Enabled' | 'Suspended'): void {
    this.#versioning = status;
  }

  /** Keys that have a current object (not a delete marker), in UTF-8 byte order. */
  keys(): string[] {
    return sortKeys([...this.#versions.keys()].filter((key) => this.current(key)));
  }

  /** Keys with any version or delete marker, in UTF-8 byte order. */
  versionedKeys(): string[] {
    return sortKeys([...this.#versions.keys()]);
  }

  /** The current object, or undefined when the key is missing or its latest version is a delete marker. */
  current(key: string): StoredVersion | undefined {
    const latest = this.latest(key);
    return latest && !latest.isDeleteMarker ? latest : undefined;
  }

  /** The latest version, delete markers included. */
  latest(key: string): StoredVersion | undefined {
    return this.#versions.get(key)?.[0];
  }

  version(key: string, versionId: string): StoredVersion | undefined {
    return this.#versions.get(key)?.find((v) => v.versionId === versionId);
  }

  /** Every version and delete marker of `key`, newest first. */
  versions(key: string): readonly StoredVersion[] {
    return this.#versions.get(key) ?? [];
  }

  /** How many writes and deletes `key` has seen; conditional writes compare it to detect races. */
  generation(key: string): number {
    return this.#generations.get(key) ?? 0;
  }

  /** Stores a new current object under S3's versioning rules and returns it. */
  write(key: string, content: ObjectContent): StoredVersion {
    const version: StoredVersion = {
      ...content,
      versionId: this.#versioning === 'Enabled' ? newVersionId() : 'null',
      isDeleteMarker: false,
      lastModified: wholeSecondsNow(),
    };
    this.#push(key, version);
    return version;
  }

  /**
   * Deletes the current object: unversioned, it is gone; versioned, a delete marker
   * becomes the latest version (even where there was no object, as in S3).
   */
  deleteCurrent(key: string): { versionId?: string; deleteMarker: boolean } {
    if (this.#versioning === 'Unversioned') {
      if (this.#versions.delete(key)) {
        this.#bump(key);
        this.#record(key, null);
      }
      return { deleteMarker: false };
    }
    const marker: StoredVersion = {
      versionId: this.#versioning === 'Enabled' ? newVersionId() : 'null',
      isDeleteMarker: true,
      data: null,
      etag: null,
      lastModified: wholeSecondsNow(),
      metadata: {},
      contentType: null,
      checksumSha256: null,
    };
    this.#push(key, marker);
    return { versionId: marker.versionId, deleteMarker: true };
  }

  /** Removes one version for good; undefined when there is no such version. */
  deleteVersion(key: string, versionId: string): StoredVersion | undefined {
    const versions = this.#versions.get(key);
    const index = versions?.findIndex((v) => v.versionId === versionId) ?? -1;
    if (!versions || index < 0) return undefined;
    const [removed] = versions.splice(index, 1);
    if (versions.length === 0) this.#versions.delete(key);
    this.#bump(key);
    return removed;
  }

  /** Multipart uploads in progress: what a test checks to see that none was left behind. */
  multipartUploads(): { uploadId: string; key: string; parts: number }[] {
    return [...this.uploads.values()].map((u) => ({
      uploadId: u.uploadId,
      key: u.key,
      parts: u.parts.size,
    }));
  }

  /** A teammate's write straight into the bucket (no request, no conditions), with optional metadata. */
  putObject(
    key: string,
    data: string | Uint8Array,
    metadata: Record<string, string> = {},
  ): StoredVersion {
    const bytes = Buffer.from(typeof data === 'string' ? Buffer.from(data) : data);
    return this.write(key, {
      data: bytes,
      etag: md5Etag(bytes),
      metadata,
      contentType: 'binary/octet-stream',
      checksumSha256: null,
    });
  }

  #push(key: string, version: StoredVersion): void {
    let versions = this.#versions.get(key) ?? [];
    // Without versioning (or suspended) the new version replaces the one with id "null".
    if (version.versionId === 'null') versions = versions.filter((v) => v.versionId !== 'null');
    versions.unshift(version);
    this.#versions.set(key, versions);
    this.#bump(key);
    this.#record(key, version.isDeleteMarker ? null : version);
  }

  #bump(key: string): void {
    this.#generations.set(key, this.generation(key) + 1);
  }
}

/** Sorts keys in UTF-8 byte order, as S3 lists them. */
export function sortKeys(keys: string[]): string[] {
  return keys
    .map((key) => ({ key, bytes: Buffer.from(key, 'utf8') }))
    .sort((a, b) => Buffer.compare(a.bytes, b.bytes))
    .map(({ key }) => key);
}

/** Compares two keys in UTF-8 byte order. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** The quoted MD5 of `data`: the ETag S3 gives a single-part upload. */
export function md5Etag(data: Uint8Array): string {
  return `"${createHash('md5').update(data).digest('hex')}"`;
}

/**
 * The ETag S3 gives a multipart upload: the MD5 of the parts' binary MD5s, a dash,
 * and the number of parts.
 */
export function multipartEtag(parts: readonly Uint8Array[]): string {
  const digests = parts.map((part) => createHash('md5').update(part).digest());
  return `"${createHash('md5').update(Buffer.concat(digests)).digest('hex')}-${parts.length}"`;
}

/** A random id in the shape of S3's version ids (32 URL-safe characters). */
export function newVersionId(): string {
  return randomBytes(24).toString('base64url');
}

function wholeSecondsNow(): Date {
  return new Date(Math.floor(Date.now() / 1000) * 1000);
}
