import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Clock,
  type Journal,
  type LocalTree,
  ManualClock,
  MemoryJournal,
  MemoryStore,
  MemoryTree,
  type ObjectStore,
  RESERVED_PREFIX,
  systemClock,
} from '@syncjournal/core';
import { FolderStore, NodeTree, nodeHasher, openJournal } from '@syncjournal/node';
import { memfs } from 'memfs';

/** What the model's user does to a local tree, around the port (no checks, no trash). */
export interface UserTree {
  readonly tree: LocalTree;
  /** Writes a file; `keepMtime` gives it the mtime the file had (a same-size edit that fools stat). */
  write(path: string, data: Uint8Array, options?: { keepMtime?: boolean }): Promise<void>;
  remove(path: string): Promise<void>;
  /** Every file, by path. */
  files(): Promise<Map<string, Uint8Array>>;
  /** What the tree's trash holds, with the location the tree reported for it. */
  trashed(): Promise<Array<{ location: string; data: Uint8Array }>>;
  /** Makes a folder unreadable (permissions, a failing disk), or readable again. */
  setUnreadable(folder: string, unreadable: boolean): Promise<void>;
}

/** What a teammate does to the shared store, and what the test reads back from it. */
export interface UserStore {
  readonly store: ObjectStore;
  /** A teammate's unconditional write or delete. */
  put(key: string, data: Uint8Array): Promise<void>;
  remove(key: string): Promise<void>;
  /** Every current object, reserved keys (trash) included. */
  objects(): Promise<Map<string, Uint8Array>>;
  /** Every kept old version's bytes with its id (stores with versioning). */
  versions(): Promise<Array<{ key: string; versionId: string; data: Uint8Array }>>;
}

/** The adapters one model case runs on. */
export interface Adapters {
  readonly name: string;
  /** The engine's clock: a manual one where the tree's times follow it. */
  readonly clock: Clock;
  /** Moves time on (a no-op where the adapters read the wall clock). */
  advance(ms: number): Promise<void>;
  readonly store: UserStore;
  newTree(client: string): Promise<UserTree>;
  /** True when every case shares one journal (its test verifies and rebuilds it once). */
  readonly sharedJournal: boolean;
  /** A fresh journal for a client (or a fresh pair id in a shared one): a lost state dir. */
  newJournal(client: string): Promise<{ journal: Journal; pairId: string }>;
  /** Releases what the case used (temp dirs). */
  dispose(): Promise<void>;
}

const sha = (data: Uint8Array): string => {
  const state = nodeHasher.create();
  state.update(data);
  return state.digest();
};

/** Everything in memory: the fast configuration that runs thousands of cases. */
export function memoryAdapters(options: {
  versioning: boolean;
  conditionalWrites: boolean;
}): Adapters {
  const clock = new ManualClock(Date.UTC(2026, 10, 22, 8, 0, 0));
  const store = new MemoryStore({
    clock,
    hasher: nodeHasher,
    pageSize: 3,
    versioning: options.versioning,
    conditionalWrites: options.conditionalWrites,
  });
  let journals = 0;
  return {
    name: `memory${options.versioning ? ' +versions' : ''}${options.conditionalWrites ? '' : ' -conditions'}`,
    clock,
    sharedJournal: false,
    advance: async (ms) => {
      clock.advance(ms);
    },
    store: {
      store,
      put: async (key, data) => void store.putBytes(key, data),
      remove: async (key) => store.remove(key),
      objects: async () => store.objects(),
      versions: async () =>
        store.keysEverWritten().flatMap((key) =>
          store
            .versions(key)
            .filter((v) => !v.isLatest && !v.isDeleteMarker && v.data)
            .map((v) => ({ key, versionId: v.versionId, data: v.data! })),
        ),
    },
    newTree: async () => {
      const tree = new MemoryTree({ clock });
      return {
        tree,
        write: async (path, data, o) => {
          const before = tree.files().has(path) ? await tree.stat(path) : undefined;
          tree.writeBytes(path, data, o?.keepMtime && before ? { mtimeMs: before.mtimeMs } : {});
        },
        remove: async (path) => tree.remove(path),
        files: async () => tree.files(),
        trashed: async () => tree.trashed().map(({ location, data }) => ({ location, data })),
        setUnreadable: async (folder, unreadable) =>
          unreadable ? tree.failDirectory(folder) : tree.healDirectory(folder),
      };
    },
    newJournal: async (client) => ({
      journal: new MemoryJournal({ hasher: nodeHasher, clock }),
      pairId: `${client}-${++journals}`,
    }),
    dispose: async () => {},
  };
}

