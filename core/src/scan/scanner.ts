import type { JournalEventInput, ScanEntryPayload } from '../journal/events.js';
import type { ManifestRow } from '../journal/projections.js';
import { collectBytes } from '../memory/bytes.js';
import { atOrUnder, comparePaths } from '../paths.js';
import type { Clock } from '../ports/clock.js';
import { type Hasher, hashStream } from '../ports/hasher.js';
import type { FileStat, LeftOutReason, LocalTree } from '../ports/tree.js';
import type { ReportError } from '../report.js';

/** A file as the scan leaves it in the manifest. */
export type ScannedFile = ScanEntryPayload & { path: string };

/** A scan delta, ready to journal (the run is filled in by the caller). */
export type ScanDelta = Omit<
  Extract<JournalEventInput, { kind: 'scan.added' | 'scan.changed' | 'scan.removed' }>,
  'run'
>;

/** What {@link scanTree} found. */
export interface ScanResult {
  /** The manifest after this scan, sorted by path. */
  files: ScannedFile[];
  /** What changed since the previous manifest. */
  deltas: ScanDelta[];
  /** False when something could not be read: then no delete may be derived from it. */
  complete: boolean;
  /** Folders and files that could not be read; their previous manifest rows are kept. */
  unreadable: string[];
  /**
   * Symbolic links, special files and names that cannot be read back: never followed,
   * synced, replaced or deleted. Previous manifest rows at or under them are kept (a
   * file replaced by a link is not a delete).
   */
  skipped: Array<{ path: string; reason: LeftOutReason }>;
  /** Files read and hashed (the rest were trusted by size, mtime, inode and ctime). */
  hashed: number;
  /** SHA-256 over the manifest's sorted `path\thash\tsize` lines. */
  digest: string;
  errors: ReportError[];
}

/** Inputs of a scan. */
export interface ScanOptions {
  tree: LocalTree;
  hasher: Hasher;
  clock: Clock;
  /**
   * The manifest of the previous scan, sorted by path; it may still be on its way:
   * the walk is started first, so a tree that walks elsewhere (a worker thread) does
   * so while the manifest is read.
   */
  previous: readonly ManifestRow[] | PromiseLike<readonly ManifestRow[]>;
  /** Paths the filters exclude: not read, not hashed, not in the manifest. */
  excluded?: (path: string) => boolean;
  /** Called after each file. */
  onProgress?: (progress: { files: number; hashed: number; bytes: number }) => void;
}

/** How often a file that keeps changing while it is hashed is retried. */
const HASH_ATTEMPTS = 3;

/**
 * The incremental scanner: walks the tree in path order and hashes only files whose
 * size, mtime (and inode and ctime, where the tree has them) differ from the previous
 * manifest, or that were racy last time. A file modified within the tree's timestamp
 * granularity of being hashed is marked racy and re-hashed next time, because a
 * further edit in the same tick would not move its mtime.
 */
export async function scanTree(options: ScanOptions): Promise<ScanResult> {
  const { tree, hasher, clock } = options;
  const walk = tree.walk()[Symbol.asyncIterator]();
  let previous: readonly ManifestRow[];
  try {
    previous = await options.previous;
  } catch (error) {
    await walk.return?.();
    throw error;
  }
  const before = new Map(previous.map((row) => [row.path, row]));
  const files: ScannedFile[] = [];
  const unreadable: string[] = [];
  const skipped: Array<{ path: string; reason: LeftOutReason }> = [];
  const errors: ReportError[] = [];
  let hashed = 0;
  let bytes = 0;

  for await (const item of { [Symbol.asyncIterator]: () => walk }) {
    if (options.excluded?.(item.path)) continue;
    if (item.kind === 'unreadable') {
      unreadable.push(item.path);
      errors.push({ code: item.code, message: item.message, path: item.path });
      continue;
    }
    if (item.kind === 'skipped') {
      skipped.push({ path: item.path, reason: item.reason });
      continue;
    }
    const prev = before.get(item.path);
    if (prev && !prev.racy && sameStat(prev, item)) {
      files.push(toFile(item.path, prev, prev.hash, false));
    } else {
      const result = await hashStable(tree, hasher, item.path, item);
      if ('error' in result) {
        unreadable.push(item.path);
        errors.push({ ...result.error, path: item.path });
        continue;
      }
      hashed++;
      bytes += result.stat.size;
      files.push(toFile(item.path, result.stat, result.hash, isRacy(result.stat, tree, clock)));
    }
    options.onProgress?.({ files: files.length, hashed, bytes });
  }

  // Rows under what could not be read, or is left out, stay as they were: unknown is
  // not deleted.
  const unknown = atOrUnder([...unreadable, ...skipped.map((s) => s.path)]);
  if (unreadable.length > 0 || skipped.length > 0) {
    const walked = files.length;
    for (const row of previous) {
      if (unknown(row.path) && !options.excluded?.(row.path))
        files.push(toFile(row.path, row, row.hash, row.racy ?? false));
    }
    if (files.length > walked) files.sort((a, b) => comparePaths(a.path, b.path));
  }

  return {
    files,
    deltas: diffManifest(previous, files),
    complete: unreadable.length === 0,
    unreadable,
    skipped,
    hashed,
    digest: manifestDigest(hasher, files),
    errors,
  };
}

