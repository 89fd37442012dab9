import { NotFoundError, registerErrorClass, SyncJournalError } from '../errors.js';
import {
  type BaselineEntry,
  type JournalEvent,
  type JournalEventInput,
  type KeptCopy,
  keptVersions,
  type OpAppliedPayload,
  type OpFailedPayload,
  type TombstonePayload,
  unfinishedOps,
} from '../journal/events.js';
import type { ConflictRow } from '../journal/projections.js';
import { collectBytes } from '../memory/bytes.js';
import { type Hasher, hashStream } from '../ports/hasher.js';
import type { Journal } from '../ports/journal.js';
import type { ObjectStore } from '../ports/store.js';
import type { LocalTree } from '../ports/tree.js';
import { localTrashSlot, trashSlotCandidate } from '../reconcile/safe-path.js';
import { emptyRunReport } from '../report.js';
import { listEveryObject, REMOTE_TRASH_PREFIX, RESERVED_PREFIX } from '../scan/lister.js';
import { trashKeyCandidate } from './executor.js';

/**
 * What a user does between syncs — bring back a version, settle a conflict — done
 * the same way by every adapter (the CLI, the browser API) and journaled as a small
 * run of its own (mode `resolve`), so `history` and `log` show it. Nothing here
 * touches the bucket: the next sync carries the result there.
 */
export interface UserActionContext {
  tree: LocalTree;
  store: ObjectStore;
  journal: Journal;
  pair: { id: string; local: string; remote: string };
  clientId: string;
}

/** Which version of a conflicted file to keep. */
export type Keep = 'local' | 'remote' | 'both';

/** The outcome of {@link resolveConflict}. */
export interface Resolution {
  path: string;
  resolution: 'keep-local' | 'keep-remote' | 'keep-both';
  /** Where the version that lost went (a trash location); empty for `both`. */
  kept: KeptCopy[];
  conflict: ConflictRow;
}

/** There is no open conflict at the path a user asked to resolve. */
export class NoOpenConflictError extends SyncJournalError {
  constructor(path: string) {
    super(
      'no-open-conflict',
      `${path} has no open conflict. Nothing was changed; list the open conflicts to pick one.`,
      { path },
    );
  }
}

registerErrorClass('NoOpenConflictError', NoOpenConflictError);

/**
 * Settles the open conflict of `path`: `remote` keeps the version under the name and
 * trashes the conflict copy; `local` puts the conflict copy's content under the name
 * (the replaced version to the trash) and trashes the copy; `both` keeps both files.
 * Nothing is deleted: every version that loses goes to the trash, and the journal says
 * where.
 */
export async function resolveConflict(
  ctx: UserActionContext,
  path: string,
  keep: Keep,
): Promise<Resolution> {
  const conflict = (await ctx.journal.conflicts(ctx.pair.id, 'open')).find((c) => c.path === path);
  if (!conflict) throw new NoOpenConflictError(path);
  const copy = conflict.kept.find((k) => k.side === 'local' && k.path !== path);
  const kept: KeptCopy[] = [];
  if (copy && keep !== 'both' && (await ctx.tree.stat(copy.path))) {
    if (keep === 'local') {
      const bytes = await collectBytes(ctx.tree.read(copy.path));
      const { trashed } = await ctx.tree.write(path, bytes, { keepPrevious: true });
      kept.push({ side: 'remote', path, trash: trashed ?? null });
    }
    const trash = await ctx.tree.trash(copy.path);
    kept.push({ side: 'local', path: copy.path, trash, hash: copy.hash ?? null });
  }
  const resolution =
    keep === 'local' ? 'keep-local' : keep === 'remote' ? 'keep-remote' : 'keep-both';
  await journalUserRun(ctx, (run) => [
    { kind: 'conflict.resolved', run, path, payload: { conflict: conflict.id, resolution, kept } },
  ]);
  return { path, resolution, kept, conflict };
}

/** The outcome of {@link restoreVersion}. */
export interface Restored {
  path: string;
  /** Where it was put: the path, or `name.restored-runN.ext` beside it when the path is taken. */
  to: string;
  /** The run that deleted or replaced the version. */
  fromRun: number;
  from: TombstonePayload;
}

/** A version of a path that `restore` can bring back, and the run that deleted or replaced it. */
export interface RestoreCandidate {
  run: number;
  kept: TombstonePayload;
}

