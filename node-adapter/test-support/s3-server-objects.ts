import {
  errors,
  header,
  type Reply,
  readObjectBody,
  S3Error,
  type S3Request,
  userMetadata,
  xmlReply,
} from './s3-server-http.js';
import {
  type BucketView,
  md5Etag,
  type StoredVersion,
  type TestBucket,
} from './s3-server-model.js';
import { el, xmlDocument } from './s3-server-xml.js';

/** CopyObject copies at most this much in one request. */
const MAX_COPY = 5 * 1024 ** 3;

/** A request on one object of an existing bucket. */
export interface ObjectRequest {
  readonly request: S3Request;
  readonly bucket: TestBucket;
  readonly key: string;
}

/** Whether an `If-Match` value names `etag` (quotes optional; `*` matches any object). */
export function etagMatches(condition: string, etag: string | null): boolean {
  if (etag === null) return false;
  const bare = (value: string) => value.trim().replace(/^"|"$/g, '');
  return condition
    .split(',')
    .some((candidate) => candidate.trim() === '*' || bare(candidate) === bare(etag));
}

/**
 * Checks a write's `If-None-Match` / `If-Match` when it is about to land, as S3 does:
 * - another write to the key landed since this one began: 409 ConditionalRequestConflict;
 * - `If-None-Match: *` and an object exists: 412 PreconditionFailed;
 * - `If-Match` and no object: 404 NoSuchKey (AWS's documented answer for writes);
 * - `If-Match` with another ETag: 412 PreconditionFailed.
 */
export function checkWriteConditions(
  request: S3Request,
  bucket: TestBucket,
  key: string,
  startGeneration: number,
): void {
  const ifNoneMatch = header(request, 'if-none-match');
  const ifMatch = header(request, 'if-match');
  if (ifNoneMatch === undefined && ifMatch === undefined) return;
  if (bucket.generation(key) !== startGeneration) throw errors.conditionalConflict();
  const current = bucket.current(key);
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() !== '*') throw errors.notImplemented('If-None-Match other than *');
    if (current) throw errors.preconditionFailed('If-None-Match');
  }
  if (ifMatch !== undefined) {
    if (!current) throw errors.noSuchKey(key);
    if (!etagMatches(ifMatch, current.etag)) throw errors.preconditionFailed('If-Match');
  }
}

/** The headers of a write's answer: ETag, and the version id where the bucket has versioning. */
export function writeHeaders(bucket: TestBucket, version: StoredVersion): Record<string, string> {
  const headers: Record<string, string> = { etag: version.etag ?? '' };
  if (bucket.versioning !== 'Unversioned') headers['x-amz-version-id'] = version.versionId;
  if (version.checksumSha256) headers['x-amz-checksum-sha256'] = version.checksumSha256;
  return headers;
}

/** PutObject: stores the body with its user metadata, under the write conditions. */
export async function putObject({ request, bucket, key }: ObjectRequest): Promise<Reply> {
  const startGeneration = bucket.generation(key);
  const data = await readObjectBody(request);
  checkWriteConditions(request, bucket, key, startGeneration);
  const version = bucket.write(key, {
    data,
    etag: md5Etag(data),
    metadata: userMetadata(request),
    contentType: header(request, 'content-type') ?? 'binary/octet-stream',
    checksumSha256: header(request, 'x-amz-checksum-sha256') ?? null,
  });
  return { status: 200, headers: writeHeaders(bucket, version) };
}

