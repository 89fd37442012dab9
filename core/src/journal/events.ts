import type { LeftOutReason } from '../ports/tree.js';
import type { GuardVerdict, ReportError, RunReport } from '../report.js';

/**
 * The journal's event vocabulary. Events are deltas: a scan appends only the entries
 * that changed since the previous scan of the pair, plus one `scan.completed`; a
 * listing does the same for the remote. Every projection is a fold of these events
 * (see `projections.ts`), so what a payload carries is exactly what a projection
 * row needs — no more, so that a no-op run stays a handful of small events.
 */
export interface EventPayloads {
  /** A run begins; allocates the run number. */
  'run.started': RunStartedPayload;
  /** A run ends, with its report. No event of that run may follow. */
  'run.completed': RunReport;

  /** A local file appeared since the last scan (path set). */
  'scan.added': ScanEntryPayload;
  /** A local file's content or metadata changed since the last scan (path set). */
  'scan.changed': ScanEntryPayload;
  /** A local file is gone since the last scan (path set). */
  'scan.removed': Record<string, never>;
  /** The scan ended; `count` and `digest` describe the whole manifest after it. */
  'scan.completed': ScanCompletedPayload;

  /** A remote object appeared since the last listing (path = key relative to the prefix). */
  'listing.added': ListingEntryPayload;
  /** A remote object changed since the last listing. */
  'listing.changed': ListingEntryPayload;
  /** A remote object is gone since the last (complete) listing. */
  'listing.removed': Record<string, never>;
  /** The listing ended: complete or not, pages, capabilities, snapshot. */
  'listing.completed': ListingCompletedPayload;

  /** One planned operation, with the decision-table row that produced it. */
  'plan.op': PlanOpPayload;
  /** The plan is complete: how many ops, and each guard's verdict. */
  'plan.completed': PlanCompletedPayload;

  /** An operation is about to run (journaled before any byte moves). */
  'op.started': OpRefPayload;
  /** An operation succeeded; carries the new baseline and any tombstone. */
  'op.applied': OpAppliedPayload;
  /** An operation failed; nothing it did is assumed. */
  'op.failed': OpFailedPayload;
  /** An operation was not run (a precondition no longer held, a guard dropped it). */
  'op.skipped': OpSkippedPayload;

  /** Both versions of a path were kept; says where each lives. */
  'conflict.recorded': ConflictRecordedPayload;
  /** A recorded conflict was resolved. */
  'conflict.resolved': ConflictResolvedPayload;
}

/** Every event kind. */
export type EventKind = keyof EventPayloads;

/** All event kinds, in a stable order. */
export const EVENT_KINDS = [
  'run.started',
  'run.completed',
  'scan.added',
  'scan.changed',
  'scan.removed',
  'scan.completed',
  'listing.added',
  'listing.changed',
  'listing.removed',
  'listing.completed',
  'plan.op',
  'plan.completed',
  'op.started',
  'op.applied',
  'op.failed',
  'op.skipped',
  'conflict.recorded',
  'conflict.resolved',
] as const satisfies readonly EventKind[];

/** Kinds whose events are about one path; for them `path` is required. */
export const PATH_EVENT_KINDS: ReadonlySet<EventKind> = new Set<EventKind>([
  'scan.added',
  'scan.changed',
  'scan.removed',
  'listing.added',
  'listing.changed',
  'listing.removed',
  'plan.op',
  'op.started',
  'op.applied',
  'op.failed',
  'op.skipped',
  'conflict.recorded',
  'conflict.resolved',
]);

/** What a caller hands the journal; the journal assigns `seq` and the hash chain. */
export type JournalEventInput<K extends EventKind = EventKind> = K extends EventKind
  ? {
      kind: K;
      run: number;
      /** Pair-relative path with `/` separators, for path events; otherwise null/absent. */
      path?: string | null;
      payload: EventPayloads[K];
      /** ISO-8601 time; the journal's clock fills it when absent. */
      at?: string;
    }
  : never;

/** An event as stored. */
export type JournalEvent<K extends EventKind = EventKind> = K extends EventKind
  ? {
      /** Journal-wide, gapless, starting at 1. */
      seq: number;
      run: number;
      at: string;
      kind: K;
      path: string | null;
      payload: EventPayloads[K];
      /** Hash of the previous event (64 zeros for the first). */
      prevHash: string;
      /** SHA-256 over `prevHash` and this event's canonical content. */
      hash: string;
    }
  : never;

