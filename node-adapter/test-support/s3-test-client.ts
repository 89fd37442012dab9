import { S3Client } from '@aws-sdk/client-s3';

/**
 * An SDK client for a local S3 server: path-style, a fixed region, checksums only
 * where required (as S3Store configures them), retries on, and the given credentials
 * (the test server ignores them; s3rver checks signatures made with its own).
 */
export function s3TestClient(
  endpoint: string,
  credentials = { accessKeyId: 'syncjournal-test', secretAccessKey: 'syncjournal-test' },
): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
  });
}