/** The version a GET or HEAD asks for; errors as S3 answers them. */
function versionToRead({ request, bucket, key }: ObjectRequest): StoredVersion {
  const versionId = request.query.get('versionId');
  const snapshot = header(request, SNAPSHOT_VERSION_HEADER);
  if (snapshot !== undefined) {
    if (versionId !== undefined) throw errors.notImplemented('versionId with a snapshot version');
    const object = snapshotView(bucket, snapshot).current(key);
    if (!object) throw errors.noSuchKey(key);
    return object;
  }
  if (versionId === undefined) {
    const latest = bucket.latest(key);
    if (!latest) throw errors.noSuchKey(key);
    if (latest.isDeleteMarker) {
      throw errors.noSuchKey(key, {
        'x-amz-delete-marker': 'true',
        'x-amz-version-id': latest.versionId,
      });
    }
    return latest;
  }
  const version = bucket.version(key, versionId);
  if (!version) {
    throw new S3Error(404, 'NoSuchVersion', 'The specified version does not exist.', {
      Key: key,
      VersionId: versionId,
    });
  }
  if (version.isDeleteMarker) {
    throw new S3Error(
      405,
      'MethodNotAllowed',
      'The specified method is not allowed against this resource.',
      { Method: request.method, ResourceType: 'DeleteMarker' },
      {
        'x-amz-delete-marker': 'true',
        'x-amz-version-id': version.versionId,
        allow: 'DELETE',
        'last-modified': version.lastModified.toUTCString(),
      },
    );
  }
  return version;
}

/** GetObject and HeadObject (the server drops the body of a HEAD answer). */
/** Tigris: reads (ListObjectsV2, GetObject, HeadObject) as of a snapshot version. */
export const SNAPSHOT_VERSION_HEADER = 'x-tigris-snapshot-version';

/** The bucket as of the request's snapshot version; 400 when it is not one. */
export function snapshotView(bucket: TestBucket, version: string): BucketView {
  if (!bucket.snapshots) {
    throw new S3Error(400, 'InvalidRequest', 'Snapshots are not enabled on this bucket.');
  }
  const view = bucket.asOf(version);
  if (!view)
    throw errors.invalidArgument('Invalid snapshot version', SNAPSHOT_VERSION_HEADER, version);
  return view;
}

export async function getObject(target: ObjectRequest): Promise<Reply> {
  const version = versionToRead(target);
  const data = version.data ?? Buffer.alloc(0);
  const headers: Record<string, string> = {
    'content-length': String(data.byteLength),
    'content-type': version.contentType ?? 'binary/octet-stream',
    etag: version.etag ?? '',
    'last-modified': version.lastModified.toUTCString(),
    'accept-ranges': 'bytes',
  };
  if (target.bucket.versioning !== 'Unversioned') headers['x-amz-version-id'] = version.versionId;
  for (const [name, value] of Object.entries(version.metadata))
    headers[`x-amz-meta-${name}`] = value;
  return { status: 200, headers, body: data };
}

/**
 * DeleteObject: the current object (a delete marker on versioned buckets) or, with
 * `versionId`, that version for good. `If-Match` is checked against the current
 * object; a missing object fails it with 412.
 */
export async function deleteObject({ request, bucket, key }: ObjectRequest): Promise<Reply> {
  const versionId = request.query.get('versionId');
  const ifMatch = header(request, 'if-match');
  if (versionId !== undefined) {
    if (ifMatch !== undefined) throw errors.notImplemented('If-Match with versionId');
    const removed = bucket.deleteVersion(key, versionId);
    const headers: Record<string, string> = { 'x-amz-version-id': versionId };
    if (removed?.isDeleteMarker) headers['x-amz-delete-marker'] = 'true';
    return { status: 204, headers };
  }
  if (ifMatch !== undefined && !etagMatches(ifMatch, bucket.current(key)?.etag ?? null)) {
    throw errors.preconditionFailed('If-Match');
  }
  const result = bucket.deleteCurrent(key);
  const headers: Record<string, string> = {};
  if (result.versionId !== undefined) headers['x-amz-version-id'] = result.versionId;
  if (result.deleteMarker) headers['x-amz-delete-marker'] = 'true';
  return { status: 204, headers };
}

