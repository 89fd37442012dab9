import {
  type Hasher,
  ManualClock,
  MemoryJournal,
  MemoryStore,
  MemoryTree,
} from '@syncjournal/core';
import type { Adapters } from './adapter-types.js';

/** Everything in memory: the fast configuration that runs thousands of cases. */
export function memoryAdapters(options: {
  versioning: boolean;
  conditionalWrites: boolean;
  /** A Tigris-like bucket: a snapshot after every successful sync. */
  snapshots?: boolean;
  hasher: Hasher;
}): Adapters {
  const { hasher } = options;
  const clock = new ManualClock(Date.UTC(2026, 10, 22, 8, 0, 0));
  const store = new MemoryStore({
    clock,
    hasher,
    pageSize: 3,
    versioning: options.versioning,
    conditionalWrites: options.conditionalWrites,
    snapshots: options.snapshots ?? false,
  });
  let journals = 0;
  return {
    name: `memory${options.versioning ? ' +versions' : ''}${options.snapshots ? ' +snapshots' : ''}${options.conditionalWrites ? '' : ' -conditions'}`,
    hasher,
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
        link: async (path) => tree.addSymlink(path),
      };
    },
    newJournal: async (client) => ({
      journal: new MemoryJournal({ hasher, clock }),
      pairId: `${client}-${++journals}`,
    }),
    dispose: async () => {},
  };
}
