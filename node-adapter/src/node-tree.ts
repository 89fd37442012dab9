import * as fsSync from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import type { Worker } from 'node:worker_threads';
import {
  checkTrashSlot,
  comparePaths,
  type FileStat,
  type LocalTree,
  NotFoundError,
  PreconditionFailedError,
  registerErrorClass,
  SyncJournalError,
  TEMP_PREFIX,
  type TrashOptions,
  trashSlotCandidate,
  type WalkItem,
  type WriteOptions,
} from '@syncjournal/core';
import { isRealFs, localFsFor } from './direct-fs.js';
import type { WalkMessage } from './node-tree-walk-worker.js';
import { uniqueName } from './unique-name.js';
import { builtWorker, startWorker } from './worker-inbox.js';

/**
 * What {@link NodeTree} needs from a `stat`/`lstat` with `{ bigint: true }`. Node
 * gives bigints and nanosecond times; memfs gives bigints without them, which is why
 * the nanosecond fields are optional.
 */
export interface NodeFsStats {
  size: number | bigint;
  ino: number | bigint;
  dev: number | bigint;
  mode: number | bigint;
  mtimeMs: number | bigint;
  ctimeMs: number | bigint;
  mtimeNs?: bigint;
  ctimeNs?: bigint;
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}

/** A directory entry from `readdir(path, { withFileTypes: true })`. */
export interface NodeFsDirent {
  name: string | Uint8Array;
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
  isFIFO(): boolean;
  isSocket(): boolean;
  isBlockDevice(): boolean;
  isCharacterDevice(): boolean;
}