/**
 * Every deleted or replaced version of `path` that can be brought back, oldest run
 * first: those the journal points to (local trash, bucket versions, remote trash not
 * pruned), and those a killed run kept before it could journal where (see
 * {@link unrecordedCopies}). Reads only.
 */
export async function restoreCandidates(
  ctx: UserActionContext,
  path: string,
): Promise<RestoreCandidate[]> {
  const { pruned } = await remoteTrashOf(ctx.journal, ctx.pair.id);
  const events = await ctx.journal.events({
    pairId: ctx.pair.id,
    path,
    kinds: ['op.started', 'op.applied', 'op.failed', 'op.skipped'],
  });
  const recorded = events
    .filter((e) => e.kind === 'op.applied' || e.kind === 'op.failed')
    .flatMap((e) =>
      keptVersions(e.payload as Partial<OpAppliedPayload & OpFailedPayload>)
        .filter((k) => !!k.trash || !!k.versionId)
        // A remote trash copy that retention pruned is gone; the journal says so.
        .filter((k) => !(k.trash && k.side === 'remote' && pruned.has(k.trash)))
        .map((kept) => ({ run: e.run, kept })),
    );
  return [...recorded, ...(await unrecordedCopies(ctx, path, events, recorded))].sort(
    (x, y) => x.run - y.run,
  );
}

/**
 * Brings back the version of `path` that run `run` (by default the latest run that
 * did so) deleted or replaced: from the local trash, a bucket version, or the remote
 * trash. A path that is taken is left alone; the version goes beside it.
 */
export async function restoreVersion(
  ctx: UserActionContext,
  path: string,
  run?: number,
): Promise<Restored> {
  const candidates = (await restoreCandidates(ctx, path)).filter(
    (c) => run === undefined || c.run === run,
  );
  const chosen = candidates.at(-1);
  if (!chosen) {
    throw new NotFoundError(
      `A deleted or replaced version of ${path}${run === undefined ? '' : ` in run ${run}`}`,
      { path, ...(run === undefined ? {} : { run }) },
    );
  }
  const to = (await ctx.tree.stat(path)) ? restoredName(path, chosen.run) : path;
  const kept = chosen.kept;
  if (kept.side === 'local' && kept.trash) {
    await ctx.tree.restore(kept.trash, to);
  } else {
    const { body } = kept.versionId
      ? await ctx.store.get(path, { versionId: kept.versionId })
      : await ctx.store.get(kept.trash!);
    await ctx.tree.write(to, body, { expect: null });
  }
  await journalUserRun(ctx, (r) => restoredEvents(r, to, kept));
  return { path, to, fromRun: chosen.run, from: kept };
}

/**
 * Versions that ops of a killed run kept before the run could journal where (ops are
 * journaled as done a batch at a time). For every op of this path started and never
 * journaled as applied, failed or skipped, the places its copies take are looked up:
 * the local trash slots of the op ({@link localTrashSlot}) and the remote trash keys of
 * its run ({@link trashKeyCandidate}). Copies the journal names are left out.
 */
async function unrecordedCopies(
  ctx: UserActionContext,
  path: string,
  events: readonly JournalEvent[],
  recorded: ReadonlyArray<RestoreCandidate>,
): Promise<RestoreCandidate[]> {
  const open = unfinishedOps(events).map((e) => ({ run: e.run, index: e.payload.index }));
  const known = new Set(recorded.flatMap((c) => (c.kept.trash ? [c.kept.trash] : [])));
  const found: RestoreCandidate[] = [];
  for (const { run, index } of open) {
    const slot = localTrashSlot(run, index);
    await probeFamily(
      (n) => `${trashSlotCandidate(slot, n)}/${path}`,
      (location) => ctx.tree.statTrash(location),
      (location) => {
        if (!known.has(location))
          found.push({ run, kept: { side: 'local', trash: location, hash: null } });
      },
    );
  }
  for (const run of new Set(open.map((o) => o.run))) {
    await probeFamily(
      (n) => trashKeyCandidate(REMOTE_TRASH_PREFIX, ctx.clientId, run, path, n),
      (key) => ctx.store.head(key),
      (key, object) => {
        if (known.has(key)) return;
        found.push({
          run,
          kept: { side: 'remote', trash: key, hash: object.sha256 ?? null, etag: object.etag },
        });
      },
    );
  }
  return found;
}

