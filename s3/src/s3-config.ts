import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { S3StoreError } from './s3-errors.js';

/** Where an `s3://bucket/prefix` URL points. */
export interface S3Location {
  bucket: string;
  /** The key prefix, ending with `/`, or empty for the whole bucket. */
  prefix: string;
}

/**
 * Parses `s3://bucket/prefix`. The prefix is taken literally (no percent-decoding:
 * S3 keys may contain `%`) and normalised to end with `/`; leading and doubled
 * slashes are kept out so `s3://b/notes` and `s3://b/notes/` name the same store.
 */
export function parseS3Url(url: string): S3Location {
  const match = /^s3:\/\/([^/?#]+)(?:\/([^?#]*))?$/.exec(url);
  const bucket = match?.[1];
  if (!match || bucket === undefined || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new S3StoreError(
      's3-invalid-url',
      `${url} is not an S3 location syncjournal can use. Nothing was read or written. ` +
        'Write it as s3://bucket/prefix (a bucket name of 3–63 lowercase letters, digits, dots and hyphens).',
      { url },
    );
  }
  const segments = (match[2] ?? '').split('/').filter((segment) => segment !== '');
  return { bucket, prefix: segments.length === 0 ? '' : `${segments.join('/')}/` };
}

/** The environment variables {@link clientConfigFromEnv} reads. */
export type S3Environment = Readonly<Record<string, string | undefined>>;

/**
 * The S3 client configuration for an environment, following the AWS conventions:
 * `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL` (Tigris, R2, MinIO…), `AWS_REGION`
 * (default `auto` with a custom endpoint, else `us-east-1`; S3 redirects to a bucket's
 * real region are followed), `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/
 * `AWS_SESSION_TOKEN` or `AWS_PROFILE` (else the SDK's default credential chain), and
 * `SYNCJOURNAL_S3_FORCE_PATH_STYLE=1` for servers without virtual-hosted buckets.
 *
 * Checksums are only sent and checked where the API requires them: third-party
 * servers reject or corrupt the SDK's default CRC trailers. The store sends its own
 * `x-amz-checksum-sha256` on single-part puts instead.
 */
export function clientConfigFromEnv(env: S3Environment): S3ClientConfig {
  const endpoint = nonEmpty(env.AWS_ENDPOINT_URL_S3) ?? nonEmpty(env.AWS_ENDPOINT_URL);
  const region =
    nonEmpty(env.AWS_REGION) ??
    nonEmpty(env.AWS_DEFAULT_REGION) ??
    (endpoint ? 'auto' : 'us-east-1');
  const config: S3ClientConfig = {
    region,
    followRegionRedirects: true,
    forcePathStyle: ['1', 'true', 'yes'].includes(
      (env.SYNCJOURNAL_S3_FORCE_PATH_STYLE ?? '').toLowerCase(),
    ),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
  };
  if (endpoint) config.endpoint = endpoint;
  const accessKeyId = nonEmpty(env.AWS_ACCESS_KEY_ID);
  const secretAccessKey = nonEmpty(env.AWS_SECRET_ACCESS_KEY);
  if (accessKeyId && secretAccessKey) {
    const sessionToken = nonEmpty(env.AWS_SESSION_TOKEN);
    config.credentials = sessionToken
      ? { accessKeyId, secretAccessKey, sessionToken }
      : { accessKeyId, secretAccessKey };
  } else {
    const profile = nonEmpty(env.AWS_PROFILE);
    if (profile) config.profile = profile;
  }
  return config;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