/** What kind of run this is. */
export type RunMode = 'sync' | 'dry-run' | 'check' | 'resolve';

export interface RunStartedPayload {
  /** The run number the journal allocated (journal-wide, starting at 1). */
  run: number;
  /** Stable id of the pair (local root + remote) this run syncs. */
  pairId: string;
  /** Stable id of the client (state dir) that runs it. */
  clientId: string;
  mode: RunMode;
  /** The local root as the user named it (a path or URL). */
  local: string;
  /** The remote as the user named it (`s3://bucket/prefix`, `file:///dir`, …). */
  remote: string;
  /** Options that affect planning (filters, profile, policy), so a replay can use them. */
  options?: Record<string, unknown>;
}

/** A local file as the scanner saw it; the manifest row minus its keys. */
export interface ScanEntryPayload {
  kind: 'file';
  size: number;
  /** Modification time in ms since the epoch (fractional where the tree has it). */
  mtimeMs: number;
  /** SHA-256 of the content. */
  hash: string;
  /** Inode (as a decimal string) where the tree has one. */
  ino?: string | null;
  /** Change time in ms where the tree has one. */
  ctimeMs?: number | null;
  /**
   * True when the file was modified within the timestamp granularity of the scan:
   * its size and mtime cannot prove it unchanged next time, so the next scan
   * re-hashes it (the racy-timestamp rule).
   */
  racy?: boolean;
}

export interface ScanCompletedPayload {
  /** False when a directory or file could not be read: no delete may come from this scan. */
  complete: boolean;
  /** Files in the manifest after this scan. */
  count: number;
  /** SHA-256 over the manifest's sorted (path, hash, size) lines. */
  digest: string;
  /** Files re-hashed in this scan (the rest were trusted by size and mtime). */
  hashed: number;
  errors: ReportError[];
  /**
   * Entries the scan left out (symbolic links, special files, names that cannot be read
   * back), in path order; absent when there were none. The plan treats them as unknown:
   * nothing at or under them is written or deleted.
   */
  skipped?: Array<{ path: string; reason: LeftOutReason }>;
}

/** A remote object as listed; the listing row minus its keys. */
export interface ListingEntryPayload {
  size: number;
  etag: string | null;
  versionId?: string | null;
  /** The content SHA-256, where the store recorded it. */
  sha256?: string | null;
  /** ISO-8601 last-modified time from the store. */
  lastModified?: string | null;
}

export interface ListingCompletedPayload {
  /** False when a page failed: no delete may come from this listing. */
  complete: boolean;
  pages: number;
  count: number;
  /** SHA-256 over the listing's sorted (key, etag, size) lines. */
  digest: string;
  /** The store's answers to "what can you do?" at the time of this listing. */
  capabilities?: {
    conditionalWrites?: boolean;
    versioning?: boolean;
    snapshots?: boolean;
  };
  /** When incomplete: the last key the listing reached (`null`: no page came back). */
  listedThrough?: string | null;
  /** The snapshot version this listing was read at, or taken after it, where any. */
  snapshot?: string | null;
  errors: ReportError[];
}

/** The operations a plan can hold. */
export type OpAction =
  | 'upload'
  | 'download'
  | 'delete-remote'
  | 'delete-local'
  | 'adopt'
  | 'conflict'
  | 'forget'
  | 'skip';

/** What a side held when the plan was made; used as a precondition. */
export interface SideState {
  hash?: string | null;
  size?: number | null;
  etag?: string | null;
  versionId?: string | null;
  mtimeMs?: number | null;
  ino?: string | null;
}

export interface PlanOpPayload {
  /** Position in the plan, from 0. */
  index: number;
  action: OpAction;
  /** The decision-table row that produced this op (its "why"). */
  row: string;
  /** One human sentence explaining the decision. */
  why: string;
  base?: SideState | null;
  local?: SideState | null;
  remote?: SideState | null;
  /** For conflicts: where the local version is kept beside the canonical name. */
  conflictPath?: string;
  /**
   * For conflicts: which version takes the name. `keep-both` (the default) keeps the
   * remote under the name and the local beside it; `keep-local`/`keep-remote` put the
   * other version in the trash (or keep it as a bucket version), never delete it.
   */
  resolution?: ConflictResolution;
  /** 1 for the run's plan; 2 when a path was planned again after a precondition failed. */
  round?: number;
}