/**
 * Looks up candidates 1, 2, 3… of a family of trash places (`slot`, `slot~2`…) and hands
 * each one found to `found`. A place in the middle may be empty — restored, or pruned by
 * retention — so the lookup goes on past it and stops after {@link FAMILY_GAP} misses in a row.
 */
async function probeFamily<T>(
  candidate: (n: number) => string,
  look: (place: string) => Promise<T | undefined>,
  found: (place: string, what: T) => void,
): Promise<void> {
  for (let n = 1, misses = 0; misses < FAMILY_GAP; n++) {
    const place = candidate(n);
    const what = await look(place);
    if (!what) misses++;
    else {
      misses = 0;
      found(place, what);
    }
  }
}

/** How many empty places in a row end the lookup of a trash family. */
const FAMILY_GAP = 3;

/** What a restore journals: a download to `to`, saying where the version came from. */
function restoredEvents(run: number, to: string, from: TombstonePayload): JournalEventInput[] {
  return [
    { kind: 'op.started', run, path: to, payload: { index: 0, action: 'download' } },
    {
      kind: 'op.applied',
      run,
      path: to,
      payload: { index: 0, action: 'download', replaced: from },
    },
  ];
}

/** `notes/a.md` restored from run 7 beside a taken path: `notes/a.restored-run7.md`. */
export function restoredName(path: string, run: number): string {
  const slash = path.lastIndexOf('/');
  const name = path.slice(slash + 1);
  const dot = name.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
  return `${path.slice(0, slash + 1)}${stem}.restored-run${run}${ext}`;
}

/** Journals what a user action did as a run of its own. */
async function journalUserRun(
  ctx: UserActionContext,
  events: (run: number) => JournalEventInput[],
): Promise<void> {
  const run = await ctx.journal.startRun({
    pairId: ctx.pair.id,
    clientId: ctx.clientId,
    mode: 'resolve',
    local: ctx.pair.local,
    remote: ctx.pair.remote,
  });
  await ctx.journal.append([
    ...events(run),
    { kind: 'run.completed', run, payload: emptyRunReport(run) },
  ]);
}

/** The outcome of {@link rebuildBaseFromSnapshot}. */
export interface BaseFromSnapshot {
  snapshot: string;
  /** Paths whose local file holds exactly what the snapshot holds: they have a base now. */
  seeded: string[];
  /** Objects the snapshot listed (outside `.syncjournal/`). */
  examined: number;
}

/**
 * Gives a pair without a baseline (a new host, a lost journal) one from a bucket
 * snapshot (Tigris): every path whose local file holds exactly the bytes the snapshot
 * holds is taken as agreed at that snapshot, so the next sync tells a teammate's
 * later delete or edit from a change of ours instead of starting blind. Everything
 * else stays without a base (nothing is deleted for it). Compares contents by their
 * SHA-256, reading both sides; journaled as a run of its own (`adopt` ops).
 */
export async function rebuildBaseFromSnapshot(
  ctx: UserActionContext & { hasher: Hasher },
  snapshot: string,
): Promise<BaseFromSnapshot> {
  if ((await ctx.journal.baseline(ctx.pair.id)).length > 0) {
    throw new SyncJournalError(
      'base-exists',
      'This pair already has a baseline; nothing was changed. A base is rebuilt from a snapshot only for a pair that has none (a new host, a lost journal).',
    );
  }
  const objects = (await listEveryObject(ctx.store, { snapshot })).filter(
    (o) => !o.key.startsWith(RESERVED_PREFIX),
  );
  const seeded: Array<{ path: string; entry: BaselineEntry }> = [];
  for (const object of objects) {
    const local = await ctx.tree.stat(object.key).catch(() => undefined);
    if (!local || local.size !== object.size) continue;
    const mine = await hashStream(ctx.hasher, ctx.tree.read(object.key));
    const theirs = await hashStream(
      ctx.hasher,
      (await ctx.store.get(object.key, { snapshot })).body,
    );
    if (mine !== theirs) continue;
    seeded.push({
      path: object.key,
      entry: {
        hash: mine,
        size: object.size,
        etag: object.etag,
        versionId: object.versionId ?? null,
      },
    });
  }
  await journalUserRun(ctx, (run) =>
    seeded.flatMap(({ path, entry }, index) => [
      { kind: 'op.started', run, path, payload: { index, action: 'adopt' } },
      { kind: 'op.applied', run, path, payload: { index, action: 'adopt', baseline: entry } },
    ]),
  );
  return { snapshot, seeded: seeded.map((s) => s.path), examined: objects.length };
}

