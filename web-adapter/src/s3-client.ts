import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';

/**
 * An S3 client set up for the browser:
 * - `cache: 'no-store'` on every fetch: the browser's HTTP cache must never answer
 *   for the bucket (a cached listing or object would be a stale view, and Chromium
 *   revalidates cached GETs with `If-None-Match` on its own);
 * - checksums only where S3 requires them: the store sends its own SHA-256, and
 *   Chromium cannot stream a request body over HTTP/1.1, so bodies go as Uint8Array;
 * - path-style addressing when `forcePathStyle` is given (MinIO, local servers).
 *
 * The bucket needs a CORS rule allowing the page's origin (docs/browser.md).
 */
export function browserS3Client(config: S3ClientConfig): S3Client {
  return new S3Client({
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...config,
    requestHandler: { cache: 'no-store' },
  });
}
