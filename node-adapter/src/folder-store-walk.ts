import { join } from 'node:path';
import { comparePaths, SyncJournalError } from '@syncjournal/core';
import { type FolderStoreFs, isErrno } from './folder-store-io.js';
import { RESERVED_SUBDIRS, STORE_DIR } from './folder-store-keys.js';

/** A data file found by {@link keysAfter}. */
export interface WalkedKey {
  key: string;
  path: string;
}

/** One directory's entries that can be objects or hold them, sorted in key order. */
interface SortedDir {
  ino: number;
  mtimeMs: number;
  items: { name: string; order: string; isDir: boolean }[];
}

/**
 * Sorted directories kept from one page to the next of the same listing, so that
 * paging through a folder of 100k files reads and sorts it once, not once per page.
 * An entry is reused only while the directory keeps its inode and mtime, and only
 * when that mtime was already {@link SETTLED_MS} old when it was read, since coarse
 * timestamps (2 s on FAT) could hide a change made in the same tick.
 */
export class DirCache {
  #dirs = new Map<string, SortedDir>();
  #used = new Map<string, SortedDir>();

  /** Forgets everything: a listing that starts over reads every folder afresh. */
  clear(): void {
    this.#dirs.clear();
  }

  get(path: string, stats: { ino: number; mtimeMs: number }): SortedDir | undefined {
    const dir = this.#dirs.get(path);
    const fresh = dir && dir.ino === stats.ino && dir.mtimeMs === stats.mtimeMs;
    return fresh ? dir : undefined;
  }

  use(path: string, dir: SortedDir, readAt: number): void {
    if (readAt - dir.mtimeMs > SETTLED_MS) this.#used.set(path, dir);
  }

  /** Keeps only the directories the page just walked (those on the path to the next page). */
  endPage(): void {
    this.#dirs = this.#used;
    this.#used = new Map();
  }
}

const SETTLED_MS = 5_000;

/**
 * Up to `limit` keys after `cursor`, in {@link comparePaths} order, by a depth-first
 * walk that sorts each directory with `name` for files and `name/` for directories —
 * which is the order of the full keys — and skips whole subtrees before the cursor.
 *
 * Only regular files are objects. Symbolic links are never followed (an object must
 * live inside the bucket folder), names with a backslash cannot be keys, and the
 * store's own subtrees are left out. A directory that cannot be read throws
 * `bucket-unreadable`: a listing with a hole must never pass for a complete one.
 */
export async function keysAfter(
  fs: FolderStoreFs,
  root: string,
  cursor: string | undefined,
  limit: number,
  cache: DirCache,
): Promise<WalkedKey[]> {
  const { steps, out } = startWalk(root, cursor, limit, cache);
  for (let step = steps.next(); !step.done; ) {
    step = steps.next(await sortedDir(fs, cache, step.value));
  }
  cache.endPage();
  return out;
}

/**
 * {@link keysAfter} with blocking calls, which return without yielding: nothing else
 * on the thread runs in the middle of the walk.
 */
export function keysAfterSync(
  syncFs: WalkSyncFs,
  root: string,
  cursor: string | undefined,
  limit: number,
  cache: DirCache,
): WalkedKey[] {
  const { steps, out } = startWalk(root, cursor, limit, cache);
  for (let step = steps.next(); !step.done; ) {
    step = steps.next(sortedDirSync(syncFs, cache, step.value));
  }
  cache.endPage();
  return out;
}

/** Blocking directory calls a walk may use on the real filesystem. */
export type WalkSyncFs = Pick<typeof import('node:fs'), 'statSync' | 'readdirSync'>;

/** A directory the walk enters, and the key prefix of what it holds. */
interface DirRequest {
  dir: string;
  prefix: string;
}

/**
 * The walk, as steps that ask for each directory it enters: the caller reads the
 * directory (blocking or not) and passes it back, so both kinds share one walk.
 */
type DirWalk = Generator<DirRequest, boolean, SortedDir>;

interface Walk {
  cursor: string | undefined;
  limit: number;
  out: WalkedKey[];
}

function startWalk(
  root: string,
  cursor: string | undefined,
  limit: number,
  cache: DirCache,
): { steps: DirWalk; out: WalkedKey[] } {
  if (cursor === undefined) cache.clear();
  const out: WalkedKey[] = [];
  return { steps: walk({ cursor, limit, out }, root, ''), out };
}