/** The part of a `FileHandle` that {@link NodeTree} uses. */
export interface NodeFsFileHandle {
  read(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number | null,
  ): Promise<{ bytesRead: number }>;
  write(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number | null,
  ): Promise<{ bytesWritten: number }>;
  stat(options: { bigint: true }): Promise<NodeFsStats>;
  chmod(mode: number): Promise<void>;
  /** Flushes to disk; optional because in-memory filesystems have nothing to flush. */
  sync?(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The part of `node:fs/promises` that {@link NodeTree} uses, declared here so that
 * `node:fs/promises` itself and memfs's `vol.promises` both fit without a cast.
 * memfs types `readdir` loosely (names or entries), hence the union.
 */
export interface NodeFs {
  lstat(path: string, options: { bigint: true }): Promise<NodeFsStats>;
  stat(path: string, options: { bigint: true }): Promise<NodeFsStats>;
  readdir(
    path: string,
    options: { withFileTypes: true },
  ): Promise<Array<NodeFsDirent | string | Uint8Array>>;
  open(path: string, flags: string): Promise<NodeFsFileHandle>;
  rename(from: string, to: string): Promise<void>;
  link(existing: string, path: string): Promise<void>;
  unlink(path: string): Promise<void>;
  mkdir(path: string, options?: { recursive?: boolean }): Promise<unknown>;
  rmdir(path: string): Promise<void>;
  utimes(path: string, atime: number, mtime: number): Promise<void>;
  copyFile(from: string, to: string, mode?: number): Promise<void>;
  /**
   * Resolves links in a path. Optional: with it, checking a file's parents costs one
   * call instead of one `lstat` per level.
   */
  realpath?(path: string): Promise<string | Uint8Array>;
}

/** Options of {@link NodeTree} and {@link NodeTree.open}. */
export interface NodeTreeOptions {
  /** The synced folder. It must exist: a missing root is never created (an unmounted drive). */
  root: string;
  /** Where trashed and replaced files go; outside the root, never synced. */
  trashDir: string;
  /** The filesystem; `node:fs/promises` by default, memfs in tests. */
  fs?: NodeFs;
  /** Probed by {@link NodeTree.open} when not given; `false` for the constructor. */
  caseInsensitive?: boolean;
  /** Probed by {@link NodeTree.open} when not given; `false` for the constructor. */
  normalizationInsensitive?: boolean;
  /** Probed by {@link NodeTree.open} when not given; 1 for the constructor. */
  timestampGranularityMs?: number;
  /**
   * Walk on a worker thread (default true; only on the real filesystem, from the built
   * package). The walk then starts when {@link NodeTree.walk} is called and runs on
   * another core, beside whatever the caller does before it reads the first item.
   */
  walkInWorker?: boolean;
}

/**
 * A tree path that could leave the root or alias another name (`..`, `.`, empty
 * segments, a leading `/`, NUL, a backslash), or that passes through a symbolic
 * link. Refused before anything is read or written.
 */
export class UnsafePathError extends SyncJournalError {
  constructor(path: string, reason: string) {
    super(
      'unsafe-path',
      `${JSON.stringify(path)} cannot be used in the local folder: ${reason}. ` +
        'Nothing was read or written there; the path is left out of the sync.',
      { path, reason },
    );
  }
}

/** The tree's root folder is missing or not a folder (an unmounted drive, a moved folder). */
export class TreeRootMissingError extends SyncJournalError {
  constructor(root: string, options?: { cause?: unknown }) {
    super(
      'tree-root-missing',
      `The local folder ${root} does not exist or is not a folder. Nothing was read or written. ` +
        'Create it, or mount the drive it lives on, then try again.',
      { root },
      options,
    );
  }
}

registerErrorClass('UnsafePathError', UnsafePathError);
registerErrorClass('TreeRootMissingError', TreeRootMissingError);

/**
 * The walk's worker, when this module runs as built JavaScript on the main thread (under
 * vitest the sources are TypeScript, which a worker cannot load; there the walk stays here).
 */
const WALK_WORKER = builtWorker('./node-tree-walk-worker.js', import.meta.url);

const CHUNK_SIZE = 64 * 1024;
/** How many files' lstats the walk keeps in flight ahead of the one it reports. */
const STAT_AHEAD = 32;
const BIGINT = { bigint: true } as const;
const DIRENTS = { withFileTypes: true } as const;
/** An odd second plus 1 ms, so each coarser clock (1 s, 2 s) reads it back differently. */
const PROBE_MTIME_MS = 1_600_000_001_001;
/** Errors of `link` on filesystems or setups that cannot hard-link (FAT, some mounts). */
const LINK_UNSUPPORTED = ['EXDEV', 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK'];

/**
 * The {@link LocalTree} port on a Node filesystem: the real disk, or any module
 * shaped like `node:fs/promises` (memfs in tests).
 *
 * Safety: the walk uses `lstat` and directory-entry types and never follows a
 * symbolic link; a path whose parent is a link is refused; nothing is written
 * outside the root and the trash dir, and inside the root only the user's files and
 * `.syncjournal-tmp-*` files, which exist only during a write. Writes land in such a
 * temp file beside the target and are renamed over it after the `expect` check.
 */
export class NodeTree implements LocalTree {
  readonly root: string;
  readonly trashDir: string;
  readonly caseInsensitive: boolean;
  readonly normalizationInsensitive: boolean;
  readonly timestampGranularityMs: number;
  readonly #fs: NodeFs;
  #nextTrash = 1;
  /**
   * Blocking lstat and readdir for the walk, on the real filesystem only: one syscall per
   * entry instead of a threadpool round trip each, several times faster on a large tree
   * (memfs and fault-injecting wrappers go async).
   */
  readonly #sync:
    | { lstat(path: string): NodeFsStats; readdir(path: string): NodeFsDirent[] }
    | undefined;
  /** The root with links resolved, for the one-call parent check; found when first needed. */
  #realRoot: Promise<string | undefined> | undefined;
  readonly #walkInWorker: boolean;

  /** A tree with the given (not probed) properties; prefer {@link NodeTree.open}. */
  constructor(options: NodeTreeOptions) {
    this.root = resolve(options.root);
    this.trashDir = resolve(options.trashDir);
    refuseNesting(this.root, this.trashDir);
    this.#fs = options.fs ?? localFsFor(this.root);
    this.#sync = isRealFs(this.#fs)
      ? {
          lstat: (path) => fsSync.lstatSync(path, BIGINT),
          readdir: (path) => fsSync.readdirSync(path, DIRENTS),
        }
      : undefined;
    this.caseInsensitive = options.caseInsensitive ?? false;
    this.normalizationInsensitive = options.normalizationInsensitive ?? false;
    this.timestampGranularityMs = options.timestampGranularityMs ?? 1;
    this.#walkInWorker =
      (options.walkInWorker ?? true) && this.#sync !== undefined && WALK_WORKER !== undefined;
  }

  /**
   * Opens the tree at an existing `root`: creates the trash dir and probes the
   * filesystem for case- and normalization-insensitivity and timestamp granularity
   * where not given.
   * The probe file goes into the trash dir; only when the trash dir is on another
   * device than the root does it go into the root, under a temp-file name.
   */
  static async open(options: NodeTreeOptions): Promise<NodeTree> {
    const root = resolve(options.root);
    const fs = options.fs ?? localFsFor(root);
    const trashDir = resolve(options.trashDir);
    refuseNesting(root, trashDir);
    const rootStat = await statRoot(fs, root);
    await fs.mkdir(trashDir, { recursive: true });
    let { caseInsensitive, normalizationInsensitive, timestampGranularityMs } = options;
    if (
      caseInsensitive === undefined ||
      normalizationInsensitive === undefined ||
      timestampGranularityMs === undefined
    ) {
      const trashStat = await fs.stat(trashDir, BIGINT);
      const probeDir = BigInt(trashStat.dev) === BigInt(rootStat.dev) ? trashDir : root;
      const probed = await probeFilesystem(fs, probeDir);
      caseInsensitive ??= probed.caseInsensitive;
      timestampGranularityMs ??= probed.timestampGranularityMs;
      normalizationInsensitive ??= await probeNormalization(fs, probeDir);
    }
    return new NodeTree({
      root,
      trashDir,
      fs,
      caseInsensitive,
      normalizationInsensitive,
      timestampGranularityMs,
      ...(options.walkInWorker === undefined ? {} : { walkInWorker: options.walkInWorker }),
    });
  }

  /**
   * Every file, in path order. On the real filesystem the walk runs on a worker thread,
   * started by this call (not by the first read), with the same code as here; should the
   * worker fail before its first item, the walk is done here instead, so a missing root
   * throws the same error either way.
   */
  walk(): AsyncIterable<WalkItem> {
    if (!this.#walkInWorker) return this.#walkHere();
    const { worker, next } = startWorker<WalkMessage>(
      WALK_WORKER!,
      { root: this.root, trashDir: this.trashDir },
      "the walk's worker",
    );
    const items = this.#fromWorker(worker, next);
    // A walk given up before its first read (its generator has not started, so its
    // `finally` would not run) still stops its worker.
    return {
      [Symbol.asyncIterator]: () => ({
        next: () => items.next(),
        return: async (value?: unknown) => {
          await worker.terminate();
          return items.return(value);
        },
      }),
    };
  }

  async *#fromWorker(worker: Worker, next: () => Promise<WalkMessage>): AsyncGenerator<WalkItem> {
    let yielded = false;
    try {
      for (;;) {
        const message = await next();
        if ('error' in message) {
          if (!yielded) {
            yield* this.#walkHere();
            return;
          }
          throw new Error(`The walk of ${this.root} stopped half-way: ${message.error}`);
        }
        for (const item of message.items) {
          yielded = true;
          yield item;
        }
        if (message.done) return;
      }
    } finally {
      void worker.terminate();
    }
  }

  async *#walkHere(): AsyncGenerator<WalkItem> {
    await statRoot(this.#fs, this.root);
    // The root's own failure is the caller's: "could not list" must never read as empty.
    const entries = await this.#fs.readdir(this.root, DIRENTS);
    yield* this.#walkEntries('', entries);
  }

  async stat(path: string): Promise<FileStat | undefined> {
    const abs = this.#abs(path);
    if ((await this.#checkParents(path)) !== 'ok') return undefined;
    const stats = await lstatOrUndefined(this.#fs, abs);
    return stats?.isFile() ? fileStatOf(stats) : undefined;
  }

  async *read(path: string): AsyncIterable<Uint8Array> {
    const abs = this.#abs(path);
    const handle = await this.#openFile(path, abs);
    try {
      for (let position = 0; ; ) {
        const buffer = new Uint8Array(CHUNK_SIZE);
        const { bytesRead } = await handle.read(buffer, 0, CHUNK_SIZE, position);
        if (bytesRead === 0) return;
        position += bytesRead;
        yield bytesRead === CHUNK_SIZE ? buffer : buffer.slice(0, bytesRead);
      }
    } finally {
      await handle.close();
    }
  }

  async write(
    path: string,
    data: Uint8Array | AsyncIterable<Uint8Array>,
    options: WriteOptions = {},
  ): Promise<{ stat: FileStat; trashed?: string }> {
    const abs = this.#abs(path);
    if (options.trashSlot !== undefined) checkTrashSlot(options.trashSlot);
    await statRoot(this.#fs, this.root);
    const parents = await this.#checkParents(path);
    if (parents === 'blocked') throw errnoError('ENOTDIR', `a parent of ${path} is a file`);
    // Checked early too, so a write that cannot succeed creates nothing and reads no data.
    const before = parents === 'ok' ? await this.#checkExpect(path, abs, options.expect) : null;
    if (before === null && options.expect) {
      throw new PreconditionFailedError('local', path, 'the file is gone');
    }
    const created = await this.#ensureDirs(parentOf(path));
    let temp: string | undefined;
    let kept: { location: string; abs: string; copied: boolean } | undefined;
    try {
      const opened = await this.#openTemp(path, created);
      temp = opened.temp;
      await fillTemp(opened.handle, data, before?.isFile() ? Number(before.mode) & 0o7777 : null);
      if (options.mtimeMs !== undefined) {
        await this.#fs.utimes(temp, Date.now() / 1000, toSeconds(options.mtimeMs));
      }
      const current = await this.#checkExpect(path, abs, options.expect);
      if (current?.isDirectory()) throw errnoError('EISDIR', `${path} is a directory`);
      if (options.keepPrevious && current?.isFile()) {
        kept = await this.#keep(path, abs, current, options.trashSlot);
        // A copy takes as long as the file is big: a save that landed meanwhile is newer
        // than what was checked, and the rename would replace it with nothing keeping it.
        if (kept.copied) await this.#stillAsChecked(path, abs, current);
      }
      if (options.expect === null) await this.#linkNoClobber(temp, abs, path);
      else await this.#fs.rename(temp, abs);
      temp = undefined;
      const stat = fileStatOf(await this.#fs.lstat(abs, BIGINT));
      return kept ? { stat, trashed: kept.location } : { stat };
    } catch (error) {
      if (temp !== undefined) await removeQuietly(this.#fs, temp);
      if (kept) await this.#discardTrashed(kept);
      await this.#removeDirs(created);
      throw error;
    }
  }

  async trash(path: string, options: TrashOptions = {}): Promise<string> {
    const abs = this.#abs(path);
    if (options.trashSlot !== undefined) checkTrashSlot(options.trashSlot);
    const found = await this.#checkParents(path);
    const first = found === 'ok' ? await lstatOrUndefined(this.#fs, abs) : undefined;
    if (!first?.isFile()) throw new NotFoundError(`The file ${path}`, { path });
    const slot = await this.#allocate(path, options.trashSlot);
    try {
      const current = await lstatOrUndefined(this.#fs, abs);
      if (!current?.isFile()) throw new NotFoundError(`The file ${path}`, { path });
      if (options.expect) compareExpect(path, current, options.expect);
      try {
        await this.#fs.rename(abs, slot.abs);
      } catch (error) {
        if (!isErrno(error, 'EXDEV')) throw error;
        await this.#moveAcrossDevices(path, abs, slot.abs, current);
      }
    } catch (error) {
      await this.#removeTrashDirs(slot.location);
      throw error;
    }
    await this.#removeDirs(ancestorsOf(path).reverse());
    return slot.location;
  }

  async restore(trashLocation: string, path: string): Promise<FileStat> {
    const abs = this.#abs(path);
    const reason = unsafeReason(trashLocation);
    if (reason) throw new UnsafePathError(trashLocation, reason);
    const source = join(this.trashDir, trashLocation);
    const trashed = await lstatOrUndefined(this.#fs, source);
    if (!trashed?.isFile()) {
      throw new NotFoundError(`The trashed file ${trashLocation}`, { trashLocation });
    }
    await statRoot(this.#fs, this.root);
    const parents = await this.#checkParents(path);
    if (parents === 'blocked') throw errnoError('ENOTDIR', `a parent of ${path} is a file`);
    if (parents === 'ok' && (await lstatOrUndefined(this.#fs, abs))) {
      throw new PreconditionFailedError('local', path, 'the restore target is already taken');
    }
    const created = await this.#ensureDirs(parentOf(path));
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#place(source, abs, path, trashed);
        break;
      } catch (error) {
        // A concurrent trash may have just removed the empty parent it left behind.
        if (isErrno(error, 'ENOENT') && attempt < 3) {
          await this.#recreateParent(path, created);
          continue;
        }
        await this.#removeDirs(created);
        throw error;
      }
    }
    await this.#fs.unlink(source);
    await this.#removeTrashDirs(trashLocation);
    return fileStatOf(await this.#fs.lstat(abs, BIGINT));
  }

  async statTrash(trashLocation: string): Promise<FileStat | undefined> {
    const reason = unsafeReason(trashLocation);
    if (reason) throw new UnsafePathError(trashLocation, reason);
    const found = await lstatOrUndefined(this.#fs, join(this.trashDir, trashLocation));
    return found?.isFile() ? fileStatOf(found) : undefined;
  }

  async mkdir(path: string): Promise<void> {
    this.#abs(path);
    await statRoot(this.#fs, this.root);
    await this.#ensureDirs(path);
  }

  // ---- walk ----

  async *#walkEntries(
    dir: string,
    entries: ReadonlyArray<NodeFsDirent | string | Uint8Array>,
  ): AsyncGenerator<WalkItem> {
    const sorted: Array<{ key: string; path: string; kind: EntryKind }> = [];
    for (const entry of entries) {
      if (typeof entry === 'string' || entry instanceof Uint8Array) {
        throw new TypeError('readdir ignored withFileTypes: the fs module does not fit NodeFs');
      }
      const name = typeof entry.name === 'string' ? entry.name : decoder.decode(entry.name);
      if (name.startsWith(TEMP_PREFIX)) continue;
      const path = dir === '' ? name : `${dir}/${name}`;
      let kind = direntKind(entry);
      if (name.includes('\\')) kind = 'name';
      else if (kind === 'unknown') kind = await this.#lstatKind(path);
      if (kind !== 'gone') sorted.push({ key: kind === 'dir' ? `${name}/` : name, path, kind });
    }
    sorted.sort((a, b) => comparePaths(a.key, b.key));
    // The files' lstats are started a window ahead of the walk, so the threadpool works on
    // several at once instead of one round trip after another; items still come in order.
    // Each is a true look at the file at some moment during the scan, as a sequential one is.
    const ahead = new Map<number, Promise<WalkItem | undefined>>();
    let started = 0;
    for (let i = 0; i < sorted.length; i++) {
      for (; started < Math.min(sorted.length, i + STAT_AHEAD); started++) {
        const next = sorted[started]!;
        if (next.kind === 'file') ahead.set(started, this.#statFile(next.path));
      }
      const { path, kind } = sorted[i]!;
      if (kind === 'dir') yield* this.#walkDir(path);
      else if (kind === 'file') {
        const item = await ahead.get(i);
        ahead.delete(i);
        if (item) yield item;
      } else if (kind === 'symlink' || kind === 'special' || kind === 'name') {
        yield { kind: 'skipped', path, reason: kind };
      } else if (kind !== 'gone' && kind !== 'unknown') {
        yield { kind: 'unreadable', path, code: kind.code, message: kind.message };
      }
    }
  }

  async *#walkDir(path: string): AsyncGenerator<WalkItem> {
    const abs = join(this.root, path);
    // Checked again right before listing: a directory swapped for a link is not entered.
    const kind = await this.#lstatKind(path);
    if (kind === 'gone') return;
    if (kind !== 'dir') {
      yield kind === 'symlink' || kind === 'special' || kind === 'name'
        ? { kind: 'skipped', path, reason: kind }
        : unreadable(path, kind === 'file' || kind === 'unknown' ? changedError(path) : kind);
      return;
    }
    let entries: Array<NodeFsDirent | string | Uint8Array>;
    try {
      entries = this.#sync ? this.#sync.readdir(abs) : await this.#fs.readdir(abs, DIRENTS);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return;
      yield unreadable(path, errorInfo(error));
      return;
    }
    yield* this.#walkEntries(path, entries);
  }

  /** What the walk reports for a file entry; never rejects (errors become items). */
  async #statFile(path: string): Promise<WalkItem | undefined> {
    let stats: NodeFsStats;
    try {
      const abs = join(this.root, path);
      stats = this.#sync ? this.#sync.lstat(abs) : await this.#fs.lstat(abs, BIGINT);
    } catch (error) {
      if (isErrno(error, 'ENOENT') && path.includes('\uFFFD')) {
        // A name that is not valid UTF-8 cannot be named back through a string path.
        return { kind: 'skipped', path, reason: 'name' };
      }
      return isErrno(error, 'ENOENT', 'ENOTDIR') ? undefined : unreadable(path, errorInfo(error));
    }
    if (stats.isFile()) return { kind: 'file', path, ...fileStatOf(stats) };
    if (stats.isSymbolicLink()) return { kind: 'skipped', path, reason: 'symlink' };
    if (stats.isDirectory()) return unreadable(path, changedError(path));
    return { kind: 'skipped', path, reason: 'special' };
  }

  async #lstatKind(path: string): Promise<EntryKind> {
    try {
      const abs = join(this.root, path);
      return statsKind(this.#sync ? this.#sync.lstat(abs) : await this.#fs.lstat(abs, BIGINT));
    } catch (error) {
      if (!isErrno(error, 'ENOENT', 'ENOTDIR')) return errorInfo(error);
      return path.includes('\uFFFD') ? 'name' : 'gone';
    }
  }

  // ---- paths ----

  /** The absolute path of a tree path, after refusing any path that could leave the root. */
  #abs(path: string): string {
    const reason = unsafeReason(path);
    if (reason) throw new UnsafePathError(path, reason);
    return join(this.root, path);
  }

  /**
   * Looks at each parent of `path` below the root with `lstat`. Throws
   * {@link UnsafePathError} at a symbolic link; `missing` when one does not exist,
   * `blocked` when one is not a directory.
   */
  async #checkParents(path: string): Promise<'ok' | 'missing' | 'blocked'> {
    if (await this.#parentsResolveToThemselves(path)) return 'ok';
    for (const parent of ancestorsOf(path)) {
      const stats = await lstatOrUndefined(this.#fs, join(this.root, parent));
      if (!stats) return 'missing';
      if (stats.isSymbolicLink()) {
        throw new UnsafePathError(path, `its parent ${parent} is a symbolic link`);
      }
      if (!stats.isDirectory()) return 'blocked';
    }
    return 'ok';
  }

  /**
   * The fast path of {@link NodeTree.#checkParents}: when resolving every link in the
   * parent folder gives back the same folder under the (resolved) root, each parent is
   * a folder and none is a link — one call instead of an `lstat` per level. Anything
   * else (a link, a missing folder, a file, a case-folding filesystem spelling the name
   * differently) returns false and the caller looks level by level for the precise answer.
   */
  async #parentsResolveToThemselves(path: string): Promise<boolean> {
    const parent = parentOf(path);
    const realpath = this.#fs.realpath?.bind(this.#fs);
    if (parent === '' || !realpath) return false;
    this.#realRoot ??= realpath(this.root).then(
      (real) => (typeof real === 'string' ? real : undefined),
      () => undefined,
    );
    const realRoot = await this.#realRoot;
    if (realRoot === undefined) {
      this.#realRoot = undefined; // the root may be mounted again later
      return false;
    }
    try {
      return (await realpath(join(this.root, parent))) === join(realRoot, parent);
    } catch {
      return false;
    }
  }

  /**
   * Creates `dir` and its missing parents one level at a time, refusing to pass
   * through a symbolic link. Returns the directories it created, deepest first.
   */
  async #ensureDirs(dir: string): Promise<string[]> {
    const created: string[] = [];
    if (dir === '') return created;
    for (const path of [...ancestorsOf(dir), dir]) {
      const abs = join(this.root, path);
      let stats = await lstatOrUndefined(this.#fs, abs);
      if (!stats) {
        try {
          await this.#fs.mkdir(abs);
          created.unshift(path);
          continue;
        } catch (error) {
          if (!isErrno(error, 'EEXIST')) {
            await this.#removeDirs(created);
            throw error;
          }
          stats = await this.#fs.lstat(abs, BIGINT);
        }
      }
      if (stats.isDirectory()) continue;
      await this.#removeDirs(created);
      if (stats.isSymbolicLink()) throw new UnsafePathError(dir, `${path} is a symbolic link`);
      throw errnoError('ENOTDIR', `${path} exists and is not a directory`);
    }
    return created;
  }

  /** Removes the given tree directories, deepest first, while they are empty. */
  async #removeDirs(dirs: readonly string[]): Promise<void> {
    for (const dir of dirs) {
      if (!(await removeEmptyDir(this.#fs, join(this.root, dir)))) return;
    }
  }

  // ---- reading and writing ----

  /** Opens the regular file at `path`, making sure no link was slipped in before `open`. */
  async #openFile(path: string, abs: string): Promise<NodeFsFileHandle> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const found = await this.#checkParents(path);
      const before = found === 'ok' ? await lstatOrUndefined(this.#fs, abs) : undefined;
      if (!before?.isFile()) throw new NotFoundError(`The file ${path}`, { path });
      let handle: NodeFsFileHandle;
      try {
        handle = await this.#fs.open(abs, 'r');
      } catch (error) {
        if (isErrno(error, 'ENOENT', 'ENOTDIR')) continue;
        throw error;
      }
      const opened = await handle.stat(BIGINT).catch(async (error: unknown) => {
        await handle.close();
        throw error;
      });
      if (opened.isFile() && sameInode(opened, before)) return handle;
      await handle.close();
    }
    throw new SyncJournalError(
      'file-changing',
      `${path} kept being replaced while it was opened. Nothing was changed; it is read again next run.`,
      { path },
    );
  }

  /**
   * A new temp file beside `path`, opened with `wx`, which fails rather than follow
   * a link or reuse a file someone planted there.
   */
  async #openTemp(
    path: string,
    created: string[],
  ): Promise<{ temp: string; handle: NodeFsFileHandle }> {
    for (let attempt = 1; ; attempt++) {
      const temp = join(this.root, parentOf(path), tempName());
      try {
        return { temp, handle: await this.#fs.open(temp, 'wx') };
      } catch (error) {
        // A concurrent trash may have just removed the empty parent it left behind.
        if (!isErrno(error, 'ENOENT') || attempt === 3) throw error;
        await this.#recreateParent(path, created);
      }
    }
  }

  /** Creates `path`'s parent again, adding what it made to `created` (deepest first). */
  async #recreateParent(path: string, created: string[]): Promise<void> {
    const again = await this.#ensureDirs(parentOf(path));
    created.splice(0, created.length, ...mergeDirs(again, created));
  }

  /** Puts the trashed file `source` at the free path `abs`: a hard link, else a copy. */
  async #place(source: string, abs: string, path: string, trashed: NodeFsStats): Promise<void> {
    try {
      await this.#fs.link(source, abs);
      return;
    } catch (error) {
      if (isErrno(error, 'EEXIST')) {
        throw new PreconditionFailedError('local', path, 'the restore target is already taken');
      }
      if (!isErrno(error, ...LINK_UNSUPPORTED)) throw error;
    }
    const temp = join(dirname(abs), tempName());
    try {
      await copyPreserving(this.#fs, source, temp, trashed);
      await this.#linkNoClobber(temp, abs, path);
    } catch (error) {
      await removeQuietly(this.#fs, temp);
      throw error;
    }
  }

  /**
   * Checks `expect` against what is at `abs` now; returns that (or `null` when
   * nothing is there). `undefined` checks nothing.
   */
  async #checkExpect(
    path: string,
    abs: string,
    expect: FileStat | null | undefined,
  ): Promise<NodeFsStats | null> {
    const current = (await lstatOrUndefined(this.#fs, abs)) ?? null;
    if (expect === null && current) {
      throw new PreconditionFailedError('local', path, 'expected nothing there, found an entry');
    }
    if (expect) {
      if (!current) throw new PreconditionFailedError('local', path, 'the file is gone');
      compareExpect(path, current, expect);
    }
    return current;
  }

  /** Moves `from` to the free name `to`; a file that appeared at `to` wins. */
  async #linkNoClobber(from: string, to: string, path: string): Promise<void> {
    try {
      await this.#fs.link(from, to);
    } catch (error) {
      if (isErrno(error, 'EEXIST')) {
        throw new PreconditionFailedError('local', path, 'expected nothing there, found an entry');
      }
      if (!isErrno(error, ...LINK_UNSUPPORTED)) throw error;
      // No hard links here: the check just before the rename is all there is.
      if (await lstatOrUndefined(this.#fs, to)) {
        throw new PreconditionFailedError('local', path, 'expected nothing there, found an entry');
      }
      await this.#fs.rename(from, to);
      return;
    }
    await this.#fs.unlink(from);
  }

  // ---- trash ----

  /**
   * A fresh trash slot for `path`: `<requested>/<path>` (or `<requested>~2/<path>`…), else
   * `<n>-<UTC time>/<path>` under the trash dir.
   */
  async #allocate(path: string, requested?: string): Promise<{ location: string; abs: string }> {
    await this.#fs.mkdir(this.trashDir, { recursive: true });
    for (let n = 1; ; n++) {
      const stamp = new Date().toISOString().replace(/[-:]/g, '');
      const slot =
        requested === undefined
          ? `${this.#nextTrash++}-${stamp}`
          : trashSlotCandidate(requested, n);
      try {
        // Not recursive: an existing slot (another process, an earlier run) is not shared.
        await this.#fs.mkdir(join(this.trashDir, slot));
      } catch (error) {
        if (isErrno(error, 'EEXIST')) continue;
        throw error;
      }
      const location = `${slot}/${path}`;
      const abs = join(this.trashDir, location);
      if (path.includes('/')) await this.#fs.mkdir(dirname(abs), { recursive: true });
      return { location, abs };
    }
  }

  /**
   * Keeps the file about to be replaced: a hard link (the target never goes missing) or,
   * where links fail (a trash on another device, a filesystem without them), a copy.
   */
  async #keep(
    path: string,
    abs: string,
    current: NodeFsStats,
    requested: string | undefined,
  ): Promise<{ location: string; abs: string; copied: boolean }> {
    const slot = await this.#allocate(path, requested);
    try {
      await this.#fs.link(abs, slot.abs);
      return { ...slot, copied: false };
    } catch (error) {
      if (!isErrno(error, ...LINK_UNSUPPORTED)) {
        await this.#removeTrashDirs(slot.location);
        throw error;
      }
    }
    try {
      await copyPreserving(this.#fs, abs, slot.abs, current);
    } catch (error) {
      await this.#discardTrashed(slot);
      throw error;
    }
    return { ...slot, copied: true };
  }

  /** Throws `precondition-failed` unless `path` is still the file `checked` described. */
  async #stillAsChecked(path: string, abs: string, checked: NodeFsStats): Promise<void> {
    const now = await lstatOrUndefined(this.#fs, abs);
    if (now && sameInode(now, checked) && sameStat(fileStatOf(now), fileStatOf(checked))) return;
    throw new PreconditionFailedError(
      'local',
      path,
      'it changed while its previous version was copied to the trash',
    );
  }

  async #discardTrashed(slot: { location: string; abs: string }): Promise<void> {
    await removeQuietly(this.#fs, slot.abs);
    await this.#removeTrashDirs(slot.location);
  }

  /**
   * Trash onto another device: copy, then rename the original aside (atomic, so a
   * later edit lands in a new file), then drop it if it is still what was copied.
   */
  async #moveAcrossDevices(
    path: string,
    abs: string,
    trashAbs: string,
    checked: NodeFsStats,
  ): Promise<void> {
    await copyPreserving(this.#fs, abs, trashAbs, checked);
    const aside = join(dirname(abs), tempName());
    try {
      await this.#fs.rename(abs, aside);
    } catch (error) {
      await removeQuietly(this.#fs, trashAbs);
      throw isErrno(error, 'ENOENT')
        ? new PreconditionFailedError('local', path, 'the file is gone')
        : error;
    }
    const moved = await this.#fs.lstat(aside, BIGINT);
    if (sameInode(moved, checked) && sameStat(fileStatOf(moved), fileStatOf(checked))) {
      await this.#fs.unlink(aside);
      return;
    }
    // Edited while it was copied: put the newer file back, or keep it in the trash.
    await removeQuietly(this.#fs, trashAbs);
    try {
      await this.#fs.link(aside, abs);
    } catch (error) {
      if (!isErrno(error, 'EEXIST', ...LINK_UNSUPPORTED)) throw error;
      await copyPreserving(this.#fs, aside, trashAbs, moved);
      await this.#fs.unlink(aside);
      return;
    }
    await this.#fs.unlink(aside);
    throw new PreconditionFailedError('local', path, 'it changed while it was being trashed');
  }

  /** Removes the now-empty directories of a trash location, up to (not including) the trash dir. */
  async #removeTrashDirs(location: string): Promise<void> {
    for (const dir of ancestorsOf(location).reverse()) {
      if (!(await removeEmptyDir(this.#fs, join(this.trashDir, dir)))) return;
    }
  }
}

/** Writes `data` into a fresh temp file and flushes it; closes the handle either way. */
async function fillTemp(
  handle: NodeFsFileHandle,
  data: Uint8Array | AsyncIterable<Uint8Array>,
  mode: number | null,
): Promise<void> {
  try {
    if (mode !== null) {
      // Best effort: keeps an executable bit; FAT and some shares cannot store modes.
      await handle.chmod(mode).catch((error: unknown) => {
        if (!isErrno(error, 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EINVAL')) throw error;
      });
    }
    for await (const chunk of data instanceof Uint8Array ? [data] : data) {
      for (let offset = 0; offset < chunk.length; ) {
        const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset, null);
        offset += bytesWritten;
      }
    }
    await handle.sync?.();
  } finally {
    await handle.close();
  }
}

/** Two lists of created directories as one, deepest first, for {@link NodeTree}'s cleanup. */
function mergeDirs(a: readonly string[], b: readonly string[]): string[] {
  const depth = (dir: string) => dir.split('/').length;
  return [...new Set([...a, ...b])].sort((x, y) => depth(y) - depth(x));
}

type EntryKind =
  | 'file'
  | 'dir'
  | 'symlink'
  | 'special'
  | 'name'
  | 'gone'
  | 'unknown'
  | { code: string; message: string };

const decoder = new TextDecoder();

function direntKind(entry: NodeFsDirent): EntryKind {
  if (entry.isSymbolicLink()) return 'symlink';
  if (entry.isDirectory()) return 'dir';
  if (entry.isFile()) return 'file';
  if (entry.isFIFO() || entry.isSocket() || entry.isBlockDevice() || entry.isCharacterDevice()) {
    return 'special';
  }
  return 'unknown';
}

function statsKind(stats: NodeFsStats): EntryKind {
  if (stats.isSymbolicLink()) return 'symlink';
  if (stats.isDirectory()) return 'dir';
  if (stats.isFile()) return 'file';
  return 'special';
}

function unreadable(path: string, error: { code: string; message: string }): WalkItem {
  return { kind: 'unreadable', path, code: error.code, message: error.message };
}

function changedError(path: string): { code: string; message: string } {
  return { code: 'changed-during-walk', message: `${path} changed type while it was walked` };
}

function errorInfo(error: unknown): { code: string; message: string } {
  const code = (error as { code?: unknown } | null)?.code;
  return {
    code: typeof code === 'string' && code !== '' ? code : 'EIO',
    message: error instanceof Error ? error.message : String(error),
  };
}

/** Why `path` is not a tree path this tree accepts, or `null`. */
function unsafeReason(path: string): string | null {
  if (path === '') return 'it is empty';
  if (path.startsWith('/')) return 'it is absolute';
  if (path.includes('\0')) return 'it contains a NUL character';
  if (path.includes('\\')) return 'it contains a backslash';
  for (const segment of path.split('/')) {
    if (segment === '') return 'it has an empty segment';
    if (segment === '.' || segment === '..') return `it has a "${segment}" segment`;
    if (segment.startsWith(TEMP_PREFIX)) return `${TEMP_PREFIX}* names are syncjournal's own`;
  }
  return null;
}

/** `a/b/c` → `a`, `a/b`. */
function ancestorsOf(path: string): string[] {
  const segments = path.split('/');
  return segments.slice(1).map((_, i) => segments.slice(0, i + 1).join('/'));
}

function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}

function tempName(): string {
  return `${TEMP_PREFIX}${uniqueName()}`;
}

function refuseNesting(root: string, trashDir: string): void {
  const inside = (a: string, b: string) =>
    a === b || a.startsWith(b.endsWith(sep) ? b : `${b}${sep}`);
  if (inside(trashDir, root) || inside(root, trashDir)) {
    throw new SyncJournalError(
      'tree-trash-nested',
      `The trash dir ${trashDir} and the local folder ${root} contain one another, so trashed files would be synced again. ` +
        'Nothing was changed. Choose a trash dir outside the local folder.',
      { root, trashDir },
    );
  }
}

/** The root's stat; throws {@link TreeRootMissingError} when it is missing or not a directory. */
async function statRoot(fs: NodeFs, root: string): Promise<NodeFsStats> {
  let stats: NodeFsStats;
  try {
    // The root itself may be a link: choosing it is the user's call.
    stats = await fs.stat(root, BIGINT);
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'ENOTDIR')) throw new TreeRootMissingError(root, { cause: error });
    throw error;
  }
  if (!stats.isDirectory()) throw new TreeRootMissingError(root);
  return stats;
}

async function probeFilesystem(
  fs: NodeFs,
  dir: string,
): Promise<{ caseInsensitive: boolean; timestampGranularityMs: number }> {
  const name = `${tempName()}-probe`;
  const path = join(dir, name);
  await (await fs.open(path, 'wx')).close();
  try {
    const made = await fs.lstat(path, BIGINT);
    const other = await lstatOrUndefined(fs, join(dir, name.toUpperCase()));
    const caseInsensitive = other !== undefined && sameInode(other, made);
    await fs.utimes(path, toSeconds(PROBE_MTIME_MS), toSeconds(PROBE_MTIME_MS));
    const back = fileStatOf(await fs.lstat(path, BIGINT)).mtimeMs;
    return { caseInsensitive, timestampGranularityMs: granularityOf(back, PROBE_MTIME_MS) };
  } finally {
    await removeQuietly(fs, path);
  }
}

/**
 * Whether `dir` finds a file created under the NFC encoding of an accented name by its
 * NFD encoding (macOS: APFS and HFS+), by a second probe file. A filesystem that
 * refuses the name cannot hold such names at all, so it counts as not folding them.
 */
async function probeNormalization(fs: NodeFs, dir: string): Promise<boolean> {
  const name = `${tempName()}-probe-\u00e9`;
  const path = join(dir, name);
  try {
    await (await fs.open(path, 'wx')).close();
  } catch {
    return false;
  }
  try {
    const made = await fs.lstat(path, BIGINT);
    const other = await lstatOrUndefined(fs, join(dir, name.normalize('NFD')));
    return other !== undefined && sameInode(other, made);
  } finally {
    await removeQuietly(fs, path);
  }
}

/** The mtime resolution that turns `set` into `back`; 2000 when the probe cannot tell. */
function granularityOf(back: number, set: number): number {
  const off = Math.abs(back - set);
  if (off < 1) return 1;
  for (const unit of [2000, 1000, 100, 10, 2]) {
    if (back % unit === 0 && off < unit) return unit;
  }
  return 2000;
}

function fileStatOf(stats: NodeFsStats): FileStat {
  const stat: FileStat = {
    size: Number(stats.size),
    mtimeMs: msOf(stats.mtimeNs, stats.mtimeMs),
    ctimeMs: msOf(stats.ctimeNs, stats.ctimeMs),
  };
  // 0 is what filesystems without inode numbers report.
  if (BigInt(stats.ino) !== 0n) stat.ino = String(stats.ino);
  return stat;
}

/** Milliseconds exactly as Node's non-bigint stats compute them (`sec * 1e3 + nsec / 1e6`). */
function msOf(ns: bigint | undefined, ms: number | bigint): number {
  if (ns === undefined) return Number(ms);
  let sec = ns / 1_000_000_000n;
  let nsec = ns % 1_000_000_000n;
  if (nsec < 0n) {
    sec -= 1n;
    nsec += 1_000_000_000n;
  }
  return Number(sec) * 1000 + Number(nsec) / 1e6;
}

/**
 * `ms` as the seconds `utimes` takes. libuv truncates the double to whole
 * microseconds, so 1704067200.123 would come back as …122.999 ms; half a microsecond
 * more makes that truncation land on the nearest microsecond instead.
 */
function toSeconds(ms: number): number {
  return (ms + 0.0005) / 1000;
}

function sameInode(a: NodeFsStats, b: NodeFsStats): boolean {
  return BigInt(a.ino) === BigInt(b.ino) && BigInt(a.dev) === BigInt(b.dev);
}

function sameStat(a: FileStat, b: FileStat): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino;
}

/** Throws {@link PreconditionFailedError} unless `current` still matches `expect`. */
function compareExpect(path: string, current: NodeFsStats, expect: FileStat): void {
  if (!current.isFile()) {
    throw new PreconditionFailedError('local', path, 'it is no longer a regular file');
  }
  const stat = fileStatOf(current);
  if (stat.size !== expect.size) {
    throw new PreconditionFailedError('local', path, 'its size changed');
  }
  if (stat.mtimeMs !== expect.mtimeMs) {
    throw new PreconditionFailedError('local', path, 'its mtime changed');
  }
  if (stat.ino !== undefined && expect.ino !== undefined && stat.ino !== expect.ino) {
    throw new PreconditionFailedError('local', path, 'it was replaced (new inode)');
  }
}

/** Copies a file that must not exist yet at `to`, keeping the source's mtime. */
async function copyPreserving(
  fs: NodeFs,
  from: string,
  to: string,
  source: NodeFsStats,
): Promise<void> {
  await fs.copyFile(from, to, fsSync.constants.COPYFILE_EXCL);
  const mtime = toSeconds(fileStatOf(source).mtimeMs);
  await fs.utimes(to, mtime, mtime);
}

async function lstatOrUndefined(fs: NodeFs, path: string): Promise<NodeFsStats | undefined> {
  try {
    return await fs.lstat(path, BIGINT);
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'ENOTDIR')) return undefined;
    throw error;
  }
}

async function removeQuietly(fs: NodeFs, path: string): Promise<void> {
  try {
    await fs.unlink(path);
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) throw error;
  }
}

/** Removes `dir` if it is empty; false when it stays (not empty, gone, busy…). */
async function removeEmptyDir(fs: NodeFs, dir: string): Promise<boolean> {
  try {
    await fs.rmdir(dir);
    return true;
  } catch (error) {
    // Tidying up is best effort; only errors that are not the filesystem's own escape.
    if (typeof (error as { code?: unknown } | null)?.code === 'string') return false;
    throw error;
  }
}

function isErrno(error: unknown, ...codes: string[]): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && codes.includes(code);
}

function errnoError(code: string, message: string): Error & { code: string } {
  const error = new Error(`${code}: ${message}`) as Error & { code: string };
  error.code = code;
  return error;
}
