import {
  checkTrashSlot,
  comparePaths,
  type FileStat,
  type LocalTree,
  NotFoundError,
  PreconditionFailedError,
  SyncJournalError,
  TEMP_PREFIX,
  type TrashOptions,
  trashSlotCandidate,
  type WalkItem,
  type WriteOptions,
} from '@syncjournal/core';

declare global {
  interface FileSystemFileHandle {
    /** Moves (and renames) the file, replacing a file already there (Chromium, Safari, Firefox 111+). */
    move(parent: FileSystemDirectoryHandle, name: string): Promise<void>;
  }
}

/** Options of {@link OpfsTree}. */
export interface OpfsTreeOptions {
  /** The synced folder: a directory in the origin private file system. */
  root: FileSystemDirectoryHandle;
  /** Where trashed and replaced files go; outside the root, never synced. */
  trash: FileSystemDirectoryHandle;
  /**
   * Write temp files through sync access handles (default: wherever they exist, i.e.
   * in a dedicated worker). They write in place; `createWritable` writes a swap file
   * and copies it on close.
   */
  syncAccessHandles?: boolean;
}

/**
 * The {@link LocalTree} port on the browser's origin private file system (OPFS).
 *
 * Writes are atomic: the bytes go into a temp file beside the target (never walked),
 * which is then moved over it with `FileSystemFileHandle.move`. OPFS has no inodes,
 * no ctime, no symbolic links and no way to set a file's mtime: the stat is size and
 * `File.lastModified`, and `write`'s `mtimeMs` is not applied. Chromium has no
 * directory move, so nothing here moves a folder; a folder rename is seen as its
 * files' deletes and creates.
 */
export class OpfsTree implements LocalTree {
  readonly caseInsensitive = false;
  /** OPFS names are compared as exact strings: `é` as NFC and as NFD are two files. */
  readonly normalizationInsensitive = false;
  /** `File.lastModified` is whole milliseconds. */
  readonly timestampGranularityMs = 1;
  readonly #root: FileSystemDirectoryHandle;
  readonly #trash: FileSystemDirectoryHandle;
  readonly #syncAccessHandles: boolean;
  #nextTemp = 0;

  constructor(options: OpfsTreeOptions) {
    this.#root = options.root;
    this.#trash = options.trash;
    this.#syncAccessHandles = options.syncAccessHandles ?? true;
  }

  /** Opens (creating) `root` and `trash`, given as `/`-separated paths from the OPFS root. */
  static async open(options: {
    root: string;
    trash: string;
    syncAccessHandles?: boolean;
  }): Promise<OpfsTree> {
    const opfs = await navigator.storage.getDirectory();
    return new OpfsTree({
      root: await dirAt(opfs, options.root, true),
      trash: await dirAt(opfs, options.trash, true),
      ...(options.syncAccessHandles === undefined
        ? {}
        : { syncAccessHandles: options.syncAccessHandles }),
    });
  }

  /** Whether writes go through sync access handles here (only in a dedicated worker). */
  get usesSyncAccessHandles(): boolean {
    return (
      this.#syncAccessHandles &&
      typeof FileSystemFileHandle !== 'undefined' &&
      // Exposed in dedicated workers only.
      'createSyncAccessHandle' in FileSystemFileHandle.prototype
    );
  }

