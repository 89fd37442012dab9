import { createHash, randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import * as zlib from 'node:zlib';

/** S3's limit for a single PUT (and a single part). */
export const MAX_SINGLE_PUT = 5 * 1024 ** 3;

/**
 * An S3 error answer: status, code and message as AWS documents them, plus the extra
 * elements (`Key`, `BucketName`, `Condition`…) and headers AWS adds.
 */
export class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: Record<string, string> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Errors the handlers raise in several places, worded as AWS words them. */
export const errors = {
  noSuchBucket: (bucket: string) =>
    new S3Error(404, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket }),
  noSuchKey: (key: string, headers: Record<string, string> = {}) =>
    new S3Error(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key }, headers),
  noSuchUpload: (uploadId: string) =>
    new S3Error(
      404,
      'NoSuchUpload',
      'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
      { UploadId: uploadId },
    ),
  preconditionFailed: (condition: string) =>
    new S3Error(
      412,
      'PreconditionFailed',
      'At least one of the pre-conditions you specified did not hold',
      {
        Condition: condition,
      },
    ),
  conditionalConflict: () =>
    new S3Error(
      409,
      'ConditionalRequestConflict',
      'A conflicting conditional operation is currently in progress against this resource. Please try again.',
    ),
  notImplemented: (what: string) =>
    new S3Error(
      501,
      'NotImplemented',
      `A header or parameter you provided implies functionality that is not implemented: ${what}`,
    ),
  invalidArgument: (message: string, name: string, value: string) =>
    new S3Error(400, 'InvalidArgument', message, { ArgumentName: name, ArgumentValue: value }),
  malformedXml: () =>
    new S3Error(
      400,
      'MalformedXML',
      'The XML you provided was not well-formed or did not validate against our published schema',
    ),
};

/** A request as the handlers see it: path-style bucket and key, decoded. */
export interface S3Request {
  readonly method: string;
  readonly bucketName: string | undefined;
  /** The object key; undefined for a request on the bucket itself. */
  readonly key: string | undefined;
  /** Query parameters, percent-decoded (`+` stays `+`: the SDK encodes spaces as `%20`). */
  readonly query: ReadonlyMap<string, string>;
  readonly headers: IncomingHttpHeaders;
  readonly message: IncomingMessage;
}

/** An answer; the server adds the common headers and leaves the body out for HEAD. */
export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** The S3 error code of an error answer, for the request log. */
  errorCode?: string;
}

/** An XML answer. */
export function xmlReply(xml: string, headers: Record<string, string> = {}, status = 200): Reply {
  return { status, headers: { 'content-type': 'application/xml', ...headers }, body: xml };
}

/** Splits a path-style request URL into bucket, key and query. */
export function parseRequest(message: IncomingMessage): S3Request {
  const url = message.url ?? '/';
  const questionMark = url.indexOf('?');
  const path = questionMark < 0 ? url : url.slice(0, questionMark);
  const search = questionMark < 0 ? '' : url.slice(questionMark + 1);
  const decode = (text: string) => {
    try {
      return decodeURIComponent(text);
    } catch {
      throw new S3Error(400, 'InvalidURI', "Couldn't parse the specified URI.", { URI: url });
    }
  };
  const query = new Map<string, string>();
  for (const pair of search.split('&')) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    const name = decode(equals < 0 ? pair : pair.slice(0, equals));
    query.set(name, equals < 0 ? '' : decode(pair.slice(equals + 1)));
  }
  const rest = path.startsWith('/') ? path.slice(1) : path;
  const slash = rest.indexOf('/');
  const bucketName = decode(slash < 0 ? rest : rest.slice(0, slash)) || undefined;
  const rawKey = slash < 0 ? '' : rest.slice(slash + 1);
  return {
    method: message.method ?? 'GET',
    bucketName,
    key: rawKey === '' ? undefined : decode(rawKey),
    query,
    headers: message.headers,
    message,
  };
}

/** A header's value (the first, if repeated). */
export function header(request: S3Request, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The `x-amz-meta-*` headers as S3 stores them: names lowercased, prefix removed. */
export function userMetadata(request: S3Request): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (name.startsWith('x-amz-meta-') && value !== undefined) {
      metadata[name.slice('x-amz-meta-'.length)] = Array.isArray(value) ? value.join(',') : value;
    }
  }
  return metadata;
}

