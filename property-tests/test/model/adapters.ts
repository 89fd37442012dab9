import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Journal, systemClock } from '@syncjournal/core';
import { FolderStore, NodeTree, nodeHasher, openJournal } from '@syncjournal/node';
import { memfs } from 'memfs';
import type { Adapters } from './adapter-types.js';
import { memoryAdapters as memoryAdaptersWith } from './memory-adapters.js';

const sha = (data: Uint8Array): string => {
  const state = nodeHasher.create();
  state.update(data);
  return state.digest();
};

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
    hasher: nodeHasher,
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
        link: async (path) => {
          const abs = `${root}/${path}`;
          await fs.mkdir(abs.slice(0, abs.lastIndexOf('/')), { recursive: true });
          // Pointing at a file outside the folder: following it would leave the root.
          await fs.symlink(`/home/${client}/elsewhere.md`, abs);
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

export type { Adapters, UserStore, UserTree } from './adapter-types.js';

/** The in-memory adapters with node:crypto's SHA-256. */
export function memoryAdapters(options: {
  versioning: boolean;
  conditionalWrites: boolean;
  snapshots?: boolean;
}): Adapters {
  return memoryAdaptersWith({ ...options, hasher: nodeHasher });
}
