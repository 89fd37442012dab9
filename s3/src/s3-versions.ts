import {
  type DeleteMarkerEntry,
  ListObjectVersionsCommand,
  type ObjectVersion,
  type S3Client,
} from '@aws-sdk/client-s3';
import { concatBytes, type RemoteVersion } from '@syncjournal/core';
import { S3StoreError } from './s3-errors.js';

/**
 * Every version and delete marker of exactly `objectKey`, newest first.
 *
 * ListObjectVersions interleaves versions and delete markers in the order S3 keeps
 * them (newest first per key), but the SDK parses them into two separate arrays, and
 * their `LastModified` (often whole seconds) cannot restore the order. So the raw
 * XML is read alongside the parsed answer, and the version ids are put back in the
 * order the server sent them. Listing uses `objectKey` as the prefix and stops at the
 * first other key, so `doc` never picks up `doc2` or `doc/x`.
 */
export async function listKeyVersions(
  client: S3Client,
  bucket: string,
  objectKey: string,
  key: string,
): Promise<RemoteVersion[]> {
  const versions: RemoteVersion[] = [];
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  for (;;) {
    const command = new ListObjectVersionsCommand({
      Bucket: bucket,
      Prefix: objectKey,
      KeyMarker: keyMarker,
      VersionIdMarker: versionIdMarker,
    });
    const raw = captureRawBody(command);
    const page = await client.send(command);
    const order = new Map(entryOrder(raw.text()).map((id, index) => [id, index]));
    const entries = [
      ...(page.Versions ?? []).map((v) => toVersion(v, false)),
      ...(page.DeleteMarkers ?? []).map((m) => toVersion(m, true)),
    ];
    const position = (entry: { objectKey: string | undefined; versionId: string }) =>
      order.get(`${entry.objectKey}\u0000${entry.versionId}`) ?? -1;
    if (entries.some((entry) => position(entry) < 0)) {
      throw new S3StoreError(
        's3-unexpected-response',
        `The version listing of ${key} could not be read in order. Nothing was changed.`,
        { key },
      );
    }
    entries.sort((a, b) => position(a) - position(b));
    for (const { objectKey: entryKey, ...version } of entries) {
      if (entryKey !== objectKey) return versions;
      versions.push(version);
    }
    if (!page.IsTruncated) return versions;
    keyMarker = page.NextKeyMarker;
    versionIdMarker = page.NextVersionIdMarker;
    if (keyMarker === undefined) {
      throw new S3StoreError(
        's3-unexpected-response',
        `The version listing of ${key} was cut short without a marker to continue from.`,
        { key },
      );
    }
  }
}

function toVersion(
  entry: ObjectVersion | DeleteMarkerEntry,
  isDeleteMarker: boolean,
): RemoteVersion & { objectKey: string | undefined } {
  const etag = 'ETag' in entry ? entry.ETag : undefined;
  const size = 'Size' in entry ? entry.Size : undefined;
  return {
    objectKey: entry.Key,
    versionId: entry.VersionId ?? 'null',
    etag: etag ?? null,
    size: size ?? 0,
    lastModified: entry.LastModified?.toISOString() ?? null,
    isLatest: entry.IsLatest ?? false,
    isDeleteMarker,
  };
}

/** `key NUL versionId` of each `<Version>` and `<DeleteMarker>` entry, in document order. */
function entryOrder(xml: string): string[] {
  const ids: string[] = [];
  for (const match of xml.matchAll(/<(Version|DeleteMarker)>([\s\S]*?)<\/\1>/g)) {
    const body = match[2] ?? '';
    const key = /<Key>([\s\S]*?)<\/Key>/.exec(body)?.[1];
    const id = /<VersionId>([\s\S]*?)<\/VersionId>/.exec(body)?.[1];
    if (key !== undefined && id !== undefined) {
      ids.push(`${unescapeXml(key)}\u0000${unescapeXml(id)}`);
    }
  }
  return ids;
}

function unescapeXml(text: string): string {
  return text.replace(/&(lt|gt|quot|apos|amp|#x[0-9a-fA-F]+|#[0-9]+);/g, (_, entity: string) => {
    if (entity.startsWith('#x')) return String.fromCodePoint(Number.parseInt(entity.slice(2), 16));
    if (entity.startsWith('#')) return String.fromCodePoint(Number.parseInt(entity.slice(1), 10));
    return { lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' }[entity] ?? '';
  });
}

/**
 * Reads the raw response body of `command` before the SDK parses it: a middleware at
 * the innermost place of the deserialize step collects the body and hands the same
 * bytes on, so parsing is unchanged.
 */
function captureRawBody(command: ListObjectVersionsCommand): { text(): string } {
  let text = '';
  command.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      const response = result.response as { body?: unknown };
      const body = response.body;
      if (body && typeof body === 'object' && Symbol.asyncIterator in body) {
        const chunks: Uint8Array[] = [];
        for await (const chunk of body as AsyncIterable<Uint8Array>) chunks.push(chunk);
        const bytes = concatBytes(chunks);
        text = new TextDecoder().decode(bytes);
        response.body = bytes;
      } else if (body instanceof Uint8Array) {
        text = new TextDecoder().decode(body);
      }
      return result;
    },
    { step: 'deserialize', priority: 'low', name: 'syncjournalRawVersionOrder' },
  );
  return { text: () => text };
}