/** Reads the whole body of a request that has none to speak of (bucket configuration, part lists). */
export async function readSmallBody(request: S3Request): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request.message) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  verifyDigests(request, body);
  return body;
}

/**
 * Reads an object or part body as S3 does: `Content-Length` is required (411),
 * aws-chunked uploads are not implemented here, at most 5 GiB, and every digest
 * the client sent is checked ({@link verifyDigests}).
 */
export async function readObjectBody(request: S3Request): Promise<Buffer> {
  const contentSha = header(request, 'x-amz-content-sha256') ?? '';
  if (
    contentSha.startsWith('STREAMING-') ||
    /aws-chunked/.test(header(request, 'content-encoding') ?? '')
  ) {
    throw errors.notImplemented(
      'aws-chunked uploads (use requestChecksumCalculation: WHEN_REQUIRED)',
    );
  }
  const length = header(request, 'content-length');
  if (length === undefined) {
    throw new S3Error(
      411,
      'MissingContentLength',
      'You must provide the Content-Length HTTP header.',
    );
  }
  if (Number(length) > MAX_SINGLE_PUT) {
    throw new S3Error(
      400,
      'EntityTooLarge',
      'Your proposed upload exceeds the maximum allowed size',
      {
        ProposedSize: length,
        MaxSizeAllowed: String(MAX_SINGLE_PUT),
      },
    );
  }
  const chunks: Buffer[] = [];
  for await (const chunk of request.message) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  if (body.byteLength !== Number(length)) {
    throw new S3Error(
      400,
      'IncompleteBody',
      'You did not provide the number of bytes specified by the Content-Length HTTP header',
    );
  }
  verifyDigests(request, body);
  return body;
}

/**
 * Checks every digest the client sent against the body, as S3 does: `Content-MD5`,
 * the SigV4 payload hash `x-amz-content-sha256` (when it is a hash, not
 * `UNSIGNED-PAYLOAD`), and the flexible checksums `x-amz-checksum-sha256` and
 * `x-amz-checksum-crc32`. Other checksum algorithms are accepted unchecked.
 */
export function verifyDigests(request: S3Request, body: Buffer): void {
  const md5 = header(request, 'content-md5');
  if (md5 !== undefined) {
    if (Buffer.from(md5, 'base64').byteLength !== 16) {
      throw new S3Error(400, 'InvalidDigest', 'The Content-MD5 you specified is not valid.', {
        'Content-MD5': md5,
      });
    }
    if (createHash('md5').update(body).digest('base64') !== md5) {
      throw new S3Error(
        400,
        'BadDigest',
        'The Content-MD5 you specified did not match what we received.',
      );
    }
  }
  const payloadHash = header(request, 'x-amz-content-sha256');
  if (payloadHash !== undefined && /^[0-9a-f]{64}$/.test(payloadHash)) {
    const actual = createHash('sha256').update(body).digest('hex');
    if (actual !== payloadHash) {
      throw new S3Error(
        400,
        'XAmzContentSHA256Mismatch',
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
        {
          ClientComputedContentSHA256: payloadHash,
          S3ComputedContentSHA256: actual,
        },
      );
    }
  }
  const sha256 = header(request, 'x-amz-checksum-sha256');
  if (sha256 !== undefined && createHash('sha256').update(body).digest('base64') !== sha256) {
    throw new S3Error(
      400,
      'BadDigest',
      'The SHA256 you specified did not match the calculated checksum.',
    );
  }
  const crc32 = header(request, 'x-amz-checksum-crc32');
  if (crc32 !== undefined) {
    const value = Buffer.alloc(4);
    value.writeUInt32BE(zlib.crc32(body));
    if (value.toString('base64') !== crc32) {
      throw new S3Error(
        400,
        'BadDigest',
        'The CRC32 you specified did not match the calculated checksum.',
      );
    }
  }
}

/** A random request id, in the shape of S3's. */
export function newRequestId(): string {
  return randomBytes(8).toString('hex').toUpperCase();
}

/** S3's `x-amz-id-2`. */
export function newHostId(): string {
  return randomBytes(48).toString('base64');
}
