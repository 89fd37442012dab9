import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import {
  type BodySource,
  comparePaths,
  type Hasher,
  type ListPage,
  NotFoundError,
  type ObjectStore,
  PreconditionFailedError,
  type PutOptions,
  type RemoteObject,
  type RemoteVersion,
  type StoreCapabilities,
  SyncJournalError,
} from '@syncjournal/core';
import { BodyDigest, declaredSize, responseBody, wholeBody } from './s3-body.js';
import { clientConfigFromEnv, parseS3Url, type S3Environment } from './s3-config.js';
import {
  conditionError,
  firstContactError,
  isConditionFailure,
  isDeleteMarkerAnswer,
  isMissingObject,
  S3StoreError,
  type WriteConditions,
} from './s3-errors.js';
import { uploadMultipart } from './s3-multipart.js';
import { detectVersioning, PROBE_DIR, probeConditionalWrites } from './s3-probe.js';
import {
  detectSnapshots,
  SNAPSHOT_VERSION_HEADER,
  takeSnapshot,
  withHeader,
} from './s3-snapshots.js';
import { listKeyVersions } from './s3-versions.js';

export {
  clientConfigFromEnv,
  parseS3Url,
  type S3Environment,
  type S3Location,
} from './s3-config.js';
export { S3StoreError } from './s3-errors.js';

const MiB = 1024 * 1024;

/** How an {@link S3Store} reaches its bucket and moves bytes. */
export interface S3StoreOptions {
  /**
   * A configured client to use (tests; callers who set up the SDK themselves). The
   * environment is then not read, and {@link S3Store.close} leaves the client open.
   */
  client?: S3Client;
  /** Client settings applied over the ones read from the environment. */
  clientConfig?: S3ClientConfig;
  /** The environment to read the `AWS_*` variables from (default `process.env` where there is one). */
  env?: S3Environment;
  /** SHA-256 for the bodies it uploads (checked against the declared hash, sent as the checksum). */
  hasher: Hasher;
  /** Bodies larger than this many bytes are uploaded in parts (default 64 MiB). */
  multipartThreshold?: number;
  /** Bytes per part (default 16 MiB, raised where an upload would need more than 10,000 parts). */
  partSize?: number;
  /** Parts uploaded at the same time (default 4). */
  partConcurrency?: number;
  /** Keys per listing page (default 1000, S3's maximum). */
  pageSize?: number;
}

/** The `RemoteObject` fields a HEAD or GET answer carries. */
interface ObjectHeaders {
  ContentLength?: number;
  ETag?: string;
  VersionId?: string;
  LastModified?: Date;
  Metadata?: Record<string, string>;
}

/**
 * The {@link ObjectStore} of an S3-compatible bucket (AWS S3, Tigris, R2, MinIO…)
 * under a key prefix, on `@aws-sdk/client-s3`.
 *
 * What the server can do is detected, not assumed: until
 * {@link S3Store.detectCapabilities} has run, `capabilities` are all false and the
 * store sends no conditions. Every put records the content SHA-256 as user metadata
 * `x-amz-meta-sha256` (hex), so `head` returns it; single-part puts also send it as
 * `x-amz-checksum-sha256`, which S3 verifies. Bodies above the multipart threshold go
 * up in parts; a streamed body below it is read into memory first, so the SDK can
 * retry the request. Every body is hashed on the way and refused if it is not the
 * declared size and SHA-256 (a file edited during the upload).
 *
 * Keys under `.syncjournal/probe/` (the capability probe's short-lived objects) are
 * left out of listings, and so is an object named exactly like the prefix (a folder
 * marker).
 */
