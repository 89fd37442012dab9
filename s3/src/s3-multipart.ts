import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { BodySource } from '@syncjournal/core';
import { type BodyDigest, partsOf } from './s3-body.js';
import { S3StoreError } from './s3-errors.js';

/** S3 allows at most this many parts in one upload. */
const MAX_PARTS = 10_000;

/** One multipart upload: where to, what, and how. */
export interface MultipartRequest {
  client: S3Client;
  bucket: string;
  /** The full object key (prefix included). */
  objectKey: string;
  /** The key as the port names it, for messages. */
  key: string;
  body: BodySource;
  digest: BodyDigest;
  /** User metadata stored with the object (`x-amz-meta-*`). */
  metadata: Record<string, string>;
  ifMatch?: string;
  ifNoneMatch?: '*';
  partSize: number;
  concurrency: number;
}

/** What CompleteMultipartUpload answered. */
export interface MultipartResult {
  etag: string;
  versionId: string | undefined;
}

/**
 * Uploads a body in parts: CreateMultipartUpload, UploadPart with at most
 * `concurrency` parts in flight, then CompleteMultipartUpload carrying the put's
 * conditions (S3 evaluates them when the object appears, not when the upload starts).
 * The body's size and SHA-256 are checked before completing. On any failure the
 * upload is aborted, so no object and no stored parts are left; the original error is
 * thrown. (Should the abort itself fail, the parts stay until the bucket's lifecycle
 * rule for incomplete uploads removes them.)
 */
export async function uploadMultipart(request: MultipartRequest): Promise<MultipartResult> {
  const { client, bucket, objectKey } = request;
  const size = request.digest.declaredSize;
  const partSize = Math.max(request.partSize, Math.ceil(size / MAX_PARTS));
  const created = await client.send(
    new CreateMultipartUploadCommand({
      Bucket: bucket,
      Key: objectKey,
      Metadata: request.metadata,
    }),
  );
  const uploadId = created.UploadId;
  if (!uploadId) {
    throw new S3StoreError(
      's3-unexpected-response',
      `The server started an upload of ${request.key} without an upload id. Nothing was written.`,
      { key: request.key },
    );
  }
  try {
    const parts = await uploadParts(request, uploadId, partSize);
    request.digest.finish(request.key);
    const done = await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: objectKey,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts },
        IfMatch: request.ifMatch,
        IfNoneMatch: request.ifNoneMatch,
      }),
    );
    if (!done.ETag) {
      throw new S3StoreError(
        's3-unexpected-response',
        `The server completed the upload of ${request.key} without an ETag.`,
        { key: request.key },
      );
    }
    return { etag: done.ETag, versionId: done.VersionId };
  } catch (error) {
    await client
      .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: objectKey, UploadId: uploadId }))
      .catch(() => undefined);
    throw error;
  }
}

/**
 * Reads the body part by part and uploads the parts, `concurrency` at a time. Parts
 * still in flight are waited for before any failure is thrown, so the abort that
 * follows is not overtaken by a late part.
 */
async function uploadParts(
  request: MultipartRequest,
  uploadId: string,
  partSize: number,
): Promise<CompletedPart[]> {
  const { client, bucket, objectKey } = request;
  const completed: CompletedPart[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  const uploadPart = async (partNumber: number, bytes: Uint8Array): Promise<void> => {
    try {
      const answer = await client.send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: objectKey,
          UploadId: uploadId,
          PartNumber: partNumber,
          Body: bytes,
          ContentLength: bytes.byteLength,
        }),
      );
      if (!answer.ETag) {
        throw new S3StoreError(
          's3-unexpected-response',
          `The server stored part ${partNumber} of ${request.key} without an ETag.`,
          { key: request.key, partNumber },
        );
      }
      completed.push({ PartNumber: partNumber, ETag: answer.ETag });
    } catch (error) {
      failure ??= { error };
    }
  };
  try {
    let partNumber = 0;
    for await (const bytes of partsOf(request.key, request.body, partSize, request.digest)) {
      if (failure) break;
      partNumber++;
      const upload: Promise<void> = uploadPart(partNumber, bytes).finally(() =>
        inFlight.delete(upload),
      );
      inFlight.add(upload);
      if (inFlight.size >= request.concurrency) await Promise.race(inFlight);
    }
  } finally {
    await Promise.all(inFlight);
  }
  if (failure) throw failure.error;
  return completed.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
}
