import { PreconditionFailedError, SyncJournalError } from '../errors.js';
import type {
  BaselineEntry,
  JournalEventInput,
  KeptCopy,
  ListingEntryPayload,
  OpAppliedPayload,
  ScanEntryPayload,
  SideState,
  TombstonePayload,
} from '../journal/events.js';
import type { Clock } from '../ports/clock.js';
import type { Hasher } from '../ports/hasher.js';
import type { ObjectStore, RemoteObject } from '../ports/store.js';
import type { FileStat, LocalTree } from '../ports/tree.js';
import type { PlanOp } from '../reconcile/reconcile.js';
import { localTrashSlot } from '../reconcile/safe-path.js';
import type { ReportConflict, ReportError } from '../report.js';
import { entryOf, isRacy } from '../scan/scanner.js';

/** What the executor works with. */
export interface ExecutionContext {
  tree: LocalTree;
  store: ObjectStore;
  hasher: Hasher;
  clock: Clock;
  run: number;
  /** Names this client's remote trash copies, so clients sharing a bucket never collide. */
  clientId: string;
  /** Where remote trash copies go on stores without versioning. */
  remoteTrashPrefix: string;
}

/** An op's context: the run's, plus what the op has kept so far (reported even if it fails). */
interface OpContext extends ExecutionContext {
  kept: TombstonePayload[];
  /** The local trash slot for a file the op replaces or deletes ({@link localTrashSlot}). */
  trashSlot: string;
}

/** How one op ended. */
export type OpOutcome =
  | {
      status: 'applied';
      /** `op.applied` for each path the op changed, and `conflict.recorded` where one was. */
      events: JournalEventInput[];
      bytes: { up: number; down: number };
      conflict?: ReportConflict;
    }
  | { status: 'skipped'; reason: string }
  | {
      status: 'failed';
      error: ReportError;
      /** A precondition failed: the path changed after planning and must be planned again. */
      replan: boolean;
      /** Copies the op made before it failed (a remote trash copy): the journal keeps pointing to them. */
      kept?: TombstonePayload[];
    };

/** What one path's change leaves behind, folded into an `op.applied` event. */
interface Effect {
  baseline?: BaselineEntry | null;
  manifest?: ScanEntryPayload | null;
  listing?: ListingEntryPayload | null;
  tombstone?: TombstonePayload;
  replaced?: TombstonePayload;
  up?: number;
  down?: number;
}

/** Bodies up to this size are read into memory once, hashed, and sent as read. */
const IN_MEMORY_LIMIT = 64 * 1024 * 1024;

/**
 * Applies one planned op. Never overwrites what it did not plan to: remote writes are
 * conditional on the ETag the plan saw (or, on stores without conditional writes, on
 * a fresh HEAD), local writes on the size, mtime, inode and hash the scan saw. A
 * failed condition comes back as `replan`, never as a forced write.
 */
export async function applyOp(op: PlanOp, run: ExecutionContext): Promise<OpOutcome> {
  const ctx: OpContext = { ...run, kept: [], trashSlot: localTrashSlot(run.run, op.index) };
  try {
    switch (op.action) {
      case 'upload':
        return applied(op, [[op.path, await upload(ctx, op.path, op.local!, op.remote ?? null)]]);
      case 'download':
        return applied(op, [[op.path, await download(ctx, op.path, op.local ?? null, op.remote!)]]);
      case 'delete-remote':
        return applied(op, [[op.path, await deleteRemote(ctx, op)]]);
      case 'delete-local':
        return applied(op, [[op.path, await deleteLocal(ctx, op)]]);
      case 'adopt':
        return applied(op, [[op.path, { baseline: baselineOf(op.local!, op.remote!) }]]);
      case 'forget':
        return applied(op, [
          [
            op.path,
            {
              baseline: null,
              tombstone: { side: 'both', hash: op.base?.hash ?? null, etag: op.base?.etag ?? null },
            },
          ],
        ]);
      case 'conflict':
        return await conflict(op, ctx);
      case 'skip':
        return { status: 'skipped', reason: op.why };
    }
  } catch (error) {
    return {
      status: 'failed',
      error: errorOf(error, op.path),
      replan: error instanceof PreconditionFailedError,
      ...(ctx.kept.length ? { kept: ctx.kept } : {}),
    };
  }
}