  async *walk(): AsyncIterable<WalkItem> {
    const items: Array<{ sortKey: string; item: WalkItem }> = [];
    const visit = async (dir: FileSystemDirectoryHandle, prefix: string): Promise<void> => {
      let entries: Array<[string, FileSystemHandle]>;
      try {
        entries = [];
        for await (const entry of dir.entries()) entries.push(entry);
      } catch (error) {
        if (prefix === '') throw error;
        const path = prefix.slice(0, -1);
        items.push({
          sortKey: prefix,
          item: { kind: 'unreadable', path, code: codeOf(error), message: messageOf(error) },
        });
        return;
      }
      for (const [name, handle] of entries) {
        if (name.startsWith(TEMP_PREFIX)) continue;
        const path = `${prefix}${name}`;
        if (handle.kind === 'directory') {
          await visit(handle as FileSystemDirectoryHandle, `${path}/`);
          continue;
        }
        try {
          const file = await (handle as FileSystemFileHandle).getFile();
          items.push({ sortKey: path, item: { kind: 'file', path, ...statOf(file) } });
        } catch (error) {
          items.push({
            sortKey: path,
            item: { kind: 'unreadable', path, code: codeOf(error), message: messageOf(error) },
          });
        }
      }
    };
    await visit(this.#root, '');
    items.sort((a, b) => comparePaths(a.sortKey, b.sortKey));
    for (const { item } of items) yield item;
  }

  async stat(path: string): Promise<FileStat | undefined> {
    const handle = await this.#file(path);
    return handle ? statOf(await handle.getFile()) : undefined;
  }

  async *read(path: string): AsyncIterable<Uint8Array> {
    const handle = await this.#file(path);
    if (!handle) throw new NotFoundError(`The file ${path}`, { path });
    const reader = (await handle.getFile()).stream().getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  }

  async write(
    path: string,
    data: Uint8Array | AsyncIterable<Uint8Array>,
    options: WriteOptions = {},
  ): Promise<{ stat: FileStat; trashed?: string }> {
    if (options.trashSlot !== undefined) checkTrashSlot(options.trashSlot);
    const { dir, name } = await this.#parent(path, true);
    const temp = `${TEMP_PREFIX}${Date.now().toString(36)}-${this.#nextTemp++}`;
    const tempHandle = await dir.getFileHandle(temp, { create: true });
    try {
      if (this.usesSyncAccessHandles) await writeInPlace(tempHandle, data);
      else await writeThroughSwap(tempHandle, data);
      // The check and the move are as close together as the API allows.
      const current = await fileIn(dir, name);
      if (options.expect !== undefined) await checkExpect(path, current, options.expect);
      let trashed: string | undefined;
      if (current && options.keepPrevious) {
        trashed = await this.#moveToTrash(current, path, options.trashSlot);
      }
      // Chromium's move replaces an existing file in one step: no moment without it.
      await tempHandle.move(dir, name);
      const stat = statOf(await tempHandle.getFile());
      return trashed === undefined ? { stat } : { stat, trashed };
    } catch (error) {
      await dir.removeEntry(temp).catch(() => {});
      throw error;
    }
  }

  async trash(path: string, options: TrashOptions = {}): Promise<string> {
    if (options.trashSlot !== undefined) checkTrashSlot(options.trashSlot);
    const handle = await this.#file(path);
    if (!handle) throw new NotFoundError(`The file ${path}`, { path });
    if (options.expect) await checkExpect(path, handle, options.expect);
    const location = await this.#moveToTrash(handle, path, options.trashSlot);
    await removeEmptyParents(this.#root, path);
    return location;
  }

  async restore(trashLocation: string, path: string): Promise<FileStat> {
    const source = await this.#trashed(trashLocation);
    if (!source) throw new NotFoundError(`The trashed file ${trashLocation}`, { trashLocation });
    const { dir, name: target } = await this.#parent(path, true);
    if (await fileIn(dir, target)) {
      throw new PreconditionFailedError('local', path, 'a file is already there');
    }
    await source.move(dir, target);
    // The slot and the folders under it held only this file.
    await removeEmptyParents(this.#trash, trashLocation);
    return statOf(await source.getFile());
  }

  async statTrash(trashLocation: string): Promise<FileStat | undefined> {
    const handle = await this.#trashed(trashLocation);
    return handle && statOf(await handle.getFile());
  }

  async mkdir(path: string): Promise<void> {
    validate(path);
    await dirAt(this.#root, path, true);
  }

  /**
   * Moves a file into the trash as `<slot>/<path>`: one slot per trashing, so the same
   * path trashed twice never collides, and the location says which file it was. The
   * slot is `requested` (or `requested~2`…), else a time and a random name.
   */
  async #moveToTrash(
    handle: FileSystemFileHandle,
    path: string,
    requested: string | undefined,
  ): Promise<string> {
    for (let n = 1; ; n++) {
      const slot =
        requested === undefined
          ? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
          : trashSlotCandidate(requested, n);
      const exists = await this.#trash.getDirectoryHandle(slot).then(
        () => true,
        () => false,
      );
      if (exists) continue;
      const location = `${slot}/${path}`;
      const slash = location.lastIndexOf('/');
      const holder = await dirAt(this.#trash, location.slice(0, slash), true);
      await handle.move(holder, location.slice(slash + 1));
      return location;
    }
  }

  /** The trashed file at `location` (`<slot>/<path>`), if any. */
  async #trashed(location: string): Promise<FileSystemFileHandle | undefined> {
    const slash = location.lastIndexOf('/');
    if (slash <= 0)
      throw new NotFoundError(`The trashed file ${location}`, { trashLocation: location });
    validate(location);
    const holder = await dirAt(this.#trash, location.slice(0, slash), false).catch(() => undefined);
    return holder && fileIn(holder, location.slice(slash + 1));
  }

  async #file(path: string): Promise<FileSystemFileHandle | undefined> {
    validate(path);
    const { dir, name } = await this.#parent(path, false).catch(() => ({
      dir: undefined,
      name: '',
    }));
    return dir ? fileIn(dir, name) : undefined;
  }

  async #parent(path: string, create: boolean) {
    validate(path);
    const segments = path.split('/');
    const name = segments.pop()!;
    return { dir: await dirAt(this.#root, segments.join('/'), create), name };
  }
}

