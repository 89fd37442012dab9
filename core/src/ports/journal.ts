import type { VerifyResult } from '../journal/chain.js';
import type {
  EventKind,
  JournalEvent,
  JournalEventInput,
  RunStartedPayload,
} from '../journal/events.js';
import type {
  BaselineRow,
  ConflictRow,
  ListingRow,
  ManifestRow,
  ProjectionTable,
  ReportRow,
  RunRow,
  TombstoneRow,
} from '../journal/projections.js';

/**
 * The append-only, hash-chained event log of every scan, listing, plan and applied
 * operation, with the projections (manifest, listing, baseline, tombstones,
 * conflicts, runs, reports) that are folds of it.
 *
 * Atomicity: {@link append} and {@link startRun} write their events and every
 * projection change they cause in one transaction — all of it or none of it.
 * Durability: once they resolve, the events survive a crash of this process.
 * Concurrency: several clients may append to one journal (a shared PostgreSQL
 * server); appends are serialised so the chain and `seq` stay gapless.
 * Ordering: every list of path rows is sorted by {@link comparePaths}.
 * Missing things: reads of a path, run or pair that does not exist return an empty
 * array or `undefined`, never throw.
 */
export interface Journal {
  /**
   * Starts a run: allocates the next run number (journal-wide, from 1) and appends
   * its `run.started` event. `start.run` is ignored and filled in.
   */
  startRun(start: Omit<RunStartedPayload, 'run'>, at?: string): Promise<number>;

  /**
   * Appends a batch of events and updates the projections, atomically. Each event
   * must belong to a started run that has not completed; path events need a path.
   * A refused batch throws `InvalidEventError` and writes nothing.
   */
  append(events: readonly JournalEventInput[]): Promise<AppendResult>;

  /**
   * The local manifest of a pair, sorted by path. The rows of this, `listing` and
   * `baseline` are read-only: a journal may hand out the same frozen objects again.
   */
  manifest(pairId: string): Promise<ManifestRow[]>;
  /** The remote listing of a pair as last listed, sorted by path. */
  listing(pairId: string): Promise<ListingRow[]>;
  /** The baseline (merge base) of a pair, sorted by path. */
  baseline(pairId: string): Promise<BaselineRow[]>;
  /** Tombstones of a pair (optionally of one path), oldest first. */
  tombstones(pairId: string, path?: string): Promise<TombstoneRow[]>;
  /** Conflicts of a pair, oldest first; `status` filters. */
  conflicts(pairId: string, status?: 'open' | 'resolved'): Promise<ConflictRow[]>;
  /** Runs, newest first; filter by pair or client; `limit` caps the count. */
  runs(filter?: { pairId?: string; clientId?: string; limit?: number }): Promise<RunRow[]>;
  /** A finished run's report, or `undefined`. */
  report(run: number): Promise<ReportRow | undefined>;

  /**
   * Events in `seq` order. `run` limits to one run; `path` (with `pairId`) to one
   * path's events across runs; `afterSeq`/`limit` page through the log.
   */
  events(filter?: EventFilter): Promise<JournalEvent[]>;

  /** Walks the whole hash chain and reports the first bad event, if any. */
  verify(): Promise<VerifyResult>;

  /**
   * Drops every projection and refolds it from the events, in one transaction.
   * The result equals the live tables whenever the journal is healthy; the report
   * says per table whether it did.
   */
  rebuild(): Promise<RebuildResult>;

  /** Releases the database (and any lock). Further calls fail. */
  close(): Promise<void>;
}

/** Selects events for {@link Journal.events}. */
export interface EventFilter {
  run?: number;
  pairId?: string;
  path?: string;
  kinds?: readonly EventKind[];
  afterSeq?: number;
  limit?: number;
}

/** What an append wrote. */
export interface AppendResult {
  /** `seq` of the first and last event written (equal for one event). */
  firstSeq: number;
  lastSeq: number;
  /** Hash of the last event: the new head of the chain. */
  head: string;
}

/** What a rebuild did, per projection table. */
export interface RebuildResult {
  events: number;
  /** True when every table came out equal to what it was before the rebuild. */
  matched: boolean;
  tables: Record<ProjectionTable, { rowsBefore: number; rowsAfter: number; matched: boolean }>;
}