/** Walks one directory; true once `out` is full. */
function* walk(state: Walk, dir: string, prefix: string): DirWalk {
  const { cursor, out } = state;
  const { items } = yield { dir, prefix };
  for (let i = firstCandidate(items, prefix, cursor); i < items.length; i++) {
    const item = items[i] as SortedDir['items'][number];
    const key = `${prefix}${item.name}`;
    if (item.isDir) {
      const dirKey = `${key}/`;
      // Every key under dirKey sorts before the cursor unless the cursor is inside it.
      if (cursor !== undefined && !cursor.startsWith(dirKey) && comparePaths(dirKey, cursor) < 0) {
        continue;
      }
      if (yield* walk(state, join(dir, item.name), dirKey)) return true;
    } else {
      if (key === STORE_DIR) continue;
      if (cursor !== undefined && comparePaths(key, cursor) <= 0) continue;
      out.push({ key, path: join(dir, item.name) });
      if (out.length >= state.limit) return true;
    }
  }
  return false;
}

/**
 * The index of the first item that is not wholly before `cursor`, by binary search:
 * items sort by `order`, and every item whose order is below the cursor's first
 * segment here (`seg/` for a folder it is inside, else its name) sorts before it.
 */
function firstCandidate(
  items: SortedDir['items'],
  prefix: string,
  cursor: string | undefined,
): number {
  if (cursor === undefined || !cursor.startsWith(prefix)) return 0;
  const rest = cursor.slice(prefix.length);
  const slash = rest.indexOf('/');
  const first = slash < 0 ? rest : rest.slice(0, slash + 1);
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (comparePaths((items[mid] as SortedDir['items'][number]).order, first) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// Stat before reading: a change in between shows as a newer mtime next time.
async function sortedDir(fs: FolderStoreFs, cache: DirCache, at: DirRequest): Promise<SortedDir> {
  try {
    const readAt = Date.now();
    const stats = await fs.stat(at.dir);
    const sorted =
      cache.get(at.dir, stats) ??
      sortEntries(stats, await fs.readdir(at.dir, { withFileTypes: true }), at.prefix);
    cache.use(at.dir, sorted, readAt);
    return sorted;
  } catch (error) {
    throw unreadable(at.dir, error);
  }
}

function sortedDirSync(syncFs: WalkSyncFs, cache: DirCache, at: DirRequest): SortedDir {
  try {
    const readAt = Date.now();
    const stats = syncFs.statSync(at.dir);
    const sorted =
      cache.get(at.dir, stats) ??
      sortEntries(stats, syncFs.readdirSync(at.dir, { withFileTypes: true }), at.prefix);
    cache.use(at.dir, sorted, readAt);
    return sorted;
  } catch (error) {
    throw unreadable(at.dir, error);
  }
}

/** A directory's entries that can be objects or hold them, in key order. */
function sortEntries(
  stats: { ino: number; mtimeMs: number },
  entries: readonly { name: string; isDirectory(): boolean; isFile(): boolean }[],
  prefix: string,
): SortedDir {
  const items: SortedDir['items'] = [];
  for (const entry of entries) {
    if (entry.name.includes('\\')) continue;
    if (prefix === `${STORE_DIR}/` && RESERVED_SUBDIRS.includes(entry.name)) continue;
    if (entry.isDirectory()) items.push({ name: entry.name, order: `${entry.name}/`, isDir: true });
    else if (entry.isFile()) items.push({ name: entry.name, order: entry.name, isDir: false });
  }
  items.sort((a, b) => comparePaths(a.order, b.order));
  return { ino: stats.ino, mtimeMs: stats.mtimeMs, items };
}

function unreadable(dir: string, error: unknown): SyncJournalError {
  const code = (error as { code?: unknown }).code;
  return new SyncJournalError(
    'bucket-unreadable',
    `The folder ${dir} of the folder bucket could not be read (${String(code ?? error)}). ` +
      'The listing is incomplete, so no delete will be derived from it. Check that the folder exists and is readable, then sync again.',
    { path: dir, errno: typeof code === 'string' ? code : null },
    { cause: error },
  );
}

/** Maps `items` with at most `concurrency` calls in flight, keeping their order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

/** True when a stat failed because the file is gone (deleted between readdir and stat). */
export function isVanished(error: unknown): boolean {
  return isErrno(error, 'ENOENT', 'ENOTDIR');
}