function applied(
  op: PlanOp,
  effects: Array<[string, Effect]>,
  conflict?: ReportConflict,
): OpOutcome {
  const events: JournalEventInput[] = effects.map(([path, e]) => {
    const payload: OpAppliedPayload = { index: op.index, action: op.action };
    if (e.baseline !== undefined) payload.baseline = e.baseline;
    if (e.manifest !== undefined) payload.manifest = e.manifest;
    if (e.listing !== undefined) payload.listing = e.listing;
    if (e.tombstone) payload.tombstone = e.tombstone;
    if (e.replaced) payload.replaced = e.replaced;
    const bytes = (e.up ?? 0) + (e.down ?? 0);
    if (bytes) payload.bytes = bytes;
    return { kind: 'op.applied', run: 0, path, payload };
  });
  const bytes = {
    up: effects.reduce((n, [, e]) => n + (e.up ?? 0), 0),
    down: effects.reduce((n, [, e]) => n + (e.down ?? 0), 0),
  };
  return { status: 'applied', events, bytes, ...(conflict ? { conflict } : {}) };
}

async function upload(
  ctx: OpContext,
  path: string,
  local: SideState,
  remote: SideState | null,
): Promise<Effect> {
  const hash = local.hash!;
  const body =
    (local.size ?? 0) <= IN_MEMORY_LIMIT
      ? await readVerified(ctx, path, hash)
      : { size: local.size!, open: () => ctx.tree.read(path) };
  await checkRemoteUnconditionally(ctx, path, remote);
  const replaced = remote ? await keepRemoteVersion(ctx, path, remote) : undefined;
  const object = await ctx.store.put(path, body, {
    sha256: hash,
    ...(remote ? { ifMatch: remote.etag! } : { ifNoneMatch: '*' }),
  });
  return {
    baseline: { hash, size: object.size, etag: object.etag, versionId: object.versionId ?? null },
    listing: listingOf(object, hash),
    ...(replaced ? { replaced } : {}),
    up: object.size,
  };
}

async function download(
  ctx: OpContext,
  path: string,
  local: SideState | null,
  remote: SideState,
): Promise<Effect> {
  // The scan's stat cannot prove a racy file unchanged; its hash can.
  if (local) await readVerified(ctx, path, local.hash!);
  const { object, body } = await ctx.store.get(path);
  const expected = object.sha256 ?? (object.etag === remote.etag ? remote.hash : null) ?? null;
  let hash = '';
  let size = 0;
  const verified = verifying(ctx.hasher, body, expected, path, (h, n) => {
    hash = h;
    size = n;
  });
  const { stat, trashed } = await ctx.tree.write(path, verified, {
    expect: local ? statOf(local) : null,
    keepPrevious: local !== null,
    trashSlot: ctx.trashSlot,
  });
  return {
    baseline: { hash, size, etag: object.etag, versionId: object.versionId ?? null },
    manifest: manifestOf(ctx, stat, hash),
    ...(trashed ? { replaced: { side: 'local', hash: local?.hash ?? null, trash: trashed } } : {}),
    down: size,
  };
}

async function deleteRemote(ctx: OpContext, op: PlanOp): Promise<Effect> {
  const remote = op.remote!;
  await checkRemoteUnconditionally(ctx, op.path, remote);
  const kept = await keepRemoteVersion(ctx, op.path, remote);
  await ctx.store.delete(op.path, { ifMatch: remote.etag! });
  return {
    baseline: null,
    listing: null,
    tombstone: { ...kept, side: 'remote', hash: op.base?.hash ?? remote.hash ?? null },
  };
}

async function deleteLocal(ctx: OpContext, op: PlanOp): Promise<Effect> {
  const local = op.local!;
  await readVerified(ctx, op.path, local.hash!);
  const trash = await ctx.tree.trash(op.path, {
    expect: statOf(local),
    trashSlot: ctx.trashSlot,
  });
  return {
    baseline: null,
    manifest: null,
    tombstone: { side: 'local', hash: local.hash ?? null, trash },
  };
}

/**
 * Keeps both versions. The remote version keeps the canonical name (cloud-primary);
 * the local one is kept beside it as a conflict copy, locally and remotely, so
 * teammates see it. Deleted-vs-changed restores or re-uploads the changed side.
 */
