import type { Stats } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import type { ListPage, RemoteObject } from '@syncjournal/core';
import type { FolderStoreFs } from './folder-store-io.js';
import { type FolderStoreSyncFs, objectOf } from './folder-store-meta.js';
import {
  type DirCache,
  isVanished,
  keysAfter,
  keysAfterSync,
  mapLimit,
  type WalkedKey,
} from './folder-store-walk.js';
import { builtWorker, startWorker } from './worker-inbox.js';

/**
 * One page of a folder bucket's listing: up to `pageSize` objects after `cursor`, and
 * the cursor of the next page (null on the last).
 *
 * One lstat per object and no sidecar: the ETag is the stat identity, and the SHA-256
 * is left to `head()` (the engine carries it over from the last listing while the ETag
 * holds). On the real filesystem (`syncFs`) it is {@link listPageSync}: blocking calls
 * instead of a threadpool round trip per object.
 */
export async function listPage(
  fs: FolderStoreFs,
  root: string,
  cursor: string | undefined,
  pageSize: number,
  cache: DirCache,
  syncFs: FolderStoreSyncFs | undefined,
): Promise<ListPage> {
  if (syncFs) return listPageSync(syncFs, root, cursor, pageSize, cache);
  const found = await keysAfter(fs, root, cursor, pageSize + 1, cache);
  const objects = await mapLimit(found.slice(0, pageSize), 16, async ({ key, path }) => {
    try {
      return objectIfFile(key, await fs.lstat(path));
    } catch (error) {
      return undefinedIfVanished(error);
    }
  });
  return pageOf(found, pageSize, objects);
}

/**
 * {@link listPage} with blocking calls, which returns without yielding: nothing else on
 * the thread (a journal query, say) runs in the middle of a page.
 */
export function listPageSync(
  syncFs: FolderStoreSyncFs,
  root: string,
  cursor: string | undefined,
  pageSize: number,
  cache: DirCache,
): ListPage {
  const found = keysAfterSync(syncFs, root, cursor, pageSize + 1, cache);
  const objects = found.slice(0, pageSize).map(({ key, path }) => {
    try {
      return objectIfFile(key, syncFs.lstatSync(path));
    } catch (error) {
      return undefinedIfVanished(error);
    }
  });
  return pageOf(found, pageSize, objects);
}

function objectIfFile(key: string, stats: Stats): RemoteObject | undefined {
  return stats.isFile() ? objectOf(key, stats, undefined) : undefined;
}

/** Deleted since the directory was read: the object is gone, as a later listing would say. */
function undefinedIfVanished(error: unknown): undefined {
  if (!isVanished(error)) throw error;
  return undefined;
}

function pageOf(
  found: readonly WalkedKey[],
  pageSize: number,
  objects: readonly (RemoteObject | undefined)[],
): ListPage {
  const next = found.length > pageSize ? (found[pageSize - 1]?.key ?? null) : null;
  return { objects: objects.filter((o) => o !== undefined), next };
}

/** What the listing's worker posts: one page, or why it stopped. */
export type ListMessage = { page: ListPage } | { error: string };

/** What the listing's worker is started with. */
export interface ListWorkerData {
  root: string;
  pageSize: number;
  /** Where the listing starts: the key after which the first page it posts begins. */
  cursor: string;
  /** Pages it may post ahead of the ones taken. */
  ahead: number;
}

/**
 * The listing's worker, when this module runs as built JavaScript on the main thread
 * (under vitest the sources are TypeScript, which a worker cannot load).
 */
export const LIST_WORKER = builtWorker('./folder-store-list-worker.js', import.meta.url);

/**
 * Pages read ahead: up to this many (100k objects at the default page size) wait to
 * be taken, so a whole listing of a large bucket is done while the engine reads the
 * journal, and a listing nobody reads stops there.
 */
const PAGES_AHEAD = 100;

/**
 * The rest of a listing, from a given cursor on, read ahead on a worker
 * thread: the worker walks and stats with the same {@link listPage} as the main thread,
 * page after page, while the main thread does other work (reading the journal). Pages
 * are taken in order: {@link ListAhead.take} answers only the cursor that follows the
 * last page it gave; anything else, or a worker that failed, is the caller's to list
 * itself (so an unreadable folder throws the same error either way).
 */
export class ListAhead {
  readonly #worker: Worker;
  readonly #next: () => Promise<ListMessage>;
  /** The cursor of the page the worker posts next. */
  #expected: string | null;
  #closed = false;

  constructor(root: string, pageSize: number, cursor: string) {
    this.#expected = cursor;
    const data: ListWorkerData = { root, pageSize, cursor, ahead: PAGES_AHEAD };
    ({ worker: this.#worker, next: this.#next } = startWorker<ListMessage>(
      LIST_WORKER!,
      data,
      "the listing's worker",
    ));
  }

  /**
   * The page after `cursor` if it is the one this listing posts next; undefined when
   * it is not, or when the worker failed (then this listing is closed).
   */
  async take(cursor: string | undefined): Promise<ListPage | undefined> {
    if (this.#closed || cursor !== this.#expected) return undefined;
    const message = await this.#next();
    if ('error' in message) {
      this.close();
      return undefined;
    }
    this.#expected = message.page.next;
    if (message.page.next === null) this.close();
    else this.#worker.postMessage('taken');
    return message.page;
  }

  /** Stops the worker (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    void this.#worker.terminate();
  }
}