/**
 * Brings back `path` as run `run` left the bucket, read from the snapshot that run
 * recorded (stores with snapshots). A path that is taken is left alone; the version
 * goes beside it (`name.restored-runN.ext`). The next sync uploads it.
 */
export async function restoreFromSnapshot(
  ctx: UserActionContext,
  path: string,
  run: number,
): Promise<Restored & { snapshot: string }> {
  const snapshot = (await ctx.journal.report(run))?.report.snapshot;
  if (snapshot === undefined) {
    throw new NotFoundError(`A bucket snapshot recorded by run ${run}`, { path, run });
  }
  const { object, body } = await ctx.store.get(path, { snapshot });
  const to = (await ctx.tree.stat(path)) ? restoredName(path, run) : path;
  await ctx.tree.write(to, body, { expect: null });
  const from: TombstonePayload = {
    side: 'remote',
    hash: object.sha256 ?? null,
    etag: object.etag,
    snapshot,
  };
  await journalUserRun(ctx, (r) => restoredEvents(r, to, from));
  return { path, to, fromRun: run, from, snapshot };
}

/** The outcome of {@link pruneRemoteTrash}. */
export interface TrashPruned {
  /** Remote trash keys deleted now (and journaled as pruned). */
  pruned: string[];
  /** This client's remote trash keys kept (younger than the retention). */
  kept: number;
}

/**
 * Retention for the remote trash of a bucket without versioning: deletes the copies
 * this client kept under `.syncjournal/trash/<client-id>/` (before a remote delete or
 * replace) that are older than `olderThanMs`, and journals each as pruned (an `op.applied`
 * of action `forget` on the trash key), so `restore` and `log` say it is gone rather
 * than failing to find it. Only keys the journal recorded are touched; another
 * client's trash is theirs to prune.
 */
export async function pruneRemoteTrash(
  ctx: UserActionContext,
  options: { olderThanMs: number; now: number },
): Promise<TrashPruned> {
  const mine = `${REMOTE_TRASH_PREFIX}${ctx.clientId}/`;
  const { kept, pruned: already } = await remoteTrashOf(ctx.journal, ctx.pair.id);
  const due: Array<{ key: string; kept: TombstonePayload }> = [];
  let young = 0;
  for (const [key, { at, kept: k }] of kept) {
    if (!key.startsWith(mine) || already.has(key)) continue;
    if (Date.parse(at) < options.now - options.olderThanMs) due.push({ key, kept: k });
    else young++;
  }
  if (due.length === 0) return { pruned: [], kept: young };
  for (const { key } of due) await ctx.store.delete(key);
  await journalUserRun(ctx, (run) =>
    due.flatMap(({ key, kept: k }, index) => [
      { kind: 'op.started', run, path: key, payload: { index, action: 'forget' } },
      { kind: 'op.applied', run, path: key, payload: { index, action: 'forget', tombstone: k } },
    ]),
  );
  return { pruned: due.map((d) => d.key), kept: young };
}

/** Remote trash keys the journal recorded for a pair (with when), and those since pruned. */
async function remoteTrashOf(
  journal: Journal,
  pairId: string,
): Promise<{ kept: Map<string, { at: string; kept: TombstonePayload }>; pruned: Set<string> }> {
  const kept = new Map<string, { at: string; kept: TombstonePayload }>();
  const pruned = new Set<string>();
  for (const e of await journal.events({ pairId, kinds: ['op.applied', 'op.failed'] })) {
    const p = e.payload as Partial<OpAppliedPayload & OpFailedPayload>;
    if (e.kind === 'op.applied' && p.action === 'forget' && e.path?.startsWith(RESERVED_PREFIX)) {
      pruned.add(e.path);
      continue;
    }
    for (const k of keptVersions(p)) {
      if (k?.trash && k.side === 'remote' && k.trash.startsWith(RESERVED_PREFIX)) {
        kept.set(k.trash, { at: e.at, kept: k });
      }
    }
  }
  return { kept, pruned };
}