export class S3Store implements ObjectStore {
  /** The bucket name. */
  readonly bucket: string;
  /** The key prefix, ending with `/`, or empty. */
  readonly prefix: string;
  readonly #client: S3Client;
  readonly #ownsClient: boolean;
  readonly #multipartThreshold: number;
  readonly #partSize: number;
  readonly #partConcurrency: number;
  readonly #pageSize: number;
  #capabilities: StoreCapabilities = {
    conditionalWrites: false,
    versioning: false,
    snapshots: false,
  };

  readonly #hasher: Hasher;

  constructor(location: { bucket: string; prefix: string }, options: S3StoreOptions) {
    this.bucket = location.bucket;
    this.prefix = location.prefix;
    this.#ownsClient = options.client === undefined;
    this.#client =
      options.client ??
      new S3Client({
        ...clientConfigFromEnv(options.env ?? processEnv()),
        ...options.clientConfig,
      });
    this.#hasher = options.hasher;
    this.#multipartThreshold = positive('multipartThreshold', options.multipartThreshold, 64 * MiB);
    this.#partSize = positive('partSize', options.partSize, 16 * MiB);
    this.#partConcurrency = positive('partConcurrency', options.partConcurrency, 4);
    this.#pageSize = Math.min(positive('pageSize', options.pageSize, 1000), 1000);
  }

  /**
   * The store at `s3://bucket/prefix`, configured from the environment (see
   * {@link clientConfigFromEnv}) unless `options` bring a client. Call
   * {@link detectCapabilities} before syncing with it.
   */
  static async fromUrl(url: string, options: S3StoreOptions): Promise<S3Store> {
    return new S3Store(parseS3Url(url), options);
  }

  /** What this store can do, as last detected (all false before {@link detectCapabilities}). */
  get capabilities(): StoreCapabilities {
    return this.#capabilities;
  }

  /**
   * Finds out what the server does and sets {@link capabilities}: versioning from
   * GetBucketVersioning, conditional writes by trying them on a probe object under
   * `.syncjournal/probe/` (removed afterwards), and snapshots (Tigris) from HeadBucket.
   * The three are asked at once: on a distant server each round trip counts.
   */
  async detectCapabilities(): Promise<StoreCapabilities> {
    const [versioning, conditionalWrites, snapshots] = await Promise.all([
      detectVersioning(this.#client, this.bucket),
      probeConditionalWrites(this.#client, this.bucket, this.prefix),
      detectSnapshots(this.#client, this.bucket),
    ]).catch((error: unknown) => {
      throw firstContactError(error, {
        bucket: this.bucket,
        url: `s3://${this.bucket}/${this.prefix}`,
      });
    });
    this.#capabilities = Object.freeze({ conditionalWrites, versioning, snapshots });
    return this.#capabilities;
  }

  /** Releases the client's connections, if this store created the client. */
  close(): void {
    if (this.#ownsClient) this.#client.destroy();
  }

  /** Takes a snapshot of the whole bucket (Tigris) and returns its version. */
  async snapshot(): Promise<string> {
    if (!this.#capabilities.snapshots) {
      throw new SyncJournalError(
        'not-supported',
        `The bucket ${this.bucket} does not take snapshots (Tigris buckets created with snapshots enabled do); check capabilities.snapshots first.`,
        { ability: 'snapshots' },
      );
    }
    return takeSnapshot(this.#client, this.bucket);
  }

  /** One page of the listing; with `snapshot`, of the bucket as of that snapshot version. */
  async list(cursor?: string, options: { snapshot?: string } = {}): Promise<ListPage> {
    const command = new ListObjectsV2Command({
      Bucket: this.bucket,
      Prefix: this.prefix === '' ? undefined : this.prefix,
      ContinuationToken: cursor,
      MaxKeys: this.#pageSize,
    });
    if (options.snapshot !== undefined)
      withHeader(command, SNAPSHOT_VERSION_HEADER, options.snapshot);
    const page = await this.#client.send(command);
    const objects: RemoteObject[] = [];
    let previous: string | undefined;
    for (const entry of page.Contents ?? []) {
      const { Key, ETag, Size } = entry;
      if (
        Key === undefined ||
        !Key.startsWith(this.prefix) ||
        ETag === undefined ||
        Size === undefined
      ) {
        throw this.#badListing(`an entry without a key, ETag or size, or outside ${this.prefix}`);
      }
      const key = Key.slice(this.prefix.length);
      if (previous !== undefined && comparePaths(previous, key) >= 0) {
        throw this.#badListing(`"${key}" came after "${previous}", out of key order`);
      }
      previous = key;
      if (key === '' || key.startsWith(PROBE_DIR)) continue;
      objects.push({ key, size: Size, etag: ETag, lastModified: iso(entry.LastModified) });
    }
    if (page.IsTruncated === false) return { objects, next: null };
    if (page.IsTruncated === true && page.NextContinuationToken) {
      return { objects, next: page.NextContinuationToken };
    }
    throw this.#badListing('a page that neither ends the listing nor says where it continues');
  }

  async head(key: string): Promise<RemoteObject | undefined> {
    try {
      const answer = await this.#client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.#objectKey(key) }),
      );
      return objectFrom(key, answer);
    } catch (error) {
      if (isMissingObject(error)) return undefined;
      throw error;
    }
  }

  async get(
    key: string,
    options: { versionId?: string; snapshot?: string } = {},
  ): Promise<{ object: RemoteObject; body: AsyncIterable<Uint8Array> }> {
    const { versionId, snapshot } = options;
    const what =
      versionId !== undefined
        ? `Version ${versionId} of ${key}`
        : snapshot !== undefined
          ? `The object ${key} in snapshot ${snapshot}`
          : `The object ${key}`;
    let answer: GetObjectCommandOutput;
    try {
      const command = new GetObjectCommand({
        Bucket: this.bucket,
        Key: this.#objectKey(key),
        VersionId: versionId,
      });
      if (snapshot !== undefined) withHeader(command, SNAPSHOT_VERSION_HEADER, snapshot);
      answer = await this.#client.send(command);
    } catch (error) {
      if (isMissingObject(error) || (versionId !== undefined && isDeleteMarkerAnswer(error))) {
        throw new NotFoundError(what, { key, ...options });
      }
      throw error;
    }
    const body = answer.Body as (AsyncIterable<Uint8Array> & { destroy?(): void }) | undefined;
    if (!body || !(Symbol.asyncIterator in body)) {
      throw new S3StoreError('s3-unexpected-response', `The server sent ${key} without a body.`, {
        key,
      });
    }
    if (versionId !== undefined && (answer.VersionId ?? 'null') !== versionId) {
      // A server without versions (s3rver) ignores versionId and sends the current object.
      body.destroy?.();
      throw new NotFoundError(`${what} (this server does not keep versions)`, {
        key,
        ...options,
      });
    }
    return {
      object: objectFrom(key, answer),
      body: responseBody(body, answer.ContentLength, key),
    };
  }

  async put(key: string, body: BodySource, options: PutOptions): Promise<RemoteObject> {
    const size = declaredSize(body);
    const digest = new BodyDigest(size, options.sha256, this.#hasher);
    const sha256 = options.sha256.toLowerCase();
    const conditions = this.#conditions(options);
    try {
      if (size > this.#multipartThreshold) {
        const done = await uploadMultipart({
          client: this.#client,
          bucket: this.bucket,
          objectKey: this.#objectKey(key),
          key,
          body,
          digest,
          metadata: { sha256 },
          ifMatch: conditions.IfMatch,
          ifNoneMatch: conditions.IfNoneMatch,
          partSize: this.#partSize,
          concurrency: this.#partConcurrency,
        });
        return { key, size, etag: done.etag, versionId: done.versionId ?? null, sha256 };
      }
      const bytes = await wholeBody(key, body, digest);
      const checksum = digest.finish(key);
      const answer = await this.#client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.#objectKey(key),
          Body: bytes,
          ContentLength: bytes.byteLength,
          Metadata: { sha256 },
          ChecksumSHA256: checksum,
          ...conditions,
        }),
      );
      if (!answer.ETag) {
        throw new S3StoreError(
          's3-unexpected-response',
          `The server stored ${key} without an ETag.`,
          {
            key,
          },
        );
      }
      return { key, size, etag: answer.ETag, versionId: answer.VersionId ?? null, sha256 };
    } catch (error) {
      throw conditionError(error, key, conditions);
    }
  }

  async delete(key: string, options: { ifMatch?: string } = {}): Promise<{ versionId?: string }> {
    const conditions = this.#conditions(options);
    try {
      const answer = await this.#client.send(
        new DeleteObjectCommand({
          Bucket: this.bucket,
          Key: this.#objectKey(key),
          IfMatch: conditions.IfMatch,
        }),
      );
      return answer.VersionId ? { versionId: answer.VersionId } : {};
    } catch (error) {
      throw conditionError(error, key, conditions);
    }
  }

  /**
   * Copies `from` to `to` with its metadata (so the copy keeps its SHA-256), on the
   * server. The source is read first and the copy is made only if it is still that
   * object (`x-amz-copy-source-if-match`), so the result describes what was copied.
   * CopyObject copies objects up to 5 GiB.
   */
  async copy(from: string, to: string): Promise<RemoteObject> {
    const source = await this.head(from);
    if (!source) throw new NotFoundError(`The object ${from}`, { key: from });
    try {
      const answer = await this.#client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: this.#objectKey(to),
          CopySource: `${this.bucket}/${encodeKeyPath(this.#objectKey(from))}`,
          CopySourceIfMatch: source.etag,
          MetadataDirective: 'COPY',
        }),
      );
      const etag = answer.CopyObjectResult?.ETag;
      if (!etag) {
        throw new S3StoreError(
          's3-unexpected-response',
          `The server copied ${from} without an ETag.`,
          {
            key: to,
          },
        );
      }
      return {
        key: to,
        size: source.size,
        etag,
        versionId: answer.VersionId ?? null,
        sha256: source.sha256 ?? null,
        lastModified: iso(answer.CopyObjectResult?.LastModified),
      };
    } catch (error) {
      if (isMissingObject(error)) throw new NotFoundError(`The object ${from}`, { key: from });
      if (isConditionFailure(error)) {
        throw new PreconditionFailedError('remote', from, 'it changed while it was being copied');
      }
      throw error;
    }
  }

  async listVersions(key: string): Promise<RemoteVersion[]> {
    return listKeyVersions(this.#client, this.bucket, this.#objectKey(key), key);
  }

  #objectKey(key: string): string {
    return `${this.prefix}${key}`;
  }

  /** The SDK conditions of a write: only sent where the server enforces them. */
  #conditions(options: { ifMatch?: string; ifNoneMatch?: '*' }): WriteConditions {
    if (!this.#capabilities.conditionalWrites) return {};
    const conditions: WriteConditions = {};
    if (options.ifMatch !== undefined) conditions.IfMatch = quoteEtag(options.ifMatch);
    if (options.ifNoneMatch !== undefined) conditions.IfNoneMatch = options.ifNoneMatch;
    return conditions;
  }

  #badListing(what: string): S3StoreError {
    return new S3StoreError(
      's3-unexpected-response',
      `The listing of s3://${this.bucket}/${this.prefix} returned ${what}. The listing is treated as incomplete: nothing is deleted because of it.`,
      { bucket: this.bucket, prefix: this.prefix },
    );
  }
}

function objectFrom(key: string, answer: ObjectHeaders): RemoteObject {
  const sha256 = answer.Metadata?.sha256;
  return {
    key,
    size: answer.ContentLength ?? 0,
    etag: answer.ETag ?? '',
    versionId: answer.VersionId ?? null,
    sha256: sha256 !== undefined && /^[0-9a-f]{64}$/.test(sha256) ? sha256 : null,
    lastModified: iso(answer.LastModified),
  };
}

function iso(date: Date | undefined): string | null {
  return date ? date.toISOString() : null;
}

/** ETags are compared quoted, as S3 sends them; the port also accepts them bare. */
function quoteEtag(etag: string): string {
  return etag.startsWith('"') || etag.startsWith('W/') ? etag : `"${etag}"`;
}

/** A key for `x-amz-copy-source`: every segment percent-encoded, the slashes kept. */
function encodeKeyPath(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`S3Store option ${name} must be a positive integer, not ${value}`);
  }
  return value;
}

/** Node's environment, where there is one (the browser has none). */
function processEnv(): S3Environment {
  return (globalThis as { process?: { env?: S3Environment } }).process?.env ?? {};
}
