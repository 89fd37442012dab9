import type { Stats } from 'node:fs';
import * as nodeSyncFs from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type BodySource,
  type ListPage,
  NotFoundError,
  type ObjectStore,
  PreconditionFailedError,
  type PutOptions,
  type RemoteObject,
  type StoreCapabilities,
  SyncJournalError,
} from '@syncjournal/core';
import { isRealFs, localFsFor } from './direct-fs.js';
import {
  FolderFlusher,
  type FolderStoreFs,
  isErrno,
  readChunks,
  removeQuietly,
  type TempFile,
  writeTemp,
} from './folder-store-io.js';
import { assertSafeKey, assertWritableKey, STORE_DIR, unquoteEtag } from './folder-store-keys.js';
import { LIST_WORKER, ListAhead, listPage, listPageSync } from './folder-store-list.js';
import { BucketWriteLock } from './folder-store-lock.js';
import {
  type FileIdentity,
  type FolderStoreSyncFs,
  objectOf,
  readSidecar,
  removeSidecar,
  type Sidecar,
  writeSidecar,
} from './folder-store-meta.js';
import {
  currentFile,
  dataPath,
  inspectKey,
  keyConflict,
  makeParents,
  pruneEmptyParents,
  sweepTemp,
} from './folder-store-paths.js';
import { DirCache } from './folder-store-walk.js';

export type { FolderStoreFs } from './folder-store-io.js';
export { BucketLockedError } from './folder-store-lock.js';

/** Options of {@link FolderStore.open}. */
export interface FolderStoreOptions {
  /** The bucket folder: a path (relative to the working directory) or a `file:` URL. */
  root: string | URL;
  /** Objects per listing page (default 1000, as S3). */
  pageSize?: number;
  /**
   * Create the bucket folder when it is missing (default false). Off, a missing folder
   * is refused, so an unmounted drive is never mistaken for an empty bucket.
   */
  create?: boolean;
  /** How long a write waits for another process's write lock (default 10 s). */
  lockTimeoutMs?: number;
  /**
   * How long the write lock is kept for a next write of this process before it is
   * released (default 25 ms): a sync's writes then take it once, not once each (a dozen
   * file-system calls). 0 releases it after every write that no other write of this
   * process is already waiting behind. It is released on exit either way.
   */
  lockLingerMs?: number;
  /**
   * The filesystem: by default blocking calls on a local disk and `node:fs/promises` on
   * a network or FUSE filesystem (see direct-fs.ts); tests inject failures through it.
   */
  fs?: FolderStoreFs;
  /**
   * List a large bucket (more than 16 pages) ahead on a worker thread, from its first
   * page on (default true; only on the real filesystem, from the built package): a sync
   * lists the bucket while it reads its journal, instead of after.
   */
  listInWorker?: boolean;
}

const TEMP_MAX_AGE_MS = 24 * 60 * 60 * 1000;
/**
 * Pages a listing from the start lists at once on the calling thread; only a bucket
 * with more (16k objects at the default page size) reads the rest on a worker, whose
 * start costs more than listing a smaller bucket here.
 */
const PAGES_HERE = 16;

/**
 * A plain folder acting as an S3-like bucket: each object is the file `<root>/<key>`,
 * so the bucket can be browsed and backed up like any folder.
 *
 * An object's ETag is its file's stat identity (size, mtime, inode), so a listing
 * reads no more than a directory walk and one lstat per object, and reports
 * `sha256: null` as an S3 listing does. The content SHA-256 a put recorded sits in a
 * sidecar record under `<root>/.syncjournal/meta/`, which {@link FolderStore.head}
 * reads; it is believed only while the data file keeps the size, mtime and inode it
 * had when written, so a file added or edited by hand has none. Writes land by rename from
 * `<root>/.syncjournal/tmp/`, and the check-and-rename step of every write holds a
 * bucket-wide lock, so conditional writes hold between processes on one machine
 * (not between machines sharing the folder over a network filesystem).
 *
 * Durability: a put or copy that returned is on disk (the data is flushed before the
 * rename, the directory after it). Keys that the folder cannot hold — one key that is
 * a folder of another (`a` and `a/b`) — are refused with `key-conflict`.
 */