async function conflict(op: PlanOp, ctx: OpContext): Promise<OpOutcome> {
  if (op.row === 'local-deleted-remote-changed') {
    const effect = await download(ctx, op.path, null, op.remote!);
    const kept: KeptCopy[] = [
      {
        side: 'remote',
        path: op.path,
        hash: effect.baseline?.hash ?? null,
        etag: effect.baseline?.etag ?? null,
      },
    ];
    return withConflict(op, applied(op, [[op.path, effect]]), kept);
  }
  if (op.row === 'local-changed-remote-deleted') {
    const effect = await upload(ctx, op.path, op.local!, null);
    const kept: KeptCopy[] = [
      {
        side: 'local',
        path: op.path,
        hash: op.local!.hash ?? null,
        etag: effect.baseline?.etag ?? null,
      },
    ];
    return withConflict(op, applied(op, [[op.path, effect]]), kept);
  }

  if (op.resolution === 'keep-remote') {
    // The remote version takes the name; the local one goes to the local trash.
    const effect = await download(ctx, op.path, op.local!, op.remote!);
    const kept: KeptCopy[] = [
      {
        side: 'remote',
        path: op.path,
        hash: effect.baseline?.hash ?? null,
        etag: effect.baseline?.etag ?? null,
      },
      {
        side: 'local',
        path: op.path,
        hash: op.local!.hash ?? null,
        trash: effect.replaced?.trash ?? null,
      },
    ];
    return withConflict(op, applied(op, [[op.path, effect]]), kept, 'keep-remote');
  }
  if (op.resolution === 'keep-local') {
    // The local version takes the name; the remote one stays a bucket version or a trash copy.
    const effect = await upload(ctx, op.path, op.local!, op.remote!);
    const kept: KeptCopy[] = [
      {
        side: 'local',
        path: op.path,
        hash: op.local!.hash ?? null,
        etag: effect.baseline?.etag ?? null,
      },
      {
        side: 'remote',
        path: op.path,
        hash: op.remote!.hash ?? null,
        etag: op.remote!.etag ?? null,
        versionId: effect.replaced?.versionId ?? null,
        trash: effect.replaced?.trash ?? null,
      },
    ];
    return withConflict(op, applied(op, [[op.path, effect]]), kept, 'keep-local');
  }

  const copyPath = op.conflictPath!;
  const hash = op.local!.hash!;
  const bytes = await readVerified(ctx, op.path, hash);
  const existing = await ctx.tree.stat(copyPath);
  let copyStat: FileStat;
  if (existing) {
    await readVerified(ctx, copyPath, hash);
    copyStat = existing;
  } else {
    copyStat = (await ctx.tree.write(copyPath, bytes, { expect: null })).stat;
  }
  let copyObject: RemoteObject;
  try {
    copyObject = await ctx.store.put(copyPath, bytes, { sha256: hash, ifNoneMatch: '*' });
  } catch (error) {
    // Kept remotely by an earlier, interrupted run: the same content is already there.
    const there =
      error instanceof PreconditionFailedError ? await ctx.store.head(copyPath) : undefined;
    if (!there || there.sha256 !== hash) throw error;
    copyObject = there;
  }
  const canonical = await download(ctx, op.path, op.local!, op.remote!);
  const copyEffect: Effect = {
    baseline: {
      hash,
      size: copyObject.size,
      etag: copyObject.etag,
      versionId: copyObject.versionId ?? null,
    },
    manifest: manifestOf(ctx, copyStat, hash),
    listing: listingOf(copyObject, hash),
    up: copyObject.size,
  };
  const kept: KeptCopy[] = [
    {
      side: 'remote',
      path: op.path,
      hash: canonical.baseline?.hash ?? null,
      etag: canonical.baseline?.etag ?? null,
    },
    { side: 'local', path: copyPath, hash, etag: copyObject.etag },
  ];
  return withConflict(
    op,
    applied(op, [
      [op.path, canonical],
      [copyPath, copyEffect],
    ]),
    kept,
  );
}

function withConflict(
  op: PlanOp,
  outcome: OpOutcome,
  kept: KeptCopy[],
  resolution?: 'keep-local' | 'keep-remote',
): OpOutcome {
  if (outcome.status !== 'applied') return outcome;
  outcome.events.push({
    kind: 'conflict.recorded',
    run: 0,
    path: op.path,
    payload: { kind: op.row, kept, ...(resolution ? { resolution } : {}) },
  });
  // Where each version is: a synced path, a trash location, or a bucket version.
  outcome.conflict = {
    path: op.path,
    kind: op.row,
    kept: kept.map((k) => k.trash ?? (k.versionId ? `${k.path}@${k.versionId}` : k.path)),
  };
  return outcome;
}

/** On stores that ignore conditions, a fresh HEAD is the closest check there is. */
async function checkRemoteUnconditionally(
  ctx: ExecutionContext,
  path: string,
  expected: SideState | null,
): Promise<void> {
  if (ctx.store.capabilities.conditionalWrites) return;
  const now = await ctx.store.head(path);
  if (expected === null ? now !== undefined : now?.etag !== expected.etag) {
    throw new PreconditionFailedError('remote', path, now ? `now ETag ${now.etag}` : 'now missing');
  }
}

/**
 * Makes a remote version that is about to be replaced or deleted recoverable: the
 * bucket keeps it where versioning is on; otherwise a copy goes under the trash prefix.
 */
