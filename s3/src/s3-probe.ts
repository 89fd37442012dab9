import {
  DeleteObjectCommand,
  GetBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { httpStatusOf, isConditionFailure, isNotImplemented, s3CodeOf } from './s3-errors.js';

/** Where probe objects are written, under the store's prefix. */
export const PROBE_DIR = '.syncjournal/probe/';

/** An ETag no object has, for conditions that must fail. */
const NO_SUCH_ETAG = '"00000000000000000000000000000000"';

/**
 * Whether the bucket keeps old versions: GetBucketVersioning says `Enabled`.
 * `Suspended` or never enabled is no; so is a server that does not offer the call
 * (501) or a credential that may not read it (403): without knowing, the engine
 * must not rely on versions and keeps its own trash copies instead.
 */
export async function detectVersioning(client: S3Client, bucket: string): Promise<boolean> {
  try {
    const answer = await client.send(new GetBucketVersioningCommand({ Bucket: bucket }));
    return answer.Status === 'Enabled';
  } catch (error) {
    if (
      isNotImplemented(error) ||
      s3CodeOf(error) === 'AccessDenied' ||
      httpStatusOf(error) === 403
    ) {
      return false;
    }
    throw error;
  }
}

/**
 * Whether the server enforces the conditions the port relies on, found by trying them
 * on a probe object under `<prefix>.syncjournal/probe/<random>`: a second put with
 * `If-None-Match: *` must be refused, and so must a put and a delete with an
 * `If-Match` ETag that is not the object's. A server that ignores any of them (s3rver
 * ignores all) or rejects the headers as not implemented is judged to have none.
 *
 * The probe object is removed afterwards: every version it made is deleted by id, so a
 * versioned bucket keeps no probe versions or delete markers; where the server gives
 * no version ids, a plain delete removes it.
 */
export async function probeConditionalWrites(
  client: S3Client,
  bucket: string,
  prefix: string,
): Promise<boolean> {
  const Key = `${prefix}${PROBE_DIR}${crypto.randomUUID()}`;
  const versionIds: string[] = [];
  const put = async (conditions: { IfNoneMatch?: string; IfMatch?: string }) => {
    const answer = await client.send(
      new PutObjectCommand({ Bucket: bucket, Key, Body: PROBE_BODY, ...conditions }),
    );
    if (answer.VersionId) versionIds.push(answer.VersionId);
  };
  /** Whether the action was refused as a failed condition; other errors are thrown. */
  const refused = async (action: () => Promise<unknown>): Promise<boolean> => {
    try {
      await action();
      return false;
    } catch (error) {
      if (isConditionFailure(error)) return true;
      if (isNotImplemented(error)) return false;
      throw error;
    }
  };
  let wrote = false;
  try {
    try {
      await put({ IfNoneMatch: '*' });
      wrote = true;
    } catch (error) {
      if (isNotImplemented(error)) return false;
      throw error;
    }
    if (!(await refused(() => put({ IfNoneMatch: '*' })))) return false;
    if (!(await refused(() => put({ IfMatch: NO_SUCH_ETAG })))) return false;
    return await refused(async () => {
      const answer = await client.send(
        new DeleteObjectCommand({ Bucket: bucket, Key, IfMatch: NO_SUCH_ETAG }),
      );
      if (answer.VersionId) versionIds.push(answer.VersionId);
    });
  } finally {
    if (wrote) await removeProbe(client, bucket, Key, versionIds);
  }
}

const PROBE_BODY = new TextEncoder().encode('syncjournal capability probe\n');

async function removeProbe(
  client: S3Client,
  bucket: string,
  Key: string,
  versionIds: readonly string[],
): Promise<void> {
  let plainDelete = versionIds.length === 0;
  try {
    for (const VersionId of new Set(versionIds)) {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key, VersionId }));
    }
  } catch (error) {
    // Without s3:DeleteObjectVersion a delete marker has to do: the listing stays clean.
    if (s3CodeOf(error) !== 'AccessDenied' && httpStatusOf(error) !== 403) throw error;
    plainDelete = true;
  }
  if (plainDelete) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key }));
}
