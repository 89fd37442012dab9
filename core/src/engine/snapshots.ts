import { collectBytes, decodeUtf8, encodeUtf8 } from '../memory/bytes.js';
import { type Hasher, hashOf } from '../ports/hasher.js';
import type { ObjectStore } from '../ports/store.js';
import type { RunReport } from '../report.js';
import { RESERVED_PREFIX } from '../scan/lister.js';

/**
 * Where a client notes its last snapshot in the bucket: `.syncjournal/snapshots/<client>.json`.
 * A new host with that client id (and no journal) finds it there, and rebuilds its
 * base as of that snapshot (see `rebuildBaseFromSnapshot`).
 */
export const SNAPSHOT_MARKER_PREFIX = `${RESERVED_PREFIX}snapshots/`;

/** What the marker holds. */
export interface SnapshotMarker {
  clientId: string;
  snapshot: string;
  run: number;
  at: string;
}

/**
 * On a store with snapshots, takes one once a run has applied its plan, records its
 * version in the report (the bucket as this run left it) and notes it in the client's
 * marker. A snapshot that fails is reported as an error; the run's status stands (the
 * sync itself succeeded).
 */
export async function snapshotAfter(
  store: ObjectStore,
  hasher: Hasher,
  clientId: string,
  report: RunReport,
  at: string,
): Promise<void> {
  if (!store.capabilities.snapshots || !store.snapshot) return;
  try {
    report.snapshot = await store.snapshot();
  } catch (error) {
    report.errors.push({
      code: 'snapshot-failed',
      message: `The run synced, but no snapshot of the bucket could be taken (${(error as Error).message}); the next run takes one.`,
    });
    return;
  }
  const marker: SnapshotMarker = { clientId, snapshot: report.snapshot, run: report.run, at };
  const bytes = encodeUtf8(JSON.stringify(marker));
  const key = `${SNAPSHOT_MARKER_PREFIX}${clientId}.json`;
  try {
    // Conditional like every other write: a marker someone else wrote since we looked
    // is not overwritten (the next run notes its own snapshot).
    const current = await store.head(key);
    if (current && (await readSnapshotMarker(store, clientId))?.clientId !== clientId) {
      // Not a marker of ours: whatever it is, it is not ours to replace.
      report.errors.push({
        code: 'snapshot-marker-foreign',
        message: `${key} holds something this client did not write; it was left alone, so snapshot ${report.snapshot} is noted only in the journal. Move that object away to let this client note its snapshots again.`,
      });
      return;
    }
    await store.put(key, bytes, {
      sha256: hashOf(hasher, bytes),
      ...(current ? { ifMatch: current.etag } : { ifNoneMatch: '*' as const }),
    });
  } catch (error) {
    report.errors.push({
      code: 'snapshot-marker-failed',
      message: `Snapshot ${report.snapshot} was taken but could not be noted in the bucket (${(error as Error).message}); the journal has it.`,
    });
  }
}

/** The client's last noted snapshot, or `undefined` (none, or unreadable). */
export async function readSnapshotMarker(
  store: ObjectStore,
  clientId: string,
): Promise<SnapshotMarker | undefined> {
  const key = `${SNAPSHOT_MARKER_PREFIX}${clientId}.json`;
  if (!(await store.head(key))) return undefined;
  try {
    const marker = JSON.parse(decodeUtf8(await collectBytes((await store.get(key)).body)));
    return typeof marker?.snapshot === 'string' ? (marker as SnapshotMarker) : undefined;
  } catch {
    return undefined;
  }
}