async function keepRemoteVersion(
  ctx: OpContext,
  path: string,
  remote: SideState,
): Promise<TombstonePayload> {
  const kept: TombstonePayload = {
    side: 'remote',
    hash: remote.hash ?? null,
    etag: remote.etag ?? null,
  };
  if (ctx.store.capabilities.versioning) {
    // S3's listing names no version ids; a HEAD does. The write that follows is
    // conditional on this ETag, so the version named is the one it replaces.
    let versionId = remote.versionId ?? null;
    if (versionId === null) {
      const now = await ctx.store.head(path);
      if (now && now.etag === remote.etag) versionId = now.versionId ?? null;
    }
    return { ...kept, versionId };
  }
  const trashKey = await freeTrashKey(ctx, path);
  if (ctx.store.copy) {
    await ctx.store.copy(path, trashKey);
  } else {
    const { body } = await ctx.store.get(path);
    const chunks: Uint8Array[] = [];
    const state = ctx.hasher.create();
    for await (const chunk of body) {
      state.update(chunk);
      chunks.push(chunk);
    }
    await ctx.store.put(trashKey, concat(chunks), { sha256: state.digest() });
  }
  const result = { ...kept, trash: trashKey };
  ctx.kept.push(result);
  return result;
}

/**
 * A remote trash key nothing holds yet: `<prefix><client>/<run>/<path>`, or
 * `<prefix><client>/<run>~2/<path>`, `~3`… when an earlier copy is there (a re-planned
 * op, a client whose lost journal started its runs from 1 again). The counter is in the
 * run's folder, not on the name, so no two paths ever share a candidate key: ops running
 * at once never probe the same key, and `a.md`'s second copy is not `a.md~2`'s first.
 * A trash copy is never overwritten.
 */
export function trashKeyCandidate(
  prefix: string,
  clientId: string,
  run: number,
  path: string,
  n: number,
): string {
  return `${prefix}${clientId}/${n === 1 ? run : `${run}~${n}`}/${path}`;
}

async function freeTrashKey(ctx: ExecutionContext, path: string): Promise<string> {
  for (let n = 1; ; n++) {
    const key = trashKeyCandidate(ctx.remoteTrashPrefix, ctx.clientId, ctx.run, path, n);
    if (!(await ctx.store.head(key))) return key;
  }
}

/** Reads a whole file and checks it still has the hash the plan saw. */
async function readVerified(
  ctx: ExecutionContext,
  path: string,
  hash: string,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const state = ctx.hasher.create();
  for await (const chunk of ctx.tree.read(path)) {
    state.update(chunk);
    chunks.push(chunk);
  }
  const actual = state.digest();
  if (actual !== hash)
    throw new PreconditionFailedError('local', path, 'its content changed since the scan');
  return concat(chunks);
}

/**
 * Passes a download through while hashing it; at the end, a hash that is not the
 * expected one throws before the tree renames the temporary file into place.
 */
async function* verifying(
  hasher: Hasher,
  body: AsyncIterable<Uint8Array>,
  expected: string | null,
  path: string,
  done: (hash: string, size: number) => void,
): AsyncIterable<Uint8Array> {
  const state = hasher.create();
  let size = 0;
  for await (const chunk of body) {
    state.update(chunk);
    size += chunk.length;
    yield chunk;
  }
  const hash = state.digest();
  if (expected && hash !== expected) {
    throw new SyncJournalError(
      'download-corrupt',
      `The download of ${path} does not match its recorded SHA-256. Nothing was replaced; it will be tried again next sync.`,
      { path, expected, actual: hash },
    );
  }
  done(hash, size);
}

function baselineOf(local: SideState, remote: SideState): BaselineEntry {
  return {
    hash: local.hash!,
    size: local.size!,
    etag: remote.etag ?? null,
    versionId: remote.versionId ?? null,
  };
}

function listingOf(object: RemoteObject, sha256: string): ListingEntryPayload {
  return {
    size: object.size,
    etag: object.etag,
    versionId: object.versionId ?? null,
    sha256,
    lastModified: object.lastModified ?? null,
  };
}

function manifestOf(ctx: ExecutionContext, stat: FileStat, hash: string): ScanEntryPayload {
  // Written just now: a further edit within the same tick would not move its mtime.
  return entryOf(stat, hash, isRacy(stat, ctx.tree, ctx.clock));
}

function statOf(side: SideState): FileStat {
  return {
    size: side.size ?? 0,
    mtimeMs: side.mtimeMs ?? 0,
    ...(side.ino != null ? { ino: side.ino } : {}),
  };
}

function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function errorOf(error: unknown, path: string): ReportError {
  if (error instanceof SyncJournalError) return { code: error.code, message: error.message, path };
  const e = error as { code?: string; name?: string; message?: string };
  return { code: e.code ?? e.name ?? 'error', message: e.message ?? String(error), path };
}
