import { createHash } from 'node:crypto';
import type { Dirent, Stats } from 'node:fs';
import { dirname, join } from 'node:path';
import type { BodySource } from '@syncjournal/core';
import { SyncJournalError } from '@syncjournal/core';
import type { NodeFsFileHandle } from './node-tree.js';
import { uniqueName } from './unique-name.js';

/** The part of a `FileHandle` that a folder bucket uses: the local tree's, with number stats. */
export interface StoreFileHandle extends Pick<NodeFsFileHandle, 'read' | 'write' | 'close'> {
  stat(): Promise<Stats>;
  sync(): Promise<void>;
}

/**
 * The part of `node:fs/promises` a folder bucket uses; `node:fs/promises` itself fits.
 * By default a bucket on a local disk gets the blocking calls of `direct-fs.ts`. Tests
 * pass a wrapper around the real module to inject the failures a root user cannot
 * provoke with permissions (an unreadable directory).
 */
export interface FolderStoreFs {
  lstat(path: string): Promise<Stats>;
  stat(path: string): Promise<Stats>;
  mkdir(path: string, options?: { recursive?: boolean }): Promise<unknown>;
  open(path: string, flags: string): Promise<StoreFileHandle>;
  readFile(path: string, encoding: 'utf8'): Promise<string>;
  readdir(path: string, options: { withFileTypes: true }): Promise<Dirent[]>;
  realpath(path: string): Promise<string>;
  rename(from: string, to: string): Promise<void>;
  rm(path: string, options: { recursive?: boolean; force?: boolean }): Promise<void>;
  rmdir(path: string): Promise<void>;
  unlink(path: string): Promise<void>;
  writeFile(path: string, data: string, options?: { flag?: string }): Promise<void>;
}

/** Bytes per chunk when reading an object. */
export const CHUNK_SIZE = 64 * 1024;

/** A file written to the store's temp dir, with what was actually written. */
export interface TempFile {
  path: string;
  size: number;
  sha256: string;
  /** The file's stat once flushed; a rename keeps its inode, size and mtime. */
  stats: Stats;
}

/** A fresh, unpredictable file name under `dir`. */
export function tempPath(dir: string): string {
  return join(dir, uniqueName());
}

/**
 * Streams `body` into a new temp file under `tmpDir`, hashing what is written, and
 * flushes it to disk. On any failure the temp file is removed.
 */
export async function writeTemp(
  fs: FolderStoreFs,
  tmpDir: string,
  body: BodySource | AsyncIterable<Uint8Array>,
): Promise<TempFile> {
  const path = tempPath(tmpDir);
  const hash = createHash('sha256');
  let size = 0;
  let stats: Stats;
  const handle = await createInFolder(fs, path, () => fs.open(path, 'wx'));
  try {
    try {
      const chunks = body instanceof Uint8Array ? [body] : 'open' in body ? body.open() : body;
      for await (const chunk of chunks) {
        hash.update(chunk);
        size += chunk.length;
        await writeAll(handle, chunk);
      }
      if (!(body instanceof Uint8Array) && 'open' in body && size !== body.size) {
        throw new SyncJournalError(
          'incomplete-body',
          `The upload body had ${size} bytes where ${body.size} were declared. Nothing was written.`,
          { declared: body.size, actual: size },
        );
      }
      await handle.sync();
      stats = await handle.stat();
    } finally {
      await handle.close();
    }
  } catch (error) {
    await removeQuietly(fs, path);
    throw error;
  }
  return { path, size, sha256: hash.digest('hex'), stats };
}

/**
 * Runs `create` (which makes a file at `path`); when the folder it goes in is missing —
 * on the first write, or after someone removed it — creates the folder and tries once
 * more. Cheaper than making sure of the folder before every write.
 */
export async function createInFolder<T>(
  fs: FolderStoreFs,
  path: string,
  create: () => Promise<T>,
): Promise<T> {
  try {
    return await create();
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) throw error;
    await fs.mkdir(dirname(path), { recursive: true });
    return create();
  }
}

async function writeAll(handle: StoreFileHandle, chunk: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset, null);
    offset += bytesWritten;
  }
}

/** Reads an open file from the start in {@link CHUNK_SIZE} chunks, closing it at the end or on break. */
export async function* readChunks(handle: StoreFileHandle): AsyncGenerator<Uint8Array> {
  try {
    let position = 0;
    for (;;) {
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

/** Removes a file, ignoring only that it is already gone. */
export async function removeQuietly(fs: FolderStoreFs, path: string): Promise<void> {
  try {
    await fs.unlink(path);
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) throw error;
  }
}

/** Flushes a directory's entries (a rename into it) to disk where the platform allows it. */
export async function syncDir(fs: FolderStoreFs, dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Flushes folders for many writers at once, as a database commits a group: a writer
 * whose rename is done asks for its folder's flush; while one runs (it may have started
 * before that rename), every writer asking meanwhile shares the single flush that starts
 * when it ends. Each writer still returns only after a flush that began after its rename.
 */
export class FolderFlusher {
  readonly #fs: FolderStoreFs;
  readonly #running = new Map<string, Promise<void>>();
  readonly #queued = new Map<string, Promise<void>>();

  constructor(fs: FolderStoreFs) {
    this.#fs = fs;
  }

  flush(dir: string): Promise<void> {
    const queued = this.#queued.get(dir);
    if (queued) return queued;
    const running = this.#running.get(dir);
    if (!running) return this.#start(dir);
    const next = running.then(
      () => this.#start(dir),
      () => this.#start(dir),
    );
    this.#queued.set(dir, next);
    return next;
  }

  #start(dir: string): Promise<void> {
    // Writers asking from now on may have renamed after this flush began: the next one.
    this.#queued.delete(dir);
    const flush = syncDir(this.#fs, dir);
    this.#running.set(dir, flush);
    const done = () => {
      if (this.#running.get(dir) === flush) this.#running.delete(dir);
    };
    flush.then(done, done);
    return flush;
  }
}

/** True when `error` is a Node system error with one of `codes`. */
export function isErrno(error: unknown, ...codes: string[]): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && codes.includes(code);
}
