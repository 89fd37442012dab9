import type { JournalEventInput } from '../journal/events.js';
import { comparePaths } from '../paths.js';
import type { Clock } from '../ports/clock.js';
import { type Hasher, hashStream } from '../ports/hasher.js';
import type { Journal } from '../ports/journal.js';
import type { ObjectStore } from '../ports/store.js';
import type { LocalTree } from '../ports/tree.js';
import {
  type LocalEntry,
  type Plan,
  type ReconcileInput,
  type RemoteEntry,
  reconcile,
} from '../reconcile/reconcile.js';
import { entryOf, isRacy } from '../scan/scanner.js';

/**
 * Plans paths again whose preconditions failed during the run (a teammate wrote
 * between the listing and the put, a local edit landed after the scan): observes
 * each path afresh, journals what it saw, and reconciles just those paths. Deletes
 * are not re-planned in the same run — a path that moved under us waits for the next
 * sync's full, guarded look before anything is deleted.
 */
export async function replan(options: {
  tree: LocalTree;
  store: ObjectStore;
  hasher: Hasher;
  clock: Clock;
  journal: Journal;
  run: number;
  pairId: string;
  clientId: string;
  paths: readonly string[];
  input: ReconcileInput;
  /** Numbering continues after the run's first plan, so op indexes stay unique in the run. */
  firstIndex: number;
}): Promise<Plan> {
  const { tree, store, hasher, journal, run, pairId } = options;
  const paths = [...new Set(options.paths)].sort(comparePaths);
  const [manifest, listing, baseline] = await Promise.all([
    journal.manifest(pairId),
    journal.listing(pairId),
    journal.baseline(pairId),
  ]);
  const manifestByPath = new Map(manifest.map((r) => [r.path, r]));
  const listingByPath = new Map(listing.map((r) => [r.path, r]));
  const wanted = new Set(paths);

  const local: LocalEntry[] = [];
  const remote: RemoteEntry[] = [];
  const events: JournalEventInput[] = [];
  for (const path of paths) {
    const stat = await tree.stat(path);
    if (stat) {
      const hash = await hashStream(hasher, tree.read(path));
      local.push({ path, hash, size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino ?? null });
      events.push({
        kind: manifestByPath.has(path) ? 'scan.changed' : 'scan.added',
        run,
        path,
        payload: entryOf(stat, hash, isRacy(stat, tree, options.clock)),
      });
    } else if (manifestByPath.has(path)) {
      events.push({ kind: 'scan.removed', run, path, payload: {} });
    }
    const head = await store.head(path);
    if (head) {
      const entry = {
        size: head.size,
        etag: head.etag,
        versionId: head.versionId ?? null,
        sha256: head.sha256 ?? null,
        lastModified: head.lastModified ?? null,
      };
      remote.push({ path, ...entry });
      events.push({
        kind: listingByPath.has(path) ? 'listing.changed' : 'listing.added',
        run,
        path,
        payload: entry,
      });
    } else if (listingByPath.has(path)) {
      events.push({ kind: 'listing.removed', run, path, payload: {} });
    }
  }
  if (events.length) await journal.append(events);

  // Every path here was observed just now, so nothing is unknown.
  const { remoteListedThrough: _unknown, ...input } = options.input;
  const plan = reconcile({
    ...input,
    base: baseline.filter((b) => wanted.has(b.path)),
    local,
    remote,
    localUnknown: [],
    reserved: [...manifestByPath.keys(), ...listingByPath.keys()],
    localElsewhere: [...manifestByPath.keys()].filter((p) => !wanted.has(p)),
    planTimeMs: options.clock.now(),
  });
  return {
    ...plan,
    ops: plan.ops.map((op) => {
      const index = op.index + options.firstIndex;
      return op.action === 'delete-local' || op.action === 'delete-remote'
        ? {
            ...op,
            index,
            action: 'skip',
            why: `${op.why}; it changed during this sync, so the delete waits for the next sync`,
          }
        : { ...op, index };
    }),
  };
}
