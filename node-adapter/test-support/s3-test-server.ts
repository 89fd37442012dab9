import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  assertBucketName,
  getBucketVersioning,
  listObjectsV2,
  listObjectVersions,
  putBucketVersioning,
} from './s3-server-buckets.js';
import {
  errors,
  header,
  newHostId,
  newRequestId,
  parseRequest,
  type Reply,
  readSmallBody,
  S3Error,
  type S3Request,
} from './s3-server-http.js';
import { TestBucket } from './s3-server-model.js';
import {
  abortMultipartUpload,
  completeMultipartUpload,
  createMultipartUpload,
  uploadPart,
} from './s3-server-multipart.js';
import {
  copyObject,
  deleteObject,
  getObject,
  type ObjectRequest,
  putObject,
} from './s3-server-objects.js';
import {
  corsHeaders,
  operationOf,
  preflight,
  refuseUnsupportedHeaders,
} from './s3-server-routing.js';
import { errorDocument } from './s3-server-xml.js';

export { type StoredVersion, TestBucket, type VersioningStatus } from './s3-server-model.js';
export { S3_TEST_CORS_RULE } from './s3-server-routing.js';

/** Options of {@link startS3TestServer}. */
export interface S3TestServerOptions {
  /** The port on 127.0.0.1 (default 0: any free port). */
  port?: number;
  /** Whether buckets are created with versioning enabled (default false). */
  versioning?: boolean;
  /** The smallest part but the last that CompleteMultipartUpload accepts (default 5 MiB, as S3). */
  minPartSize?: number;
  /**
   * Whether buckets are snapshot-enabled, as Tigris buckets created with
   * `X-Tigris-Enable-Snapshot: true` (default false; that header on CreateBucket
   * enables it per bucket).
   */
  snapshots?: boolean;
}

/** A fault to inject: matching requests get an S3 error answer instead of being served. */
export interface S3Fault {
  /** The S3 operation, as AWS names it: `UploadPart`, `PutObject`, `ListObjectsV2`… */
  operation: string;
  /** Only requests for this key (the full key, prefix included). */
  key?: string;
  /** Only this part number (UploadPart). */
  partNumber?: number;
  /** How many matching requests fail (default 1; `Infinity` for all). */
  times?: number;
  /** The answer's status and code (default 500 `InternalError`, which the SDK retries). */
  status?: number;
  code?: string;
}

/** One request the server answered. */
export interface S3RequestRecord {
  operation: string;
  bucket: string | undefined;
  key: string | undefined;
  status: number;
  /** The error code, for error answers. */
  code?: string;
}

/** A running {@link startS3TestServer}. */
export interface S3TestServer {
  /** The endpoint for path-style requests, `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Stops listening and closes every connection. */
  stop(): Promise<void>;
  /** The bucket `name`, created if missing (versioned per the server's option): for setup and inspection. */
  bucket(name: string): TestBucket;
  /** Makes matching requests fail; see {@link S3Fault}. */
  injectFault(fault: S3Fault): void;
  /** Removes every injected fault that is still armed. */
  clearFaults(): void;
  /** Every request answered so far, oldest first. */
  readonly requests: readonly S3RequestRecord[];
  /** Requests received and not yet answered (a test can wait for one to be in flight). */
  readonly activeRequests: number;
}

