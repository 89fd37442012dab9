import { PreconditionFailedError, registerErrorClass, SyncJournalError } from '@syncjournal/core';

/**
 * An S3-compatible server answered in a way the store cannot trust (a listing out of
 * key order, a body shorter than its length) or an `s3://` URL is malformed. Nothing
 * was written; the caller treats the operation as failed, never as empty.
 */
export class S3StoreError extends SyncJournalError {
  constructor(
    code:
      | 's3-invalid-url'
      | 's3-unexpected-response'
      | 's3-no-credentials'
      | 's3-access-denied'
      | 's3-no-such-bucket'
      | 's3-unreachable',
    message: string,
    data: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(code, message, data, options);
  }
}

registerErrorClass('S3StoreError', S3StoreError);

/** The parts of an AWS SDK service error this store reads. */
interface SdkErrorShape {
  name?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  $response?: { headers?: Record<string, string | undefined> };
}

/** The HTTP status of an SDK error, when it came from a response. */
export function httpStatusOf(error: unknown): number | undefined {
  const status = (error as SdkErrorShape | null)?.$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

/** The S3 error code the SDK put in `name` (`NoSuchKey`, `PreconditionFailed`, …). */
export function s3CodeOf(error: unknown): string | undefined {
  const name = (error as SdkErrorShape | null)?.name;
  return typeof name === 'string' ? name : undefined;
}

/**
 * A write refused because the target is not what the condition named: 412
 * `PreconditionFailed`, or 409 `ConditionalRequestConflict` (another write to the key
 * landed while this one was in flight). AWS and Tigris answer both; the SDK surfaces
 * them by name, not by class.
 */
export function isConditionFailure(error: unknown): boolean {
  const code = s3CodeOf(error);
  if (code === 'PreconditionFailed' || code === 'ConditionalRequestConflict') return true;
  const status = httpStatusOf(error);
  return status === 412 || status === 409;
}

/**
 * The key (or the version) does not exist. A missing bucket is not a missing key: a
 * wrong bucket name must fail loudly rather than look like an empty store. HEAD
 * answers carry no body, so there a 404 is all there is.
 */
export function isMissingObject(error: unknown): boolean {
  const code = s3CodeOf(error);
  if (code === 'NoSuchKey' || code === 'NoSuchVersion' || code === 'NotFound') return true;
  if (code === 'NoSuchBucket' || code === 'NoSuchUpload') return false;
  return httpStatusOf(error) === 404;
}

/** The feature is not offered by this server (501, `NotImplemented`). */
export function isNotImplemented(error: unknown): boolean {
  return s3CodeOf(error) === 'NotImplemented' || httpStatusOf(error) === 501;
}

/** A GET or HEAD of a version that is a delete marker (S3 answers 405). */
export function isDeleteMarkerAnswer(error: unknown): boolean {
  const sdk = error as SdkErrorShape | null;
  return (
    httpStatusOf(error) === 405 &&
    (s3CodeOf(error) === 'MethodNotAllowed' ||
      sdk?.$response?.headers?.['x-amz-delete-marker'] === 'true')
  );
}

/** The conditions a write was sent with, as the SDK names them. */
export interface WriteConditions {
  IfMatch?: string;
  IfNoneMatch?: '*';
}

/**
 * A refused conditional write as the port's `PreconditionFailedError`: 412, 409, or
 * (with `If-Match`) a missing object, which AWS answers with 404. Without conditions
 * the server's error is passed on as it is.
 */
export function conditionError(error: unknown, key: string, conditions: WriteConditions): unknown {
  if (conditions.IfMatch === undefined && conditions.IfNoneMatch === undefined) return error;
  if (isConditionFailure(error)) {
    const status = httpStatusOf(error);
    return new PreconditionFailedError(
      'remote',
      key,
      `the server answered ${status ?? 'an error'} ${s3CodeOf(error) ?? ''}`.trim(),
    );
  }
  if (conditions.IfMatch !== undefined && isMissingObject(error)) {
    return new PreconditionFailedError('remote', key, 'the object no longer exists');
  }
  return error;
}

/** Refusals of the request's credentials, by S3 error code. */
const REFUSED = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
]);
/** Node's codes for a server that could not be reached at all. */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/**
 * The first requests to a bucket failed for a reason the user has to fix: no
 * credentials, credentials refused, no such bucket, or no server answering. Returns it as
 * an {@link S3StoreError} that says so, that nothing was read or written, and what to do
 * next (the SDK's own message stays in `cause` and in `data.detail`). Any other error is
 * returned as it is.
 */
export function firstContactError(
  error: unknown,
  location: { bucket: string; url: string },
): unknown {
  const { bucket, url } = location;
  const name = s3CodeOf(error);
  const status = httpStatusOf(error);
  const detail = error instanceof Error ? error.message : String(error);
  const data = {
    url,
    bucket,
    detail,
    ...(name && name !== 'Error' ? { name } : {}),
    ...(status ? { status } : {}),
  };
  const make = (code: ConstructorParameters<typeof S3StoreError>[0], message: string) =>
    new S3StoreError(code, message, data, { cause: error });
  if (name === 'CredentialsProviderError') {
    return make(
      's3-no-credentials',
      `No credentials were found for ${url} (${detail}). Nothing was read or written. ` +
        'Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), then try again.',
    );
  }
  if (name === 'NoSuchBucket') {
    return make(
      's3-no-such-bucket',
      `The bucket ${bucket} does not exist on this server. Nothing was read or written. ` +
        'Check the bucket name in the URL and the endpoint (AWS_ENDPOINT_URL), or create the bucket first.',
    );
  }
  if ((name !== undefined && REFUSED.has(name)) || status === 401 || status === 403) {
    return make(
      's3-access-denied',
      `The server refused access to ${url} (${name ?? status}: ${detail}). Nothing was read or written. ` +
        'Check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and that the key may list, read, write and delete under that prefix.',
    );
  }
  const errno = (error as { code?: unknown } | null)?.code;
  // A browser's fetch says no more than this, whether the network, the endpoint or the
  // bucket's CORS rules stood in the way (the console shows which).
  const fetchFailed = name === 'TypeError' && /fetch/i.test(detail);
  if (
    !fetchFailed &&
    !(typeof errno === 'string' && UNREACHABLE.has(errno)) &&
    name !== 'TimeoutError'
  ) {
    return error;
  }
  // A virtual-hosted request puts the bucket in the host name, which a local server's
  // name (MinIO, 127.0.0.1) cannot resolve.
  const hosted = errno === 'ENOTFOUND' && detail.includes(` ${bucket}.`);
  return make(
    's3-unreachable',
    `Could not reach the server of ${url} (${detail}). Nothing was read or written. ` +
      (fetchFailed
        ? "Check the endpoint and the network, and that the bucket's CORS rules allow this page's origin (the browser's console says which)."
        : hosted
          ? 'The host name starts with the bucket: for a server without virtual-hosted buckets (MinIO, a local server) set SYNCJOURNAL_S3_FORCE_PATH_STYLE=1.'
          : 'Check the endpoint (AWS_ENDPOINT_URL) and the network, then try again.'),
  );
}
