import {
  errors,
  header,
  type Reply,
  readSmallBody,
  S3Error,
  type S3Request,
  xmlReply,
} from './s3-server-http.js';
import { compareKeys, type StoredVersion, type TestBucket } from './s3-server-model.js';
import { SNAPSHOT_VERSION_HEADER, snapshotView } from './s3-server-objects.js';
import {
  el,
  elementTexts,
  type Markup,
  optional,
  rootElement,
  xmlDocument,
} from './s3-server-xml.js';

/** The owner S3 names in version listings; one account owns everything here. */
const OWNER = [el('Owner', [el('ID', '0'.repeat(64)), el('DisplayName', 'syncjournal-test')])];

/** `max-keys` as S3 reads it: 0–1000, default 1000, larger values capped. */
function maxKeys(request: S3Request): number {
  const value = request.query.get('max-keys');
  if (value === undefined) return 1000;
  if (!/^\d+$/.test(value)) {
    throw errors.invalidArgument(
      'Provided max-keys not an integer or within integer range',
      'max-keys',
      value,
    );
  }
  return Math.min(Number(value), 1000);
}

/** Parameters S3 offers that this server does not, so a client relying on them fails loudly. */
function refuseUnsupported(request: S3Request, names: readonly string[]): void {
  for (const name of names) {
    if (request.query.has(name)) throw errors.notImplemented(name);
  }
}

/**
 * ListObjectsV2: keys in UTF-8 byte order after `start-after` or the continuation
 * token, under `prefix`, `max-keys` at a time. The continuation token is opaque to
 * clients (base64 of the last key listed). The document's element order is AWS's.
 */
export function listObjectsV2(request: S3Request, bucket: TestBucket): Reply {
  refuseUnsupported(request, ['encoding-type', 'fetch-owner', 'optional-object-attributes']);
  const prefix = request.query.get('prefix') ?? '';
  const delimiter = request.query.get('delimiter') || undefined;
  const startAfter = request.query.get('start-after');
  const token = request.query.get('continuation-token');
  const limit = maxKeys(request);
  let after = startAfter;
  // A page that ended on a common prefix continues after every key under it.
  let skipUnder: string | undefined;
  if (token !== undefined) {
    const decoded = Buffer.from(token, 'base64').toString('utf8');
    if (!decoded.startsWith('k:') && !decoded.startsWith('p:')) {
      throw errors.invalidArgument(
        'The continuation token provided is incorrect',
        'continuation-token',
        token,
      );
    }
    after = decoded.slice(2);
    if (decoded.startsWith('p:')) skipUnder = after;
  }
  const snapshot = header(request, SNAPSHOT_VERSION_HEADER);
  const view = snapshot === undefined ? bucket : snapshotView(bucket, snapshot);
  const keys = view
    .keys()
    .filter(
      (key) =>
        key.startsWith(prefix) &&
        (after === undefined || compareKeys(key, after) > 0) &&
        (skipUnder === undefined || !key.startsWith(skipUnder)),
    );
  // With a delimiter, keys that continue past it after the prefix roll up into one
  // common prefix each; keys sharing a prefix sort together, so each rolls up once.
  const entries: Array<{ key: string } | { commonPrefix: string }> = [];
  let truncated = false;
  for (const key of keys) {
    const at = delimiter === undefined ? -1 : key.indexOf(delimiter, prefix.length);
    const commonPrefix = at < 0 ? undefined : key.slice(0, at + delimiter!.length);
    const previous = entries.at(-1);
    if (commonPrefix !== undefined && previous && 'commonPrefix' in previous) {
      if (previous.commonPrefix === commonPrefix) continue;
    }
    if (entries.length === limit) {
      truncated = true;
      break;
    }
    entries.push(commonPrefix === undefined ? { key } : { commonPrefix });
  }
  const last = entries.at(-1);
  const nextToken =
    last === undefined ? undefined : 'key' in last ? `k:${last.key}` : `p:${last.commonPrefix}`;
  const contents = entries.flatMap((entry) => {
    if (!('key' in entry)) return [];
    const object = view.current(entry.key) as StoredVersion;
    return [
      el('Contents', [
        el('Key', entry.key),
        el('LastModified', object.lastModified.toISOString()),
        el('ETag', object.etag ?? ''),
        ...(object.checksumSha256
          ? [el('ChecksumAlgorithm', 'SHA256'), el('ChecksumType', 'FULL_OBJECT')]
          : []),
        el('Size', object.data?.byteLength ?? 0),
        el('StorageClass', 'STANDARD'),
      ]),
    ];
  });
  const commonPrefixes = entries.flatMap((entry) =>
    'commonPrefix' in entry ? [el('CommonPrefixes', [el('Prefix', entry.commonPrefix)])] : [],
  );
  return xmlReply(
    xmlDocument('ListBucketResult', [
      el('Name', bucket.name),
      el('Prefix', prefix),
      ...optional('Delimiter', delimiter),
      ...optional('StartAfter', startAfter),
      ...optional('ContinuationToken', token),
      ...(truncated && nextToken !== undefined
        ? [el('NextContinuationToken', Buffer.from(nextToken).toString('base64'))]
        : []),
      el('KeyCount', entries.length),
      el('MaxKeys', limit),
      el('IsTruncated', truncated),
      ...contents,
      ...commonPrefixes,
    ]),
  );
}