/** Writes a (new, empty) temp file through a sync access handle: in place, then flushed. */
async function writeInPlace(
  handle: FileSystemFileHandle,
  data: Uint8Array | AsyncIterable<Uint8Array>,
): Promise<void> {
  const access = await handle.createSyncAccessHandle();
  try {
    let at = 0;
    if (data instanceof Uint8Array) at += access.write(data as Uint8Array<ArrayBuffer>, { at });
    else
      for await (const chunk of data) at += access.write(chunk as Uint8Array<ArrayBuffer>, { at });
    access.flush();
  } finally {
    access.close();
  }
}

/** Writes a temp file with `createWritable` (the page has nothing else). */
async function writeThroughSwap(
  handle: FileSystemFileHandle,
  data: Uint8Array | AsyncIterable<Uint8Array>,
): Promise<void> {
  const writable = await handle.createWritable();
  try {
    if (data instanceof Uint8Array) await writable.write(data as Uint8Array<ArrayBuffer>);
    else for await (const chunk of data) await writable.write(chunk as Uint8Array<ArrayBuffer>);
    await writable.close();
  } catch (error) {
    await writable.abort().catch(() => {});
    throw error;
  }
}

async function dirAt(
  base: FileSystemDirectoryHandle,
  path: string,
  create: boolean,
): Promise<FileSystemDirectoryHandle> {
  let dir = base;
  for (const segment of path.split('/').filter(Boolean)) {
    dir = await dir.getDirectoryHandle(segment, { create });
  }
  return dir;
}

async function fileIn(
  dir: FileSystemDirectoryHandle,
  name: string,
): Promise<FileSystemFileHandle | undefined> {
  return dir.getFileHandle(name).catch(() => undefined);
}

async function checkExpect(
  path: string,
  current: FileSystemFileHandle | undefined,
  expect: FileStat | null,
): Promise<void> {
  if (expect === null) {
    if (current) throw new PreconditionFailedError('local', path, 'a file is already there');
    return;
  }
  if (!current) throw new PreconditionFailedError('local', path, 'the file is gone');
  const now = statOf(await current.getFile());
  if (now.size !== expect.size || now.mtimeMs !== expect.mtimeMs) {
    throw new PreconditionFailedError('local', path, 'it changed since it was seen');
  }
}

function statOf(file: File): FileStat {
  return { size: file.size, mtimeMs: file.lastModified };
}

/** Removes the folders of `path` under `base` that are left empty, deepest first. */
async function removeEmptyParents(base: FileSystemDirectoryHandle, path: string): Promise<void> {
  const segments = path.split('/').slice(0, -1);
  while (segments.length > 0) {
    const parent = await dirAt(base, segments.slice(0, -1).join('/'), false).catch(() => undefined);
    const name = segments.at(-1)!;
    if (!parent) return;
    // removeEntry without `recursive` refuses a folder that still holds something.
    const removed = await parent.removeEntry(name).then(
      () => true,
      () => false,
    );
    if (!removed) return;
    segments.pop();
  }
}

function validate(path: string): void {
  const bad =
    path === '' ||
    path.startsWith('/') ||
    path.includes('\0') ||
    path.includes('\\') ||
    path.split('/').some((s) => s === '' || s === '.' || s === '..' || s.startsWith(TEMP_PREFIX));
  if (bad) {
    throw new SyncJournalError(
      'unsafe-path',
      `${JSON.stringify(path)} cannot be used in the folder.`,
      {
        path,
      },
    );
  }
}

function codeOf(error: unknown): string {
  return (error as { name?: string }).name ?? 'error';
}

function messageOf(error: unknown): string {
  return (error as { message?: string }).message ?? String(error);
}
