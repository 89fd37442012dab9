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
 * What a put recorded about an object, next to the data file's identity at that time.
 * The record is believed only while the data file still has that size, mtime and
 * inode: a hand edit, a copy of the folder or a crash between the data rename and
 * the sidecar rename all make it stale, and a stale record is ignored.
 */
export interface Sidecar {
  key: string;
  sha256: string;
  etag: string;
  size: number;
  mtimeMs: number;
  ino: number;
}

/** The identity of a data file that a sidecar is checked against. */
export type FileIdentity = Pick<Stats, 'size' | 'mtimeMs' | 'ino' | 'mtime'>;

/** The ETag of bytes written through the store: the first 128 bits of their SHA-256. */
export function contentEtag(sha256: string): string {
  return `"${sha256.slice(0, 32)}"`;
}

/** The ETag of a file the store did not write (or that changed since): its stat identity. */
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
  'lstatSync' | 'readFileSync' | 'statSync' | 'readdirSync'
>;

/** {@link readSidecar} with blocking reads: a sidecar is a few hundred bytes. */
export function readSidecarSync(
  fs: FolderStoreSyncFs,
  metaDir: string,
  key: string,
): Sidecar | undefined {
  let text: string;
  try {
    text = fs.readFileSync(sidecarPath(metaDir, key), 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'ENOTDIR')) return undefined;
    throw error;
  }
  return sidecarOf(text, key);
}

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
    typeof record.etag === 'string' &&
    typeof record.size === 'number' &&
    typeof record.mtimeMs === 'number' &&
    typeof record.ino === 'number';
  return ok ? (record as unknown as Sidecar) : undefined;
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

/** The object a data file and its sidecar describe; a stale or missing sidecar gives no SHA-256. */
export function objectOf(
  key: string,
  stats: FileIdentity,
  sidecar: Sidecar | undefined,
): RemoteObject {
  const fresh = sidecarMatches(sidecar, stats) ? sidecar : undefined;
  return {
    key,
    size: stats.size,
    etag: fresh ? fresh.etag : statEtag(stats),
    versionId: null,
    sha256: fresh ? fresh.sha256 : null,
    lastModified: stats.mtime.toISOString(),
  };
}