/** Size, mtime, and inode and ctime where both sides have them. */
function sameStat(prev: ManifestRow, now: FileStat): boolean {
  return (
    prev.size === now.size &&
    prev.mtimeMs === now.mtimeMs &&
    (prev.ino == null || now.ino == null || prev.ino === now.ino) &&
    (prev.ctimeMs == null || now.ctimeMs == null || prev.ctimeMs === now.ctimeMs)
  );
}

/** Hashes a file, re-stat'ing after: a file that changed while being read is read again. */
/** Files up to this size are read whole and hashed at once where the hasher can (WebCrypto). */
const ONE_SHOT_LIMIT = 8 * 1024 * 1024;

async function hashStable(
  tree: LocalTree,
  hasher: Hasher,
  path: string,
  first: FileStat,
): Promise<{ hash: string; stat: FileStat } | { error: { code: string; message: string } }> {
  let stat = first;
  for (let attempt = 0; attempt < HASH_ATTEMPTS; attempt++) {
    let hash: string;
    try {
      if (hasher.digestBytes && stat.size <= ONE_SHOT_LIMIT) {
        hash = await hasher.digestBytes(await collectBytes(tree.read(path)));
      } else {
        hash = await hashStream(hasher, tree.read(path));
      }
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'read-failed';
      return { error: { code, message: (error as Error).message } };
    }
    const after = await tree.stat(path);
    if (!after)
      return { error: { code: 'vanished', message: `${path} disappeared while it was read` } };
    if (after.size === stat.size && after.mtimeMs === stat.mtimeMs) return { hash, stat: after };
    stat = after;
  }
  return { error: { code: 'changing', message: `${path} kept changing while it was read` } };
}

function toFile(
  path: string,
  stat: FileStat | ManifestRow,
  hash: string,
  racy: boolean,
): ScannedFile {
  return { path, ...entryOf(stat, hash, racy) };
}

/** A manifest entry: what the scanner keeps of a file. */
export function entryOf(
  stat: FileStat | ManifestRow,
  hash: string,
  racy: boolean,
): ScanEntryPayload {
  return {
    kind: 'file',
    size: stat.size,
    mtimeMs: stat.mtimeMs,
    hash,
    ino: stat.ino ?? null,
    ctimeMs: stat.ctimeMs ?? null,
    racy,
  };
}

/**
 * The racy-timestamp rule: a file modified or changed within the tree's timestamp
 * granularity of now may change again without its mtime or ctime moving, so its stat
 * cannot prove it unchanged. The ctime counts too: an edit that puts the old mtime back
 * (editors, `touch -r`, sync tools do) is seen only by its ctime, and only when that
 * ctime was not itself taken in the same tick as the scan.
 */
export function isRacy(stat: FileStat, tree: LocalTree, clock: Clock): boolean {
  const changed = Math.max(stat.mtimeMs, stat.ctimeMs ?? Number.NEGATIVE_INFINITY);
  return changed > clock.now() - Math.max(tree.timestampGranularityMs, 1);
}

/** Deltas between two sorted manifests. */
export function diffManifest(
  previous: readonly ManifestRow[],
  files: readonly ScannedFile[],
): ScanDelta[] {
  const deltas: ScanDelta[] = [];
  let i = 0;
  let j = 0;
  while (i < previous.length || j < files.length) {
    const p = previous[i];
    const f = files[j];
    const order = !p ? 1 : !f ? -1 : comparePaths(p.path, f.path);
    if (order < 0) {
      deltas.push({ kind: 'scan.removed', path: p!.path, payload: {} });
      i++;
    } else if (order > 0) {
      deltas.push({ kind: 'scan.added', path: f!.path, payload: payloadOf(f!) });
      j++;
    } else {
      if (!sameEntry(p!, f!))
        deltas.push({ kind: 'scan.changed', path: f!.path, payload: payloadOf(f!) });
      i++;
      j++;
    }
  }
  return deltas;
}

function payloadOf(f: ScannedFile): ScanEntryPayload {
  const { path: _path, ...payload } = f;
  return payload;
}

function sameEntry(p: ManifestRow, f: ScannedFile): boolean {
  return (
    p.size === f.size &&
    p.mtimeMs === f.mtimeMs &&
    p.hash === f.hash &&
    (p.ino ?? null) === (f.ino ?? null) &&
    (p.ctimeMs ?? null) === (f.ctimeMs ?? null) &&
    p.racy === (f.racy ?? false)
  );
}

/** SHA-256 over sorted `path\thash\tsize` lines: one value that names a whole manifest. */
export function manifestDigest(
  hasher: Hasher,
  files: ReadonlyArray<{ path: string; hash?: string | null; size: number; etag?: string | null }>,
): string {
  const state = hasher.create();
  for (const f of files) state.update(`${f.path}\t${f.hash ?? f.etag ?? ''}\t${f.size}\n`);
  return state.digest();
}
