import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import type { RemoteObject } from '@syncjournal/core';
import {
  createInFolder,
  type FolderStoreFs,
  isErrno,
  removeQuietly,
  tempPath,
} from './folder-store-io.js';

/**
 * What a put recorded about an object (its content SHA-256), next to the data file's
 * identity at that time. The record is believed only while the data file still has
 * that size, mtime and inode: a hand edit, a copy of the folder or a crash between
 * the data rename and the sidecar rename all make it stale, and a stale record is
 * ignored. Records written before ETags became stat identities also hold an `etag`
 * field; it is ignored.
 */
export interface Sidecar {
  key: string;
  sha256: string;
  size: number;
  mtimeMs: number;
  ino: number;
}

/** The identity of a data file that a sidecar is checked against. */
export type FileIdentity = Pick<Stats, 'size' | 'mtimeMs' | 'ino' | 'mtime'>;

/**
 * The ETag of a data file: its stat identity (size, mtime, inode), which changes
 * whenever the file is replaced or edited, by the store or by hand. It needs no
 * record beside the file, so a listing is one lstat per object; the content SHA-256
 * is in the sidecar, which {@link FolderStore.head} reads and a listing does not.
 */
export function statEtag(stats: FileIdentity): string {
  return `"s-${stats.size}-${stats.mtimeMs}-${stats.ino}"`;
}

/**
 * Where the sidecar of `key` lives: `<metaDir>/<hh>/<sha256(key)>.json`. Hashed rather
 * than mirroring the key, because a mirrored `<key>.json` collides with a directory
 * (`x` next to `x.json/y`) and can exceed the file-name limit; the record names its key.
 */
export function sidecarPath(metaDir: string, key: string): string {
  const digest = createHash('sha256').update(key, 'utf8').digest('hex');
  return join(metaDir, digest.slice(0, 2), `${digest}.json`);
}

/** The sidecar of `key`, or `undefined` when there is none or it is unreadable as a record. */
export async function readSidecar(
  fs: FolderStoreFs,
  metaDir: string,
  key: string,
): Promise<Sidecar | undefined> {
  let text: string;
  try {
    text = await fs.readFile(sidecarPath(metaDir, key), 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'ENOTDIR')) return undefined;
    throw error;
  }
  return sidecarOf(text, key);
}

/** The blocking calls a listing may use instead of a round trip to the threadpool per file. */
export type FolderStoreSyncFs = Pick<
  typeof import('node:fs'),
  'lstatSync' | 'statSync' | 'readdirSync'
>;

function sidecarOf(text: string, key: string): Sidecar | undefined {
  const parsed = parseSidecar(text);
  return parsed?.key === key ? parsed : undefined;
}

function parseSidecar(text: string): Sidecar | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // Sidecars are replaced by rename, so a torn one means someone else wrote it; it is only a cache.
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  const ok =
    typeof record.key === 'string' &&
    typeof record.sha256 === 'string' &&
    typeof record.size === 'number' &&
    typeof record.mtimeMs === 'number' &&
    typeof record.ino === 'number';
  if (!ok) return undefined;
  const { key, sha256, size, mtimeMs, ino } = record as unknown as Sidecar;
  return { key, sha256, size, mtimeMs, ino };
}

/** Writes a sidecar atomically: a temp file renamed over the old record. */
export async function writeSidecar(
  fs: FolderStoreFs,
  metaDir: string,
  tmpDir: string,
  sidecar: Sidecar,
): Promise<void> {
  const target = sidecarPath(metaDir, sidecar.key);
  const temp = tempPath(tmpDir);
  await createInFolder(fs, temp, () =>
    fs.writeFile(temp, `${JSON.stringify(sidecar)}\n`, { flag: 'wx' }),
  );
  try {
    await createInFolder(fs, target, () => fs.rename(temp, target));
  } catch (error) {
    await removeQuietly(fs, temp);
    throw error;
  }
}

/** Removes the sidecar of `key` if there is one. */
export function removeSidecar(fs: FolderStoreFs, metaDir: string, key: string): Promise<void> {
  return removeQuietly(fs, sidecarPath(metaDir, key));
}

/** True when `sidecar` was written for the data file as it is now. */
export function sidecarMatches(sidecar: Sidecar | undefined, stats: FileIdentity): boolean {
  return (
    sidecar !== undefined &&
    sidecar.size === stats.size &&
    sidecar.mtimeMs === stats.mtimeMs &&
    sidecar.ino === stats.ino
  );
}

/**
 * The object a data file describes, with the SHA-256 of its sidecar when that is
 * fresh; a stale, missing or unread (`undefined`) sidecar gives no SHA-256.
 */
export function objectOf(
  key: string,
  stats: FileIdentity,
  sidecar: Sidecar | undefined,
): RemoteObject {
  return {
    key,
    size: stats.size,
    etag: statEtag(stats),
    versionId: null,
    sha256: sidecarMatches(sidecar, stats) ? sidecar!.sha256 : null,
    lastModified: stats.mtime.toISOString(),
  };
}
