import { NotFoundError, PreconditionFailedError } from '../errors.js';
import { comparePaths } from '../paths.js';
import { type Clock, systemClock } from '../ports/clock.js';
import type { FileStat, LocalTree, TrashOptions, WalkItem, WriteOptions } from '../ports/tree.js';
import { checkTrashSlot, trashSlotCandidate } from '../reconcile/safe-path.js';
import { chunksOf, collectBytes, decodeUtf8, encodeUtf8 } from './bytes.js';
import { platformError } from './platform-error.js';
import { ancestors, validatePath } from './tree-paths.js';

/** Options of {@link MemoryTree}. */
export interface MemoryTreeOptions {
  /** Source of mtimes and ctimes, so tests control time; the wall clock by default. */
  clock?: Clock;
  /** Fold case as macOS and Windows do; a name keeps the spelling it was first written with. */
  caseInsensitive?: boolean;
  /**
   * Treat the NFC and NFD encodings of a name as one file, as macOS does; a name keeps
   * the spelling it was first written with.
   */
  normalizationInsensitive?: boolean;
  /** Resolution of reported mtimes in ms; 2000 behaves like FAT. Default 1. */
  timestampGranularityMs?: number;
}

/** A file in a {@link MemoryTree}'s trash, as {@link MemoryTree.trashed} reports it. */
export interface TrashedFile {
  location: string;
  path: string;
  data: Uint8Array;
}

interface FileEntry {
  /** The spelling shown to callers (the first-written one where spellings fold together). */
  path: string;
  /** Never mutated once stored, so readers and the trash may share it. */
  data: Uint8Array;
  mtimeMs: number;
  ino: string;
  ctimeMs: number;
}

interface TrashEntry extends Omit<FileEntry, 'ctimeMs'> {
  location: string;
}

/**
 * A {@link LocalTree} held in memory: the reference implementation the conformance
 * suite is checked against, and the local side of engine tests and demos. Besides
 * the port it offers test helpers that act as the user would (edits that skip the
 * `expect` checks, deletes without trash) and fault injection (unreadable
 * directories, symbolic links, an edit racing the next write).
 */
export class MemoryTree implements LocalTree {
  readonly caseInsensitive: boolean;
  readonly normalizationInsensitive: boolean;
  readonly timestampGranularityMs: number;
  readonly #clock: Clock;
  readonly #files = new Map<string, FileEntry>();
  /** Every directory, explicit or implied by a file below it: key → spelling. */
  readonly #dirs = new Map<string, string>();
  readonly #symlinks = new Map<string, string>();
  readonly #trash = new Map<string, TrashEntry>();
  readonly #failed = new Set<string>();
  #nextIno = 1;
  #nextTrash = 1;
  #beforeWrite: ((path: string) => void | Promise<void>) | undefined;

  constructor(options: MemoryTreeOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.caseInsensitive = options.caseInsensitive ?? false;
    this.normalizationInsensitive = options.normalizationInsensitive ?? false;
    this.timestampGranularityMs = options.timestampGranularityMs ?? 1;
  }