/** Where `x-amz-copy-source` points: `bucket/key`, percent-encoded, optional `?versionId=`. */
export function parseCopySource(value: string): {
  bucket: string;
  key: string;
  versionId?: string;
} {
  const questionMark = value.indexOf('?');
  const path = (questionMark < 0 ? value : value.slice(0, questionMark)).replace(/^\//, '');
  const params = new URLSearchParams(questionMark < 0 ? '' : value.slice(questionMark + 1));
  const slash = path.indexOf('/');
  let decoded: [string, string];
  try {
    decoded = [decodeURIComponent(path.slice(0, slash)), decodeURIComponent(path.slice(slash + 1))];
  } catch {
    decoded = ['', ''];
  }
  const [bucket, key] = decoded;
  if (slash <= 0 || key === '') {
    throw new S3Error(
      400,
      'InvalidArgument',
      'Copy Source must mention the source bucket and key: sourcebucket/sourcekey',
      {
        ArgumentName: 'x-amz-copy-source',
        ArgumentValue: value,
      },
    );
  }
  const versionId = params.get('versionId');
  return versionId === null ? { bucket, key } : { bucket, key, versionId };
}

/**
 * CopyObject within the server: the source's bytes and (with directive COPY, the
 * default) its metadata; `x-amz-copy-source-if-match` / `-if-none-match` on the
 * source; the write conditions on the destination. The copy is a new single-part
 * object, so its ETag is the MD5 of its bytes.
 */
export async function copyObject(
  target: ObjectRequest,
  findBucket: (name: string) => TestBucket,
): Promise<Reply> {
  const { request, bucket, key } = target;
  const startGeneration = bucket.generation(key);
  const source = parseCopySource(header(request, 'x-amz-copy-source') ?? '');
  const sourceBucket = findBucket(source.bucket);
  const version =
    source.versionId === undefined
      ? sourceBucket.current(source.key)
      : sourceBucket.version(source.key, source.versionId);
  if (!version?.data) {
    if (source.versionId !== undefined && version?.isDeleteMarker) {
      throw new S3Error(
        400,
        'InvalidRequest',
        'The source of a copy request may not specifically refer to a delete marker by version id.',
      );
    }
    throw errors.noSuchKey(source.key);
  }
  const ifMatch = header(request, 'x-amz-copy-source-if-match');
  if (ifMatch !== undefined && !etagMatches(ifMatch, version.etag)) {
    throw errors.preconditionFailed('x-amz-copy-source-If-Match');
  }
  const ifNoneMatch = header(request, 'x-amz-copy-source-if-none-match');
  if (ifNoneMatch !== undefined && etagMatches(ifNoneMatch, version.etag)) {
    throw errors.preconditionFailed('x-amz-copy-source-If-None-Match');
  }
  for (const name of [
    'x-amz-copy-source-if-modified-since',
    'x-amz-copy-source-if-unmodified-since',
  ]) {
    if (header(request, name) !== undefined) throw errors.notImplemented(name);
  }
  if (version.data.byteLength > MAX_COPY) {
    throw new S3Error(
      400,
      'InvalidRequest',
      `The specified copy source is larger than the maximum allowable size for a copy source: ${MAX_COPY}`,
    );
  }
  const directive = (header(request, 'x-amz-metadata-directive') ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') {
    throw errors.invalidArgument(
      'Unknown metadata directive.',
      'x-amz-metadata-directive',
      directive,
    );
  }
  if (
    directive === 'COPY' &&
    sourceBucket === bucket &&
    source.key === key &&
    source.versionId === undefined
  ) {
    throw new S3Error(
      400,
      'InvalidRequest',
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    );
  }
  for await (const _ of request.message) {
    // A copy has no body of its own; drain whatever was sent.
  }
  checkWriteConditions(request, bucket, key, startGeneration);
  const copied = bucket.write(key, {
    data: Buffer.from(version.data),
    etag: md5Etag(version.data),
    metadata: directive === 'COPY' ? version.metadata : userMetadata(request),
    contentType:
      directive === 'COPY'
        ? version.contentType
        : (header(request, 'content-type') ?? 'binary/octet-stream'),
    checksumSha256: directive === 'COPY' ? version.checksumSha256 : null,
  });
  const headers: Record<string, string> = {};
  if (bucket.versioning !== 'Unversioned') headers['x-amz-version-id'] = copied.versionId;
  if (sourceBucket.versioning !== 'Unversioned') {
    headers['x-amz-copy-source-version-id'] = version.versionId;
  }
  return xmlReply(
    xmlDocument('CopyObjectResult', [
      el('ETag', copied.etag ?? ''),
      el('LastModified', copied.lastModified.toISOString()),
    ]),
    headers,
  );
}
