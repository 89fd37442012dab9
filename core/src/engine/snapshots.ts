import { NotFoundError } from '../errors.js';
import { collectBytes, decodeUtf8, encodeUtf8 } from '../memory/bytes.js';
import { type Hasher, hashOf } from '../ports/hasher.js';
import type { Journal } from '../ports/journal.js';
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
  try {
    // Conditional like every other write, and only over a marker of ours: whatever
    // else is there is not ours to replace.
    const current = await readMarker(store, clientId);
    if (current && current.marker?.clientId !== clientId) {
      report.errors.push({
        code: 'snapshot-marker-foreign',
        message: `${markerKey(clientId)} holds something this client did not write; it was left alone, so snapshot ${report.snapshot} is noted only in the journal. Move that object away to let this client note its snapshots again.`,
      });
      return;
    }
    await store.put(markerKey(clientId), bytes, {
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

const markerKey = (clientId: string) => `${SNAPSHOT_MARKER_PREFIX}${clientId}.json`;

/** The object at the client's marker key: its ETag, and the marker when it is one. */
async function readMarker(
  store: ObjectStore,
  clientId: string,
): Promise<{ etag: string; marker: SnapshotMarker | undefined } | undefined> {
  let found: Awaited<ReturnType<ObjectStore['get']>>;
  try {
    found = await store.get(markerKey(clientId));
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
  let marker: SnapshotMarker | undefined;
  try {
    const parsed = JSON.parse(decodeUtf8(await collectBytes(found.body)));
    if (typeof parsed?.snapshot === 'string') marker = parsed as SnapshotMarker;
  } catch {
    // Not JSON: not a marker.
  }
  return { etag: found.object.etag, marker };
}

/** The client's last noted snapshot, or `undefined` (none, or not a marker). */
export async function readSnapshotMarker(
  store: ObjectStore,
  clientId: string,
): Promise<SnapshotMarker | undefined> {
  return (await readMarker(store, clientId))?.marker;
}

/**
 * Runs that recorded a bucket snapshot (the bucket as each left it), newest first: of
 * one pair, or of every pair on one remote (a shared journal holds a team's).
 */
export async function runSnapshots(
  journal: Journal,
  filter: { pairId?: string; remote?: string },
): Promise<Array<{ run: number; snapshot: string }>> {
  const out: Array<{ run: number; snapshot: string }> = [];
  const runs = await journal.runs(filter.pairId === undefined ? {} : { pairId: filter.pairId });
  for (const run of runs) {
    if (filter.remote !== undefined && run.remote !== filter.remote) continue;
    const snapshot = (await journal.report(run.run))?.report.snapshot;
    if (snapshot !== undefined) out.push({ run: run.run, snapshot });
  }
  return out;
}