  async *walk(): AsyncIterable<WalkItem> {
    if (this.#failed.has('')) throw platformError('EACCES', 'permission denied: the tree root');
    const items: Array<{ sortKey: string; item: WalkItem }> = [];
    for (const key of this.#failed) {
      const path = this.#dirs.get(key);
      // A failed directory inside another one cannot even be seen.
      if (path !== undefined && !this.#underFailed(key, false)) {
        const item: WalkItem = {
          kind: 'unreadable',
          path,
          code: 'EACCES',
          message: `permission denied: ${path}`,
        };
        items.push({ sortKey: `${path}/`, item });
      }
    }
    for (const [key, file] of this.#files) {
      if (!this.#underFailed(key, false)) {
        items.push({
          sortKey: file.path,
          item: { kind: 'file', path: file.path, ...statOf(file) },
        });
      }
    }
    for (const [key, path] of this.#symlinks) {
      if (!this.#underFailed(key, false)) {
        items.push({ sortKey: path, item: { kind: 'skipped', path, reason: 'symlink' } });
      }
    }
    items.sort((a, b) => comparePaths(a.sortKey, b.sortKey));
    for (const { item } of items) yield item;
  }

  async stat(path: string): Promise<FileStat | undefined> {
    this.#checkAccess(path);
    const file = this.#files.get(this.#key(path));
    return file && statOf(file);
  }

  async *read(path: string): AsyncIterable<Uint8Array> {
    this.#checkAccess(path);
    const file = this.#files.get(this.#key(path));
    if (!file) throw new NotFoundError(`The file ${path}`, { path });
    yield* chunksOf(file.data);
  }

  async write(
    path: string,
    data: Uint8Array | AsyncIterable<Uint8Array>,
    options: WriteOptions = {},
  ): Promise<{ stat: FileStat; trashed?: string }> {
    this.#checkAccess(path);
    if (options.trashSlot !== undefined) checkTrashSlot(options.trashSlot);
    const bytes = await collectBytes(data);
    await this.#runBeforeWrite(path);
    // From here on no await: the check and the swap are one step, like a rename.
    const key = this.#key(path);
    const current = this.#files.get(key);
    if (options.expect !== undefined) this.#checkExpect(path, current, options.expect);
    if (this.#dirs.has(key)) throw platformError('EISDIR', `${path} is a directory`);
    this.#checkParents(path);
    const trashed =
      options.keepPrevious && current
        ? this.#moveToTrash(key, current, options.trashSlot).location
        : undefined;
    const now = this.#clock.now();
    const file = this.#store(key, {
      path: current?.path ?? this.#spell(path),
      data: bytes,
      mtimeMs: this.#truncate(options.mtimeMs ?? now),
      ino: String(this.#nextIno++),
      ctimeMs: now,
    });
    return trashed === undefined ? { stat: statOf(file) } : { stat: statOf(file), trashed };
  }

  async trash(path: string, options: TrashOptions = {}): Promise<string> {
    this.#checkAccess(path);
    if (options.trashSlot !== undefined) checkTrashSlot(options.trashSlot);
    await this.#runBeforeWrite(path);
    const key = this.#key(path);
    const current = this.#files.get(key);
    if (!current) throw new NotFoundError(`The file ${path}`, { path });
    if (options.expect !== undefined) this.#checkExpect(path, current, options.expect);
    const { location } = this.#moveToTrash(key, current, options.trashSlot);
    this.#removeEmptyParents(key);
    return location;
  }

  async statTrash(trashLocation: string): Promise<FileStat | undefined> {
    const entry = this.#trash.get(trashLocation);
    return entry && { size: entry.data.length, mtimeMs: entry.mtimeMs, ino: entry.ino };
  }

  async restore(trashLocation: string, path: string): Promise<FileStat> {
    this.#checkAccess(path);
    const entry = this.#trash.get(trashLocation);
    if (!entry) throw new NotFoundError(`The trashed file ${trashLocation}`, { trashLocation });
    const key = this.#key(path);
    if (this.#files.has(key) || this.#dirs.has(key) || this.#symlinks.has(key)) {
      throw new PreconditionFailedError('local', path, 'the restore target is already taken');
    }
    this.#checkParents(path);
    this.#trash.delete(trashLocation);
    // A rename keeps the inode and mtime; only the ctime moves.
    const file = this.#store(key, {
      path: this.#spell(path),
      data: entry.data,
      mtimeMs: entry.mtimeMs,
      ino: entry.ino,
      ctimeMs: this.#clock.now(),
    });
    return statOf(file);
  }

  async mkdir(path: string): Promise<void> {
    this.#checkAccess(path);
    const key = this.#key(path);
    if (this.#files.has(key) || this.#symlinks.has(key)) {
      throw platformError('EEXIST', `${path} exists and is not a directory`);
    }
    this.#checkParents(path);
    this.#ensureParents(path);
    if (!this.#dirs.has(key)) this.#dirs.set(key, this.#spell(path));
  }

  // ---- Test and demo helpers: they act as the user would, outside the port. ----

  /** A user's edit in place (inode kept, no `expect` check, no trash); test/demo helper. */
  writeText(path: string, text: string, options: { mtimeMs?: number } = {}): FileStat {
    return this.writeBytes(path, encodeUtf8(text), options);
  }

  /**
   * {@link writeText} for bytes. An explicit `mtimeMs` simulates an edit that keeps
   * size and mtime (the racy-timestamp case); test/demo helper.
   */
  writeBytes(path: string, data: Uint8Array, options: { mtimeMs?: number } = {}): FileStat {
    validatePath(path);
    const key = this.#key(path);
    if (this.#dirs.has(key)) throw platformError('EISDIR', `${path} is a directory`);
    this.#checkParents(path);
    this.#symlinks.delete(key);
    const current = this.#files.get(key);
    const now = this.#clock.now();
    const file = this.#store(key, {
      path: current?.path ?? this.#spell(path),
      data: data.slice(),
      mtimeMs: this.#truncate(options.mtimeMs ?? now),
      ino: current?.ino ?? String(this.#nextIno++),
      ctimeMs: now,
    });
    return statOf(file);
  }

  /** The text of the file at `path`; throws `NotFoundError` when missing; test/demo helper. */
  readText(path: string): string {
    validatePath(path);
    const file = this.#files.get(this.#key(path));
    if (!file) throw new NotFoundError(`The file ${path}`, { path });
    return decodeUtf8(file.data);
  }

  /** A user's delete of a file or link (no trash; parents stay); test/demo helper. */
  remove(path: string): void {
    validatePath(path);
    const key = this.#key(path);
    if (!this.#files.delete(key) && !this.#symlinks.delete(key)) {
      throw new NotFoundError(`The file ${path}`, { path });
    }
  }

  /** A copy of every file, by path in walk order; test/demo helper. */
  files(): Map<string, Uint8Array> {
    const sorted = [...this.#files.values()].sort((a, b) => comparePaths(a.path, b.path));
    return new Map(sorted.map((file) => [file.path, file.data.slice()]));
  }

  /** What the trash holds, oldest first; test/demo helper. */
  trashed(): TrashedFile[] {
    return [...this.#trash.values()].map(({ location, path, data }) => ({
      location,
      path,
      data: data.slice(),
    }));
  }

  /**
   * Fault injection: the directory at `prefix` becomes unreadable, as after
   * `chmod 000`. The walk yields it as `unreadable` (code `EACCES`) where its files
   * would sort, and every port call under it throws an error with code `EACCES`.
   * `''` makes the root unreadable, so the walk itself throws.
   */
  failDirectory(prefix: string): void {
    if (prefix !== '') validatePath(prefix);
    this.#failed.add(this.#key(prefix));
  }

  /** Undoes {@link failDirectory}. */
  healDirectory(prefix: string): void {
    this.#failed.delete(this.#key(prefix));
  }

  /** Fault injection: a symbolic link at `path`, which the walk yields as `skipped`. */
  addSymlink(path: string): void {
    validatePath(path);
    const key = this.#key(path);
    if (this.#files.has(key) || this.#dirs.has(key)) {
      throw platformError('EEXIST', `${path} already exists`);
    }
    this.#checkParents(path);
    this.#ensureParents(path);
    this.#symlinks.set(key, this.#spell(path));
  }

  /**
   * Fault injection: runs `hook` once, right before the `expect` check of the next
   * {@link write} or {@link trash} — a user edit racing the executor.
   */
  beforeNextWrite(hook: (path: string) => void | Promise<void>): void {
    this.#beforeWrite = hook;
  }

  // ---- internals ----

  #key(path: string): string {
    const folded = this.caseInsensitive ? path.toLowerCase() : path;
    return this.normalizationInsensitive ? folded.normalize('NFC') : folded;
  }

  #truncate(ms: number): number {
    const g = this.timestampGranularityMs;
    return Math.floor(ms / g) * g;
  }

  async #runBeforeWrite(path: string): Promise<void> {
    const hook = this.#beforeWrite;
    this.#beforeWrite = undefined;
    await hook?.(path);
  }

  /** Is `key` inside a failed directory (or that directory itself, when `self`)? */
  #underFailed(key: string, self: boolean): boolean {
    for (const failed of this.#failed) {
      if (failed === '' || key.startsWith(`${failed}/`) || (self && key === failed)) return true;
    }
    return false;
  }

  #checkAccess(path: string): void {
    validatePath(path);
    if (this.#underFailed(this.#key(path), true)) {
      throw platformError('EACCES', `permission denied: ${path}`);
    }
  }

  #checkExpect(path: string, current: FileEntry | undefined, expect: FileStat | null): void {
    const key = this.#key(path);
    if (expect === null) {
      if (current || this.#dirs.has(key) || this.#symlinks.has(key)) {
        throw new PreconditionFailedError('local', path, 'expected nothing there, found an entry');
      }
      return;
    }
    if (!current) throw new PreconditionFailedError('local', path, 'the file is gone');
    if (current.data.length !== expect.size) {
      throw new PreconditionFailedError('local', path, 'its size changed');
    }
    if (current.mtimeMs !== expect.mtimeMs) {
      throw new PreconditionFailedError('local', path, 'its mtime changed');
    }
    if (expect.ino !== undefined && current.ino !== expect.ino) {
      throw new PreconditionFailedError('local', path, 'it was replaced (new inode)');
    }
  }

  /** Throws unless every ancestor of `path` is a directory or free. */
  #checkParents(path: string): void {
    for (const parent of ancestors(this.#key(path))) {
      if (this.#files.has(parent) || this.#symlinks.has(parent)) {
        throw platformError('ENOTDIR', `${parent} is not a directory`);
      }
    }
  }

  #ensureParents(path: string): void {
    for (const parent of ancestors(path)) {
      const key = this.#key(parent);
      if (!this.#dirs.has(key)) this.#dirs.set(key, this.#spell(parent));
    }
  }

  /** `path` as it appears on disk: existing directories keep their spelling. */
  #spell(path: string): string {
    let spelled = '';
    for (const segment of path.split('/')) {
      const given = spelled === '' ? segment : `${spelled}/${segment}`;
      spelled = this.#dirs.get(this.#key(given)) ?? given;
    }
    return spelled;
  }

  #store(key: string, file: FileEntry): FileEntry {
    this.#ensureParents(file.path);
    this.#symlinks.delete(key);
    this.#files.set(key, file);
    return file;
  }

  /** Keeps `file` at `<slot>/<path>`: the requested slot or the next free one of its family, else `trash-<n>`. */
  #moveToTrash(key: string, file: FileEntry, slot?: string): TrashEntry {
    const candidate = (n: number) =>
      slot === undefined ? `trash-${this.#nextTrash++}` : trashSlotCandidate(slot, n);
    // A slot holds one file: it is taken while a trashed file is in it.
    const taken = (name: string) => [...this.#trash.keys()].some((k) => k.startsWith(`${name}/`));
    let n = 1;
    let name = candidate(n);
    while (taken(name)) name = candidate(++n);
    const location = `${name}/${file.path}`;
    const entry = {
      location,
      path: file.path,
      data: file.data,
      mtimeMs: file.mtimeMs,
      ino: file.ino,
    };
    this.#trash.set(location, entry);
    this.#files.delete(key);
    return entry;
  }

  #removeEmptyParents(key: string): void {
    for (const parent of ancestors(key).reverse()) {
      if (this.#occupied(parent)) return;
      this.#dirs.delete(parent);
    }
  }

  /** Does anything live inside the directory `key`? */
  #occupied(key: string): boolean {
    const inside = `${key}/`;
    for (const map of [this.#files, this.#dirs, this.#symlinks]) {
      for (const k of map.keys()) if (k.startsWith(inside)) return true;
    }
    return false;
  }
}

function statOf(file: FileEntry): FileStat {
  return { size: file.data.length, mtimeMs: file.mtimeMs, ino: file.ino, ctimeMs: file.ctimeMs };
}