export interface PlanCompletedPayload {
  ops: number;
  /** Ops per action, for reports. */
  counts: Partial<Record<OpAction, number>>;
  guards: GuardVerdict[];
  /** Set when a guard blocked the run: then no op of this plan runs. */
  blocked: { guard: string; reason: string } | null;
  /** SHA-256 of the canonical plan, so an audit can compare a replay byte for byte. */
  digest: string;
  /** 1 for the run's plan; 2 for the re-plan of paths whose preconditions failed. */
  round?: number;
}

export interface OpRefPayload {
  index: number;
  action: OpAction;
}

/** The merge base both sides agreed on for a path. */
export interface BaselineEntry {
  hash: string;
  size: number;
  etag: string | null;
  versionId?: string | null;
}

export interface OpAppliedPayload extends OpRefPayload {
  /** The new baseline for the path; `null` removes it; absent leaves it unchanged. */
  baseline?: BaselineEntry | null;
  /**
   * The local file as this op left it (a download wrote it; `null`: a local delete
   * removed it), so the manifest stays true without waiting for the next scan.
   */
  manifest?: ScanEntryPayload | null;
  /** The remote object as this op left it (an upload wrote it; `null`: deleted). */
  listing?: ListingEntryPayload | null;
  /** Set when the op propagated a delete. */
  tombstone?: TombstonePayload;
  /** Where the version this op replaced is kept (trash path, trash key or version id). */
  replaced?: TombstonePayload;
  /** Bytes moved by this op. */
  bytes?: number;
}

export interface TombstonePayload {
  side: 'local' | 'remote' | 'both';
  hash?: string | null;
  etag?: string | null;
  versionId?: string | null;
  /** Where the deleted content is kept (a trash path or key), where it is. */
  trash?: string | null;
  /** The bucket snapshot it was read from (a restore from a snapshot). */
  snapshot?: string | null;
}

export interface OpFailedPayload extends OpRefPayload {
  error: ReportError;
  /** What the op had already kept before it failed (a remote trash copy), so it stays findable. */
  kept?: TombstonePayload[];
}

/**
 * The versions an `op.applied` or `op.failed` payload says its op kept: the deleted one,
 * the replaced one, and what a failed op had already kept.
 */
export function keptVersions(
  payload: Partial<OpAppliedPayload & OpFailedPayload>,
): TombstonePayload[] {
  return [payload.tombstone, payload.replaced, ...(payload.kept ?? [])].filter(
    (k): k is TombstonePayload => !!k,
  );
}

/**
 * The `op.started` events among `events` that no `op.applied`, `op.failed` or
 * `op.skipped` of the same run and index answers. Ops are journaled as done a batch at a
 * time, so these are the ops of a run killed (or still running) before its batch was.
 */
export function unfinishedOps(events: readonly JournalEvent[]): JournalEvent<'op.started'>[] {
  const key = (e: JournalEvent) => `${e.run}:${(e.payload as Partial<OpRefPayload>).index}`;
  const done = new Set(
    events
      .filter((e) => e.kind === 'op.applied' || e.kind === 'op.failed' || e.kind === 'op.skipped')
      .map(key),
  );
  return events.filter(
    (e): e is JournalEvent<'op.started'> => e.kind === 'op.started' && !done.has(key(e)),
  );
}

export interface OpSkippedPayload extends OpRefPayload {
  reason: string;
}

/** One kept version of a conflicted path. */
export interface KeptCopy {
  /** Who wrote this version: `local` or `remote`. */
  side: 'local' | 'remote';
  /** The path it belongs to, relative to the pair's root. */
  path: string;
  hash?: string | null;
  etag?: string | null;
  /** The bucket version that holds it, where the bucket keeps versions. */
  versionId?: string | null;
  /** Where it is kept when it is not a synced file: a local trash location or a remote trash key. */
  trash?: string | null;
}

/** How a conflict was settled. */
export type ConflictResolution = 'keep-both' | 'keep-local' | 'keep-remote';

export interface ConflictRecordedPayload {
  /** The decision-table row: e.g. `both-changed`, `deleted-vs-changed`. */
  kind: string;
  kept: KeptCopy[];
  /** Set when a policy settled the conflict as it was found (the conflict is then resolved). */
  resolution?: 'keep-local' | 'keep-remote';
}

export interface ConflictResolvedPayload {
  /** The conflict's id (the `seq` of its `conflict.recorded` event). */
  conflict: number;
  resolution: ConflictResolution;
  /** Where the versions that were not kept went (trash path, conflict copy, version id). */
  kept: KeptCopy[];
}