/**
 * A small S3-compatible server on `node:http`, bound to 127.0.0.1, holding buckets in
 * memory. It implements what `S3Store` uses, as AWS documents it: path-style requests;
 * CreateBucket, HeadBucket; ListObjectsV2 (prefix, delimiter, continuation-token,
 * max-keys, start-after); HeadObject/GetObject (with versionId); PutObject with user metadata,
 * verified checksums and the `If-None-Match`/`If-Match` conditions (412, 404 for
 * `If-Match` on a missing key, 409 when another write to the key landed meanwhile);
 * DeleteObject (with `If-Match` and versionId); CopyObject; Get/PutBucketVersioning,
 * ListObjectVersions and delete markers; multipart uploads with conditions on
 * completion; CORS preflight (`S3_TEST_CORS_RULE`). Error answers are S3's XML.
 *
 * SigV4: the `Authorization` header is accepted without checking the signature (any
 * credentials, or none, are let in); only the payload hash `x-amz-content-sha256` is
 * verified. Whatever else S3 offers (ranges, delimiters on version listings, tagging, aws-chunked bodies,
 * conditional reads…) is answered 501 NotImplemented, so a client that starts relying
 * on it fails loudly here rather than passing against a lenient fake.
 */
export async function startS3TestServer(options: S3TestServerOptions = {}): Promise<S3TestServer> {
  const buckets = new Map<string, TestBucket>();
  const faults: (S3Fault & { left: number })[] = [];
  const requests: S3RequestRecord[] = [];
  const minPartSize = options.minPartSize ?? 5 * 1024 * 1024;
  const newBucket = (name: string, snapshots = options.snapshots ?? false) =>
    new TestBucket(name, options.versioning ? 'Enabled' : 'Unversioned', { snapshots });
  const findBucket = (name: string) => {
    const bucket = buckets.get(name);
    if (!bucket) throw errors.noSuchBucket(name);
    return bucket;
  };

  const perform = async (operation: string, request: S3Request): Promise<Reply> => {
    const name = request.bucketName ?? '';
    if (operation === 'CreateBucket') {
      assertBucketName(name);
      await readSmallBody(request);
      // Tigris takes a snapshot with CreateBucket on the existing bucket and this header
      // (`true`, optionally `; name=…`), and answers the snapshot's version.
      const takeSnapshot = header(request, 'x-tigris-snapshot');
      if (takeSnapshot !== undefined && /^\s*true\b/i.test(takeSnapshot)) {
        const bucket = findBucket(name);
        if (!bucket.snapshots) {
          throw new S3Error(400, 'InvalidRequest', 'Snapshots are not enabled on this bucket.');
        }
        return { status: 200, headers: { 'x-tigris-snapshot-version': bucket.takeSnapshot() } };
      }
      if (buckets.has(name)) {
        throw new S3Error(
          409,
          'BucketAlreadyOwnedByYou',
          'Your previous request to create the named bucket succeeded and you already own it.',
          {
            BucketName: name,
          },
        );
      }
      const enable = header(request, 'x-tigris-enable-snapshot');
      buckets.set(name, newBucket(name, enable === undefined ? undefined : enable === 'true'));
      return { status: 200, headers: { location: `/${name}` } };
    }
    const bucket = findBucket(name);
    switch (operation) {
      case 'HeadBucket':
        return {
          status: 200,
          headers: {
            'x-amz-bucket-region': 'us-east-1',
            ...(bucket.snapshots ? { 'x-tigris-enable-snapshot': 'true' } : {}),
          },
        };
      case 'ListObjectsV2':
        return listObjectsV2(request, bucket);
      case 'ListObjectVersions':
        return listObjectVersions(request, bucket);
      case 'GetBucketVersioning':
        return getBucketVersioning(bucket);
      case 'PutBucketVersioning':
        return putBucketVersioning(request, bucket);
    }
    const key = request.key ?? '';
    if (Buffer.byteLength(key) > 1024) {
      throw new S3Error(400, 'KeyTooLongError', 'Your key is too long', {
        Size: String(Buffer.byteLength(key)),
      });
    }
    const target: ObjectRequest = { request, bucket, key };
    switch (operation) {
      case 'PutObject':
        return putObject(target);
      case 'GetObject':
      case 'HeadObject':
        return getObject(target);
      case 'DeleteObject':
        return deleteObject(target);
      case 'CopyObject':
        return copyObject(target, findBucket);
      case 'CreateMultipartUpload':
        return createMultipartUpload(target);
      case 'UploadPart':
        return uploadPart(target);
      case 'CompleteMultipartUpload':
        return completeMultipartUpload(target, minPartSize);
      case 'AbortMultipartUpload':
        return abortMultipartUpload(target);
    }
    throw errors.notImplemented(`the operation ${operation}`);
  };

  const takeFault = (operation: string, request: S3Request): S3Fault | undefined => {
    const index = faults.findIndex(
      (fault) =>
        fault.operation === operation &&
        (fault.key === undefined || fault.key === request.key) &&
        (fault.partNumber === undefined ||
          String(fault.partNumber) === request.query.get('partNumber')),
    );
    const fault = faults[index];
    if (!fault) return undefined;
    if (--fault.left <= 0) faults.splice(index, 1);
    return fault;
  };

  let activeRequests = 0;
  const serve = async (message: IncomingMessage, response: ServerResponse): Promise<void> => {
    const requestId = newRequestId();
    let operation = 'Unknown';
    let request: S3Request | undefined;
    let reply: Reply;
    try {
      request = parseRequest(message);
      if (request.method === 'OPTIONS') {
        operation = 'PreflightRequest';
        reply = preflight(request, (name) => buckets.has(name));
      } else {
        operation = operationOf(request);
        refuseUnsupportedHeaders(operation, request);
        const fault = takeFault(operation, request);
        if (fault) {
          throw new S3Error(
            fault.status ?? 500,
            fault.code ?? 'InternalError',
            `Injected fault for ${operation}.`,
          );
        }
        reply = await perform(operation, request);
      }
    } catch (error) {
      reply = errorReply(error, requestId, message.method === 'HEAD');
    }
    if (!message.readableEnded) {
      message.resume();
      await once(message, 'end').catch(() => undefined);
    }
    const headers: Record<string, string> = {
      'x-amz-request-id': requestId,
      'x-amz-id-2': newHostId(),
      date: new Date().toUTCString(),
      server: 'syncjournal-s3-test-server',
      ...corsHeaders(message),
      ...reply.headers,
    };
    const body = message.method === 'HEAD' ? undefined : reply.body;
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    else if (headers['content-length'] === undefined) headers['content-length'] = '0';
    response.writeHead(reply.status, headers);
    response.end(body);
    requests.push({
      operation,
      bucket: request?.bucketName,
      key: request?.key,
      status: reply.status,
      ...(reply.errorCode === undefined ? {} : { code: reply.errorCode }),
    });
  };

  const server = createServer((message, response) => {
    activeRequests++;
    serve(message, response)
      .catch((error: unknown) => {
        response.destroy(error instanceof Error ? error : new Error(String(error)));
      })
      .finally(() => {
        activeRequests--;
      });
  });
  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get activeRequests() {
      return activeRequests;
    },
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
    bucket(name) {
      assertBucketName(name);
      let bucket = buckets.get(name);
      if (!bucket) {
        bucket = newBucket(name);
        buckets.set(name, bucket);
      }
      return bucket;
    },
    injectFault(fault) {
      faults.push({ ...fault, left: fault.times ?? 1 });
    },
    clearFaults() {
      faults.length = 0;
    },
  };
}

/** An error answer: S3's XML document (no body for HEAD), or a 500 for a bug in the server. */
function errorReply(error: unknown, requestId: string, isHead: boolean): Reply {
  const s3 =
    error instanceof S3Error
      ? error
      : new S3Error(500, 'InternalError', `We encountered an internal error: ${String(error)}`);
  const headers: Record<string, string> = { ...s3.headers };
  if (isHead) return { status: s3.status, headers, errorCode: s3.code };
  const body = errorDocument(s3.code, s3.message, {
    ...s3.fields,
    RequestId: requestId,
    HostId: newHostId(),
  });
  return {
    status: s3.status,
    headers: { ...headers, 'content-type': 'application/xml' },
    body,
    errorCode: s3.code,
  };
}
