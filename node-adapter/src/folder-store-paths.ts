import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { SyncJournalError } from '@syncjournal/core';
import { type FolderStoreFs, isErrno } from './folder-store-io.js';
import { isReservedKey, STORE_DIR } from './folder-store-keys.js';

/** The data file of `key` under the bucket folder `root` (keys are checked safe first). */
export function dataPath(root: string, key: string): string {
  return join(root, ...key.split('/'));
}

/**
 * The regular file at `key`, reached without following a symbolic link, or
 * `undefined`: missing, a folder, a link, under something that is not a folder, or
 * one of the store's own files.
 */
export async function currentFile(
  fs: FolderStoreFs,
  root: string,
  key: string,
): Promise<Stats | undefined> {
  return (await inspectKey(fs, root, key)).stats;
}

/**
 * {@link currentFile}, and whether every folder above `key` already exists as a real
 * folder (so a write need not create any). `root` must have its links resolved.
 */
export async function inspectKey(
  fs: FolderStoreFs,
  root: string,
  key: string,
): Promise<{ stats: Stats | undefined; parentsReady: boolean }> {
  if (isReservedKey(key)) return { stats: undefined, parentsReady: false };
  const parents = key.split('/').slice(0, -1);
  if (parents.length > 0 && (await resolvesToItself(fs, join(root, ...parents)))) {
    // Every level above is a folder and none is a link: only the file itself is left to look at.
    const stats = await lstatOrMissing(fs, dataPath(root, key));
    return { stats: stats?.isFile() ? stats : undefined, parentsReady: true };
  }
  return { stats: await walkToFile(fs, root, key), parentsReady: false };
}

/** True when resolving every link in `dir` gives `dir` back: one call instead of an lstat per level. */
async function resolvesToItself(fs: FolderStoreFs, dir: string): Promise<boolean> {
  try {
    return (await fs.realpath(dir)) === dir;
  } catch {
    return false; // missing, or a file on the way: the level-by-level walk says which
  }
}

async function lstatOrMissing(fs: FolderStoreFs, path: string): Promise<Stats | undefined> {
  try {
    return await fs.lstat(path);
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'ENOTDIR')) return undefined;
    throw error;
  }
}

/** Looks at each level of `key` with lstat, so a link or a file on the way is seen. */
async function walkToFile(
  fs: FolderStoreFs,
  root: string,
  key: string,
): Promise<Stats | undefined> {
  const parts = key.split('/');
  let path = root;
  for (const [i, part] of parts.entries()) {
    path = join(path, part);
    let stats: Stats;
    try {
      stats = await fs.lstat(path);
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ENOTDIR')) return undefined;
      throw error;
    }
    if (i === parts.length - 1) return stats.isFile() ? stats : undefined;
    if (!stats.isDirectory()) return undefined;
  }
  return undefined;
}

/** Creates the folders above `key`, refusing to go through a file or a link. */
export async function makeParents(fs: FolderStoreFs, root: string, key: string): Promise<void> {
  const parts = key.split('/').slice(0, -1);
  let path = root;
  for (const [i, part] of parts.entries()) {
    path = join(path, part);
    try {
      await fs.mkdir(path);
      continue;
    } catch (error) {
      if (isErrno(error, 'ENOTDIR')) throw keyConflict(key, 'a file is where a folder is needed');
      if (!isErrno(error, 'EEXIST')) throw error;
    }
    if (!(await fs.lstat(path)).isDirectory()) {
      const blocker = parts.slice(0, i + 1).join('/');
      throw keyConflict(key, `${blocker} is a file or a link, not a folder`);
    }
  }
}

/**
 * Removes the folders above a deleted key that it left empty, as S3 has no folders.
 * Stops at the root and at `.syncjournal`, which writers in other processes use
 * without the lock.
 */
export async function pruneEmptyParents(
  fs: FolderStoreFs,
  root: string,
  key: string,
): Promise<void> {
  const parts = key.split('/').slice(0, -1);
  while (parts.length > 0) {
    const dir = parts.join('/');
    if (dir === STORE_DIR) return;
    try {
      await fs.rmdir(dataPath(root, dir));
    } catch (error) {
      if (isErrno(error, 'ENOTEMPTY', 'EEXIST', 'ENOENT', 'ENOTDIR', 'EBUSY')) return;
      throw error;
    }
    parts.pop();
  }
}

/** Removes temp files older than `maxAgeMs` that crashed writers left behind. */
export async function sweepTemp(fs: FolderStoreFs, tmpDir: string, maxAgeMs: number) {
  let names: string[];
  try {
    names = (await fs.readdir(tmpDir, { withFileTypes: true })).map((entry) => entry.name);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return;
    throw error;
  }
  const cutoff = Date.now() - maxAgeMs;
  for (const name of names) {
    const path = join(tmpDir, name);
    let stats: Stats;
    try {
      stats = await fs.lstat(path);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) continue;
      throw error;
    }
    if (stats.mtimeMs < cutoff) await fs.rm(path, { recursive: true, force: true });
  }
}

/** A key the folder cannot hold: it would be a file and a folder at once. */
export function keyConflict(key: string, why: string): SyncJournalError {
  return new SyncJournalError(
    'key-conflict',
    `${key} cannot be written to the folder bucket: ${why}. A folder cannot hold a key and keys under it at once. Nothing was written.`,
    { key },
  );
}