export class FolderStore implements ObjectStore {
  readonly capabilities: StoreCapabilities = {
    conditionalWrites: true,
    versioning: false,
    snapshots: false,
  };
  readonly #fs: FolderStoreFs;
  readonly #pageSize: number;
  readonly #metaDir: string;
  readonly #tmpDir: string;
  readonly #lock: BucketWriteLock;
  readonly #dirs = new DirCache();
  /** Writers landing objects in one folder at once share its flushes. */
  readonly #flusher: FolderFlusher;
  /** Blocking calls for listings, on the real filesystem only (tests inject faults through `fs`). */
  readonly #syncFs: FolderStoreSyncFs | undefined;
  readonly #listInWorker: boolean;
  /** Pages of the current listing listed ahead here, in order, with the cursor each follows. */
  #listed: { cursor: string; page: ListPage }[] = [];
  /** The rest of the current listing, read ahead on a worker. */
  #ahead: ListAhead | undefined;

  private constructor(
    /** The bucket folder, as an absolute path with symbolic links resolved. */
    readonly root: string,
    options: FolderStoreOptions,
    fs: FolderStoreFs,
  ) {
    this.#fs = fs;
    this.#flusher = new FolderFlusher(fs);
    this.#syncFs = isRealFs(fs) ? nodeSyncFs : undefined;
    this.#listInWorker =
      (options.listInWorker ?? true) && this.#syncFs !== undefined && LIST_WORKER !== undefined;
    this.#pageSize = options.pageSize ?? 1000;
    if (!(this.#pageSize >= 1)) throw new RangeError('pageSize must be at least 1');
    this.#metaDir = join(root, STORE_DIR, 'meta');
    this.#tmpDir = join(root, STORE_DIR, 'tmp');
    this.#lock = new BucketWriteLock(
      fs,
      join(root, STORE_DIR, 'locks'),
      options.lockTimeoutMs ?? 10_000,
      options.lockLingerMs ?? 25,
    );
  }

  /**
   * Opens the bucket folder. Throws `bucket-missing` when it does not exist (unless
   * `create`) and `bucket-not-a-folder` when it is a file. Temp files older than a
   * day, left by writers that crashed, are removed.
   */
  static async open(options: FolderStoreOptions): Promise<FolderStore> {
    const given = rootPath(options.root);
    const fs = options.fs ?? localFsFor(given);
    let stats = await statOrMissing(fs, given);
    if (!stats && options.create) {
      await fs.mkdir(given, { recursive: true });
      stats = await fs.stat(given);
    }
    if (!stats) {
      throw new SyncJournalError(
        'bucket-missing',
        `The folder bucket ${given} does not exist. Nothing was read or written. ` +
          'Check that its drive is mounted and the path is right, or create the folder first.',
        { root: given },
      );
    }
    if (!stats.isDirectory()) {
      throw new SyncJournalError(
        'bucket-not-a-folder',
        `The folder bucket ${given} is a file, not a folder. Nothing was read or written. Point the remote at a folder.`,
        { root: given },
      );
    }
    const store = new FolderStore(await fs.realpath(given), options, fs);
    await sweepTemp(fs, store.#tmpDir, TEMP_MAX_AGE_MS);
    return store;
  }

  /**
   * One page of keys after `cursor` (the last key of the previous page). On the real
   * filesystem a listing from the start lists its first {@link PAGES_HERE} pages at
   * once, and a bucket with more reads the rest ahead on a worker thread (see
   * {@link FolderStoreOptions.listInWorker}); a page asked for out of turn, or that the
   * worker cannot give, is listed here.
   */
  async list(cursor?: string): Promise<ListPage> {
    if (cursor === undefined) {
      this.#stopListing();
      if (this.#listInWorker) return this.#startListing();
    }
    const listed = this.#listed.shift();
    if (listed && listed.cursor === cursor) return listed.page;
    if (listed) this.#stopListing();
    if (this.#ahead) {
      const page = await this.#ahead.take(cursor);
      if (page) return page;
      this.#stopListing();
    }
    return this.#listHere(cursor);
  }

  #listHere(cursor: string | undefined): Promise<ListPage> {
    return listPage(this.#fs, this.root, cursor, this.#pageSize, this.#dirs, this.#syncFs);
  }

  /**
   * The first page, with the next ones up to {@link PAGES_HERE} listed here and kept
   * for their turn: a bucket that small is listed before a worker could have started
   * (~0.1 s). A larger one reads the rest ahead on a worker. The pages here are listed
   * in one blocking stretch (~0.1 s for 16k objects): listed a page per turn of the
   * event loop, each waited behind the journal's queries of the same sync, and at 100k
   * objects the worker started 2.6 s late.
   */
  async #startListing(): Promise<ListPage> {
    const syncFs = this.#syncFs!;
    const first = listPageSync(syncFs, this.root, undefined, this.#pageSize, this.#dirs);
    let next = first.next;
    for (let i = 1; i < PAGES_HERE && next !== null; i++) {
      let page: ListPage;
      try {
        page = listPageSync(syncFs, this.root, next, this.#pageSize, this.#dirs);
      } catch {
        // Listed again when its turn comes, and thrown then, as that page's failure.
        return first;
      }
      this.#listed.push({ cursor: next, page });
      next = page.next;
    }
    if (next !== null) this.#ahead = new ListAhead(this.root, this.#pageSize, next);
    return first;
  }

  #stopListing(): void {
    this.#listed = [];
    this.#ahead?.close();
    this.#ahead = undefined;
  }

  async head(key: string): Promise<RemoteObject | undefined> {
    assertSafeKey(key);
    const stats = await currentFile(this.#fs, this.root, key);
    return stats && objectOf(key, stats, await readSidecar(this.#fs, this.#metaDir, key));
  }

  /**
   * The object and its bytes in 64 KiB chunks. The file is opened when the body is
   * first read, and only if it is still the file described by `object`; one that was
   * replaced or deleted in between makes the body throw `precondition-failed`.
   */
  async get(
    key: string,
    options: { versionId?: string; snapshot?: string } = {},
  ): Promise<{ object: RemoteObject; body: AsyncIterable<Uint8Array> }> {
    assertSafeKey(key);
    if (options.versionId !== undefined || options.snapshot !== undefined) {
      // No versions or snapshots are kept, so no such version exists.
      throw new NotFoundError(`The object ${key} at ${JSON.stringify(options)}`, {
        key,
        ...options,
      });
    }
    const stats = await currentFile(this.#fs, this.root, key);
    if (!stats) throw new NotFoundError(`The object ${key}`, { key });
    const object = objectOf(key, stats, await readSidecar(this.#fs, this.#metaDir, key));
    return { object, body: this.#read(key, stats) };
  }

  /**
   * Streams the body to a temp file while hashing it, then, holding the write lock,
   * checks the conditions and renames it into place. A body whose SHA-256 is not
   * `options.sha256` is refused with `checksum-mismatch` and nothing is written.
   */
  async put(key: string, body: BodySource, options: PutOptions): Promise<RemoteObject> {
    assertWritableKey(key);
    const temp = await writeTemp(this.#fs, this.#tmpDir, body);
    let landed = false;
    try {
      if (temp.sha256 !== options.sha256.toLowerCase()) {
        throw new SyncJournalError(
          'checksum-mismatch',
          `The upload of ${key} has SHA-256 ${temp.sha256}, not the ${options.sha256} it was sent with. ` +
            'Nothing was written; the source probably changed while it was read. Sync again.',
          { key, expected: options.sha256, actual: temp.sha256 },
        );
      }
      const object = await this.#lock.run(async () => {
        const { parentsReady } = await this.#checkConditions(key, options);
        return this.#landTemp(key, temp, parentsReady);
      });
      landed = true;
      // Outside the lock: other writers need not wait for the record or the flush.
      await this.#recordLanded(key, temp);
      return object;
    } finally {
      if (!landed) await removeQuietly(this.#fs, temp.path);
    }
  }

  async delete(key: string, options: { ifMatch?: string } = {}): Promise<{ versionId?: string }> {
    assertWritableKey(key);
    await this.#lock.run(async () => {
      const { current } = await this.#checkConditions(key, { ifMatch: options.ifMatch });
      if (current) await removeQuietly(this.#fs, dataPath(this.root, key));
      await removeSidecar(this.#fs, this.#metaDir, key);
      if (current) await pruneEmptyParents(this.#fs, this.root, key);
    });
    return {};
  }

  /** Copies `from` to `to` unconditionally (trash copies); the copy's SHA-256 is of the bytes copied. */
  async copy(from: string, to: string): Promise<RemoteObject> {
    assertSafeKey(from);
    assertWritableKey(to);
    const handle = (await currentFile(this.#fs, this.root, from)) && (await this.#openFile(from));
    if (!handle) throw new NotFoundError(`The object ${from}`, { key: from });
    let temp: TempFile;
    let landed = false;
    try {
      temp = await writeTemp(this.#fs, this.#tmpDir, readChunks(handle));
    } finally {
      await handle.close();
    }
    try {
      const object = await this.#lock.run(() => this.#landTemp(to, temp));
      landed = true;
      await this.#recordLanded(to, temp);
      return object;
    } finally {
      if (!landed) await removeQuietly(this.#fs, temp.path);
    }
  }

  // ---- internals ----

  /** The bytes of `key`, if it is still the file `expected`; the open fd pins them. */
  async *#read(key: string, expected: FileIdentity): AsyncGenerator<Uint8Array> {
    const handle = await this.#openFile(key);
    if (!handle)
      throw new PreconditionFailedError('remote', key, 'it was deleted before it was read');
    try {
      const now = await handle.stat();
      if (
        now.ino !== expected.ino ||
        now.size !== expected.size ||
        now.mtimeMs !== expected.mtimeMs
      ) {
        throw new PreconditionFailedError('remote', key, 'it was replaced before it was read');
      }
    } catch (error) {
      await handle.close();
      throw error;
    }
    yield* readChunks(handle);
  }

  async #openFile(key: string) {
    try {
      return await this.#fs.open(dataPath(this.root, key), 'r');
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ENOTDIR', 'EISDIR')) return undefined;
      throw error;
    }
  }

  /**
   * Checks `ifNoneMatch`/`ifMatch` against the object now; call holding the lock.
   * Also says whether the folders above the key are all in place already.
   */
  async #checkConditions(
    key: string,
    options: { ifMatch?: string | undefined; ifNoneMatch?: '*' | undefined },
  ): Promise<{ current: RemoteObject | undefined; parentsReady: boolean }> {
    const { stats, parentsReady } = await inspectKey(this.#fs, this.root, key);
    // The ETag is the stat identity: no condition needs the sidecar.
    const current = stats && objectOf(key, stats, undefined);
    if (options.ifNoneMatch === '*' && current) {
      throw new PreconditionFailedError('remote', key, 'an object already exists');
    }
    if (options.ifMatch !== undefined) {
      if (!current) throw new PreconditionFailedError('remote', key, 'the object is gone');
      if (unquoteEtag(current.etag) !== unquoteEtag(options.ifMatch)) {
        throw new PreconditionFailedError(
          'remote',
          key,
          `its ETag is no longer ${options.ifMatch}`,
        );
      }
    }
    return { current, parentsReady };
  }

  /**
   * Renames a verified temp file to `key`; call holding the lock. The sidecar is written
   * after the lock is released ({@link FolderStore.#recordLanded}): until then the object
   * heads with no SHA-256, as a hand-copied file does — never as wrong.
   */
  async #landTemp(key: string, temp: TempFile, parentsReady = false): Promise<RemoteObject> {
    const target = dataPath(this.root, key);
    if (!parentsReady) await makeParents(this.#fs, this.root, key);
    try {
      await this.#fs.rename(temp.path, target);
    } catch (error) {
      if (isErrno(error, 'EISDIR', 'ENOTEMPTY', 'EEXIST', 'EPERM')) {
        throw keyConflict(key, `${key} is a folder in the bucket folder`);
      }
      if (isErrno(error, 'ENOTDIR')) throw keyConflict(key, 'a file is where a folder is needed');
      throw error;
    }
    return objectOf(key, temp.stats, landedSidecar(key, temp));
  }

  /**
   * Records what was written to `key` in its sidecar and flushes the folder it landed
   * in. A sidecar names the data file's inode, so one that lands after another writer
   * replaced the file is stale on arrival and ignored.
   */
  async #recordLanded(key: string, temp: TempFile): Promise<void> {
    await writeSidecar(this.#fs, this.#metaDir, this.#tmpDir, landedSidecar(key, temp));
    await this.#flusher.flush(dirname(dataPath(this.root, key)));
  }
}

/** The sidecar of a temp file renamed to `key` (the rename kept its inode, size and mtime). */
function landedSidecar(key: string, temp: TempFile): Sidecar {
  return {
    key,
    sha256: temp.sha256,
    size: temp.stats.size,
    mtimeMs: temp.stats.mtimeMs,
    ino: temp.stats.ino,
  };
}

/**
 * A {@link FolderStore} for a `file:` URL (`file:///srv/bucket`), as remotes are named
 * in configuration; other schemes are refused with `unsupported-url`.
 */
export async function folderStoreFromUrl(
  url: string | URL,
  options: Omit<FolderStoreOptions, 'root'> = {},
): Promise<FolderStore> {
  const parsed = typeof url === 'string' ? new URL(url) : url;
  if (parsed.protocol !== 'file:') {
    throw new SyncJournalError(
      'unsupported-url',
      `${parsed.href} is not a file: URL; a folder bucket is named like file:///path/to/bucket.`,
      { url: parsed.href },
    );
  }
  return FolderStore.open({ ...options, root: parsed });
}

async function statOrMissing(fs: FolderStoreFs, path: string): Promise<Stats | undefined> {
  try {
    return await fs.stat(path);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
}

function rootPath(root: string | URL): string {
  if (root instanceof URL || root.startsWith('file:')) return fileURLToPath(root);
  return resolve(root);
}