/**
 * ListObjectVersions: every version and delete marker under `prefix`, keys in UTF-8
 * byte order and each key's versions newest first, interleaved as S3 sends them;
 * `key-marker` / `version-id-marker` continue after a given entry.
 */
export function listObjectVersions(request: S3Request, bucket: TestBucket): Reply {
  refuseUnsupported(request, ['delimiter', 'encoding-type', 'optional-object-attributes']);
  const prefix = request.query.get('prefix') ?? '';
  const keyMarker = request.query.get('key-marker') ?? '';
  const versionIdMarker = request.query.get('version-id-marker') ?? '';
  if (versionIdMarker !== '' && keyMarker === '') {
    throw errors.invalidArgument(
      'A version-id marker cannot be specified without a key marker.',
      'version-id-marker',
      versionIdMarker,
    );
  }
  const limit = maxKeys(request);
  const entries: { key: string; version: StoredVersion }[] = [];
  for (const key of bucket.versionedKeys()) {
    if (!key.startsWith(prefix)) continue;
    const order = compareKeys(key, keyMarker);
    if (keyMarker !== '' && order < 0) continue;
    let versions = bucket.versions(key);
    if (keyMarker !== '' && order === 0) {
      const at = versions.findIndex((v) => v.versionId === versionIdMarker);
      versions = versionIdMarker === '' || at < 0 ? [] : versions.slice(at + 1);
    }
    for (const version of versions) entries.push({ key, version });
  }
  const page = entries.slice(0, limit);
  const truncated = entries.length > page.length;
  const last = page.at(-1);
  const items = page.map(({ key, version }) => versionEntry(bucket, key, version));
  return xmlReply(
    xmlDocument('ListVersionsResult', [
      el('Name', bucket.name),
      el('Prefix', prefix),
      el('KeyMarker', keyMarker),
      el('VersionIdMarker', versionIdMarker),
      ...(truncated && last
        ? [el('NextKeyMarker', last.key), el('NextVersionIdMarker', last.version.versionId)]
        : []),
      el('MaxKeys', limit),
      el('IsTruncated', truncated),
      ...items,
    ]),
  );
}

function versionEntry(bucket: TestBucket, key: string, version: StoredVersion): Markup {
  const common = [
    el('Key', key),
    el('VersionId', version.versionId),
    el('IsLatest', bucket.latest(key) === version),
    el('LastModified', version.lastModified.toISOString()),
  ];
  if (version.isDeleteMarker) return el('DeleteMarker', [...common, ...OWNER]);
  return el('Version', [
    ...common,
    el('ETag', version.etag ?? ''),
    el('Size', version.data?.byteLength ?? 0),
    el('StorageClass', 'STANDARD'),
    ...OWNER,
  ]);
}

/** GetBucketVersioning: no `<Status>` until versioning was first enabled. */
export function getBucketVersioning(bucket: TestBucket): Reply {
  const status = bucket.versioning === 'Unversioned' ? [] : [el('Status', bucket.versioning)];
  return xmlReply(xmlDocument('VersioningConfiguration', status));
}

/** PutBucketVersioning: `Enabled` or `Suspended`. */
export async function putBucketVersioning(request: S3Request, bucket: TestBucket): Promise<Reply> {
  const xml = (await readSmallBody(request)).toString('utf8');
  const [status] = elementTexts(xml, 'Status');
  if (
    rootElement(xml) !== 'VersioningConfiguration' ||
    (status !== 'Enabled' && status !== 'Suspended')
  ) {
    throw errors.malformedXml();
  }
  if (elementTexts(xml, 'MfaDelete').length > 0) throw errors.notImplemented('MfaDelete');
  bucket.setVersioning(status);
  return { status: 200 };
}

/** The rule S3 applies to bucket names (3–63 lowercase letters, digits, dots, hyphens). */
export function assertBucketName(name: string): void {
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) || name.includes('..')) {
    throw new S3Error(400, 'InvalidBucketName', 'The specified bucket is not valid.', {
      BucketName: name,
    });
  }
}