/**
 * The real Node adapters: NodeTree on memfs, the folder bucket on a temp dir, one
 * PGlite journal shared by the clients (each with its own pair). Slower: fewer cases.
 */
export async function nodeAdapters(shared: { journal: Journal }): Promise<Adapters> {
  const dir = await mkdtemp(join(tmpdir(), 'syncjournal-model-'));
  const bucket = await FolderStore.open({ root: join(dir, 'bucket'), create: true, pageSize: 3 });
  const { vol } = memfs();
  const fs = vol.promises;
  let pairs = 0;
  return {
    name: 'node: NodeTree on memfs, folder bucket, PGlite',
    clock: systemClock,
    sharedJournal: true,
    advance: async (ms) => {
      // The wall clock moves on its own; wait a little so mtimes differ where asked.
      if (ms > 0) await new Promise((r) => setTimeout(r, Math.min(ms, 5)));
    },
    store: {
      store: bucket,
      put: async (key, data) => void (await bucket.put(key, data, { sha256: sha(data) })),
      remove: async (key) => void (await bucket.delete(key)),
      objects: async () => {
        const out = new Map<string, Uint8Array>();
        let cursor: string | undefined;
        do {
          const page = await bucket.list(cursor);
          for (const o of page.objects) {
            const { body } = await bucket.get(o.key);
            out.set(o.key, await collect(body));
          }
          cursor = page.next ?? undefined;
        } while (cursor !== undefined);
        return out;
      },
      versions: async () => [],
    },
    newTree: async (client) => {
      const root = `/home/${client}/notes`;
      const trashDir = `/home/${client}/.syncjournal/trash`;
      await fs.mkdir(root, { recursive: true });
      const tree = await NodeTree.open({ root, trashDir, fs: fs as never });
      return {
        tree,
        write: async (path, data, o) => {
          const abs = `${root}/${path}`;
          const before = o?.keepMtime ? await fs.stat(abs).catch(() => undefined) : undefined;
          await fs.mkdir(abs.slice(0, abs.lastIndexOf('/')), { recursive: true });
          await fs.writeFile(abs, data);
          if (before) await fs.utimes(abs, before.atime, before.mtime);
        },
        remove: async (path) => fs.unlink(`${root}/${path}`),
        files: async () => readAll(vol, root),
        trashed: async () =>
          [...readAll(vol, trashDir)].map(([location, data]) => ({ location, data })),
        setUnreadable: async (folder, unreadable) => {
          // memfs checks permissions even for root: mode 0 makes the folder unreadable.
          await fs.chmod(`${root}/${folder}`, unreadable ? 0 : 0o755).catch(() => {});
        },
      };
    },
    newJournal: async (client) => ({
      journal: shared.journal,
      pairId: `${client}-${dir}-${++pairs}`,
    }),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}

type Volume = ReturnType<typeof memfs>['vol'];

/**
 * Every file under `root`, read around the permissions (the test sees what a folder
 * made unreadable holds). Temp files of atomic writes are left out.
 */
function readAll(vol: Volume, root: string): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const [abs, text] of Object.entries(vol.toJSON(root))) {
    if (text === null) continue; // an empty folder
    const path = abs.slice(root.length + 1);
    if (path.split('/').at(-1)!.startsWith('.syncjournal-tmp-')) continue;
    out.set(path, new TextEncoder().encode(text));
  }
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

async function collect(body: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const c of body) chunks.push(c);
  return Buffer.concat(chunks);
}

/** Opens the shared PGlite journal of the Node configuration. */
export async function openSharedJournal(): Promise<Journal> {
  return openJournal('memory://', { hasher: nodeHasher });
}

export { RESERVED_PREFIX, sha };
