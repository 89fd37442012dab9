import type { IncomingMessage } from 'node:http';
import { errors, header, type Reply, S3Error, type S3Request } from './s3-server-http.js';

/**
 * The CORS rule every bucket has: any origin, the methods a browser client needs,
 * any request header, and the response headers syncjournal reads exposed — the rule
 * docs/browser.md tells users to set.
 */
export const S3_TEST_CORS_RULE = {
  allowedOrigins: ['*'],
  allowedMethods: ['GET', 'PUT', 'POST', 'DELETE', 'HEAD'],
  allowedHeaders: ['*'],
  // A page reads only the response headers a rule exposes: syncjournal needs the ETag,
  // the SHA-256 it records as metadata, and version ids (docs/browser.md).
  exposeHeaders: ['ETag', 'x-amz-meta-sha256', 'x-amz-version-id', 'x-amz-delete-marker'],
} as const;

/** Query parameters each operation understands; any other is answered 501. */
const OPERATION_PARAMS: Readonly<Record<string, readonly string[]>> = {
  ListObjectsV2: [
    'list-type',
    'prefix',
    'continuation-token',
    'max-keys',
    'start-after',
    'delimiter',
    'encoding-type',
    'fetch-owner',
    'optional-object-attributes',
  ],
  ListObjectVersions: [
    'versions',
    'prefix',
    'key-marker',
    'version-id-marker',
    'max-keys',
    'delimiter',
    'encoding-type',
  ],
  GetBucketVersioning: ['versioning'],
  PutBucketVersioning: ['versioning'],
  GetObject: ['versionId'],
  HeadObject: ['versionId'],
  DeleteObject: ['versionId'],
  CreateMultipartUpload: ['uploads'],
  UploadPart: ['partNumber', 'uploadId'],
  CompleteMultipartUpload: ['uploadId'],
  AbortMultipartUpload: ['uploadId'],
};

/** The S3 operation a path-style request asks for, by method, key and subresource. */
export function operationOf(request: S3Request): string {
  const { method, key, query } = request;
  const has = (name: string) => query.has(name);
  let operation = 'Unknown';
  if (request.bucketName === undefined) {
    operation = method === 'GET' ? 'ListBuckets' : 'Unknown';
  } else if (key === undefined) {
    if (method === 'PUT') operation = has('versioning') ? 'PutBucketVersioning' : 'CreateBucket';
    else if (method === 'HEAD') operation = 'HeadBucket';
    else if (method === 'GET') {
      if (has('versioning')) operation = 'GetBucketVersioning';
      else if (has('versions')) operation = 'ListObjectVersions';
      else if (query.get('list-type') === '2') operation = 'ListObjectsV2';
      else operation = 'ListObjects';
    } else if (method === 'DELETE') operation = 'DeleteBucket';
    else if (method === 'POST') operation = has('delete') ? 'DeleteObjects' : 'PostObject';
  } else if (method === 'PUT') {
    const copy = header(request, 'x-amz-copy-source') !== undefined;
    if (has('uploadId')) operation = copy ? 'UploadPartCopy' : 'UploadPart';
    else operation = copy ? 'CopyObject' : 'PutObject';
  } else if (method === 'GET') operation = has('uploadId') ? 'ListParts' : 'GetObject';
  else if (method === 'HEAD') operation = 'HeadObject';
  else if (method === 'DELETE')
    operation = has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
  else if (method === 'POST') {
    if (has('uploads')) operation = 'CreateMultipartUpload';
    else if (has('uploadId')) operation = 'CompleteMultipartUpload';
  }
  const allowed = OPERATION_PARAMS[operation] ?? [];
  for (const name of query.keys()) {
    if (name !== 'x-id' && !allowed.includes(name)) {
      throw errors.notImplemented(`the ${name} parameter of ${operation}`);
    }
  }
  return operation;
}

/** Headers that ask for S3 features this server does not have. */
const UNSUPPORTED_HEADERS: Readonly<Record<string, readonly string[]>> = {
  read: [
    'range',
    'if-match',
    'if-none-match',
    'if-modified-since',
    'if-unmodified-since',
    'x-amz-checksum-mode',
  ],
  write: [
    'x-amz-tagging',
    'x-amz-object-lock-mode',
    'x-amz-object-lock-retain-until-date',
    'x-amz-object-lock-legal-hold',
    'x-amz-server-side-encryption-customer-algorithm',
    'x-amz-website-redirect-location',
    'x-amz-checksum-algorithm',
    'if-modified-since',
    'if-unmodified-since',
  ],
};

export function refuseUnsupportedHeaders(operation: string, request: S3Request): void {
  const kind =
    operation === 'GetObject' || operation === 'HeadObject'
      ? 'read'
      : ['PutObject', 'CopyObject', 'CreateMultipartUpload'].includes(operation)
        ? 'write'
        : undefined;
  for (const name of kind ? (UNSUPPORTED_HEADERS[kind] ?? []) : []) {
    if (request.headers[name] !== undefined) throw errors.notImplemented(`the ${name} header`);
  }
}

/** A CORS preflight, judged by {@link S3_TEST_CORS_RULE}. */
export function preflight(request: S3Request, bucketExists: (name: string) => boolean): Reply {
  const origin = header(request, 'origin');
  const method = header(request, 'access-control-request-method');
  if (!origin || !method) {
    throw new S3Error(400, 'BadRequest', 'Insufficient information. Origin request header needed.');
  }
  if (request.bucketName === undefined || !bucketExists(request.bucketName)) {
    throw new S3Error(403, 'AccessForbidden', 'CORSResponse: Bucket not found');
  }
  if (!(S3_TEST_CORS_RULE.allowedMethods as readonly string[]).includes(method.toUpperCase())) {
    throw new S3Error(
      403,
      'AccessForbidden',
      "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
      { Method: method, ResourceType: request.key === undefined ? 'BUCKET' : 'OBJECT' },
    );
  }
  const requested = header(request, 'access-control-request-headers');
  return {
    status: 200,
    headers: requested ? { 'access-control-allow-headers': requested } : {},
  };
}

/** The CORS headers S3 adds to any answer to a request with an `Origin`. */
export function corsHeaders(message: IncomingMessage): Record<string, string> {
  if (message.headers.origin === undefined) return {};
  return {
    'access-control-allow-origin': '*',
    'access-control-allow-methods': S3_TEST_CORS_RULE.allowedMethods.join(', '),
    'access-control-expose-headers': S3_TEST_CORS_RULE.exposeHeaders.join(', '),
    vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
  };
}
