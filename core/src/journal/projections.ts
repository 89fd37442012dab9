import { InvalidEventError } from '../errors.js';
import type { RunReport, RunStatus } from '../report.js';
import type {
  BaselineEntry,
  JournalEvent,
  KeptCopy,
  ListingEntryPayload,
  RunMode,
  ScanEntryPayload,
} from './events.js';

/**
 * Projections are tables the journal keeps up to date in the same transaction as
 * the events that change them, and can rebuild from the events alone. This module
 * is the fold: event in, row changes out. It is pure and shared by every journal
 * implementation, so a live append and a rebuild cannot disagree.
 */

/** A run, from `run.started` and `run.completed`. */
export interface RunRow {
  run: number;
  pairId: string;
  clientId: string;
  mode: RunMode;
  local: string;
  remote: string;
  startedAt: string;
  completedAt: string | null;
  status: RunStatus | 'running';
  /** The `seq` of the `run.started` event. */
  startedSeq: number;
}

/** The local tree as last scanned. */
export interface ManifestRow extends ScanEntryPayload {
  pairId: string;
  path: string;
  /** The run that last changed this row. */
  run: number;
}

/** The remote as last listed. */
export interface ListingRow extends ListingEntryPayload {
  pairId: string;
  path: string;
  run: number;
}

/** What both sides last agreed on for a path: the merge base. */
export interface BaselineRow extends BaselineEntry {
  pairId: string;
  path: string;
  run: number;
}

/** A propagated delete. */
export interface TombstoneRow {
  /** The `seq` of the `op.applied` event that recorded it. */
  seq: number;
  pairId: string;
  path: string;
  side: 'local' | 'remote' | 'both';
  run: number;
  clientId: string;
  hash: string | null;
  etag: string | null;
  versionId: string | null;
  trash: string | null;
}

/** An open or resolved conflict. */
export interface ConflictRow {
  /** The `seq` of the `conflict.recorded` event. */
  id: number;
  pairId: string;
  path: string;
  run: number;
  kind: string;
  status: 'open' | 'resolved';
  kept: KeptCopy[];
  resolution: string | null;
  /** Where the resolution put each version. */
  resolvedKept: KeptCopy[] | null;
  resolvedRun: number | null;
}

/** A finished run's report. */
export interface ReportRow {
  run: number;
  pairId: string;
  status: RunStatus;
  report: RunReport;
}

/** Every projection table and its row type. */
export interface ProjectionRows {
  runs: RunRow;
  manifest: ManifestRow;
  listing: ListingRow;
  baseline: BaselineRow;
  tombstones: TombstoneRow;
  conflicts: ConflictRow;
  reports: ReportRow;
}

export type ProjectionTable = keyof ProjectionRows;

/** The projection tables, in the order a rebuild writes them. */
export const PROJECTION_TABLES = [
  'runs',
  'manifest',
  'listing',
  'baseline',
  'tombstones',
  'conflicts',
  'reports',
] as const satisfies readonly ProjectionTable[];

/** The key fields of each table's rows. */
export const PROJECTION_KEYS = {
  runs: ['run'],
  manifest: ['pairId', 'path'],
  listing: ['pairId', 'path'],
  baseline: ['pairId', 'path'],
  tombstones: ['seq'],
  conflicts: ['id'],
  reports: ['run'],
} as const satisfies { [T in ProjectionTable]: ReadonlyArray<keyof ProjectionRows[T]> };

/** The key values of a row of table `T`, in {@link PROJECTION_KEYS} order. */
export type RowKey = ReadonlyArray<string | number>;

/** One change to one projection row. */
export type ProjectionChange = {
  [T in ProjectionTable]:
    | { table: T; op: 'put'; row: ProjectionRows[T] }
    | { table: T; op: 'delete'; key: RowKey }
    | { table: T; op: 'patch'; key: RowKey; set: Partial<ProjectionRows[T]> };
}[ProjectionTable];

/** Lets the fold see the run an event belongs to. */
export interface FoldContext {
  run(run: number): RunRow | undefined;
}

/**
 * The row changes one event makes. Throws {@link InvalidEventError} when the event
 * cannot be folded (unknown run, a run that already completed, a missing path).
 */
export function foldEvent(event: JournalEvent, context: FoldContext): ProjectionChange[] {
  if (event.kind === 'run.started') {
    const p = event.payload;
    if (p.run !== event.run) {
      throw new InvalidEventError('run.started names a different run than the event', {
        seq: event.seq,
      });
    }
    return [
      {
        table: 'runs',
        op: 'put',
        row: {
          run: event.run,
          pairId: p.pairId,
          clientId: p.clientId,
          mode: p.mode,
          local: p.local,
          remote: p.remote,
          startedAt: event.at,
          completedAt: null,
          status: 'running',
          startedSeq: event.seq,
        },
      },
    ];
  }
  const run = context.run(event.run);
  if (!run) throw new InvalidEventError(`run ${event.run} was never started`, { seq: event.seq });
  if (run.status !== 'running') {
    throw new InvalidEventError(`run ${event.run} has already completed`, { seq: event.seq });
  }
  const pairId = run.pairId;
  const path = event.path;
  const needPath = (): string => {
    if (path === null || path === '') {
      throw new InvalidEventError(`a ${event.kind} event needs a path`, { seq: event.seq });
    }
    return path;
  };

  switch (event.kind) {
    case 'run.completed':
      return [
        {
          table: 'runs',
          op: 'patch',
          key: [event.run],
          set: { completedAt: event.at, status: event.payload.status },
        },
        {
          table: 'reports',
          op: 'put',
          row: { run: event.run, pairId, status: event.payload.status, report: event.payload },
        },
      ];
    case 'scan.added':
    case 'scan.changed':
      return [
        {
          table: 'manifest',
          op: 'put',
          row: manifestRow(pairId, needPath(), event.run, event.payload),
        },
      ];
    case 'scan.removed':
      return [{ table: 'manifest', op: 'delete', key: [pairId, needPath()] }];
    case 'listing.added':
    case 'listing.changed':
      return [
        {
          table: 'listing',
          op: 'put',
          row: listingRow(pairId, needPath(), event.run, event.payload),
        },
      ];
    case 'listing.removed':
      return [{ table: 'listing', op: 'delete', key: [pairId, needPath()] }];
    case 'op.applied': {
      const p = event.payload;
      const changes: ProjectionChange[] = [];
      const where = needPath();
      if (p.baseline === null) {
        changes.push({ table: 'baseline', op: 'delete', key: [pairId, where] });
      } else if (p.baseline !== undefined) {
        changes.push({
          table: 'baseline',
          op: 'put',
          row: {
            pairId,
            path: where,
            hash: p.baseline.hash,
            size: p.baseline.size,
            etag: p.baseline.etag,
            versionId: p.baseline.versionId ?? null,
            run: event.run,
          },
        });
      }
      if (p.manifest === null) {
        changes.push({ table: 'manifest', op: 'delete', key: [pairId, where] });
      } else if (p.manifest !== undefined) {
        changes.push({
          table: 'manifest',
          op: 'put',
          row: manifestRow(pairId, where, event.run, p.manifest),
        });
      }
      if (p.listing === null) {
        changes.push({ table: 'listing', op: 'delete', key: [pairId, where] });
      } else if (p.listing !== undefined) {
        changes.push({
          table: 'listing',
          op: 'put',
          row: listingRow(pairId, where, event.run, p.listing),
        });
      }
      if (p.tombstone) {
        const t = p.tombstone;
        changes.push({
          table: 'tombstones',
          op: 'put',
          row: {
            seq: event.seq,
            pairId,
            path: where,
            side: t.side,
            run: event.run,
            clientId: run.clientId,
            hash: t.hash ?? null,
            etag: t.etag ?? null,
            versionId: t.versionId ?? null,
            trash: t.trash ?? null,
          },
        });
      }
      return changes;
    }
    case 'conflict.recorded':
      return [
        {
          table: 'conflicts',
          op: 'put',
          row: {
            id: event.seq,
            pairId,
            path: needPath(),
            run: event.run,
            kind: event.payload.kind,
            status: event.payload.resolution ? 'resolved' : 'open',
            kept: event.payload.kept,
            resolution: event.payload.resolution ?? null,
            resolvedKept: event.payload.resolution ? event.payload.kept : null,
            resolvedRun: event.payload.resolution ? event.run : null,
          },
        },
      ];
    case 'conflict.resolved':
      needPath();
      return [
        {
          table: 'conflicts',
          op: 'patch',
          key: [event.payload.conflict],
          set: {
            status: 'resolved',
            resolution: event.payload.resolution,
            resolvedKept: event.payload.kept,
            resolvedRun: event.run,
          },
        },
      ];
    case 'scan.completed':
    case 'listing.completed':
    case 'plan.completed':
    case 'plan.op':
    case 'op.started':
    case 'op.failed':
    case 'op.skipped':
      if (event.kind === 'plan.op' || event.kind.startsWith('op.')) needPath();
      return [];
  }
}

function manifestRow(pairId: string, path: string, run: number, p: ScanEntryPayload): ManifestRow {
  return {
    pairId,
    path,
    kind: p.kind,
    size: p.size,
    mtimeMs: p.mtimeMs,
    hash: p.hash,
    ino: p.ino ?? null,
    ctimeMs: p.ctimeMs ?? null,
    racy: p.racy ?? false,
    run,
  };
}

function listingRow(pairId: string, path: string, run: number, p: ListingEntryPayload): ListingRow {
  return {
    pairId,
    path,
    size: p.size,
    etag: p.etag,
    versionId: p.versionId ?? null,
    sha256: p.sha256 ?? null,
    lastModified: p.lastModified ?? null,
    run,
  };
}

/** The key of a row, in {@link PROJECTION_KEYS} order. */
export function rowKey<T extends ProjectionTable>(table: T, row: ProjectionRows[T]): RowKey {
  const fields = PROJECTION_KEYS[table] as ReadonlyArray<keyof ProjectionRows[T]>;
  return fields.map((f) => row[f] as string | number);
}

/** A row's pending change, table-agnostic (the public methods restore the types). */
type Pending =
  | { op: 'put'; row: object }
  | { op: 'delete'; key: RowKey }
  | { op: 'patch'; key: RowKey; set: object };

/**
 * The net effect of many changes: per row, the last put or delete, with later
 * patches merged in. Applying it gives the same tables as applying every change in
 * order, in one set-based statement per table and operation.
 */
export class ProjectionBatch implements FoldContext {
  readonly #pending = new Map<ProjectionTable, Map<string, Pending>>();
  readonly #lookupRun: (run: number) => RunRow | undefined;

  /** `lookupRun` answers for runs that started before this batch. */
  constructor(lookupRun: (run: number) => RunRow | undefined = () => undefined) {
    this.#lookupRun = lookupRun;
  }

  /** Folds one event into the batch. */
  add(event: JournalEvent): void {
    for (const change of foldEvent(event, this)) this.apply(change);
  }

  /** The run row as this batch would leave it. */
  run(run: number): RunRow | undefined {
    const pending = this.#pending.get('runs')?.get(String(run));
    if (pending?.op === 'put') return pending.row as RunRow;
    const known = this.#lookupRun(run);
    if (known && pending?.op === 'patch') return { ...known, ...(pending.set as Partial<RunRow>) };
    return pending?.op === 'delete' ? undefined : known;
  }

  /** Adds one change, merging it with earlier changes to the same row. */
  apply(change: ProjectionChange): void {
    let table = this.#pending.get(change.table);
    if (!table) {
      table = new Map();
      this.#pending.set(change.table, table);
    }
    const key = change.op === 'put' ? rowKey(change.table, change.row) : change.key;
    const id = key.join('\u0000');
    const before = table.get(id);
    if (change.op === 'patch') {
      if (before?.op === 'put') {
        table.set(id, { op: 'put', row: { ...before.row, ...change.set } });
      } else if (before?.op === 'patch') {
        table.set(id, { op: 'patch', key, set: { ...before.set, ...change.set } });
      } else if (before?.op !== 'delete') {
        table.set(id, { op: 'patch', key, set: change.set });
      }
      return;
    }
    table.set(id, change.op === 'put' ? { op: 'put', row: change.row } : { op: 'delete', key });
  }

  /** Rows to upsert in `table`. */
  puts<T extends ProjectionTable>(table: T): ProjectionRows[T][] {
    return this.#select(table, 'put').map((p) => (p as { row: object }).row as ProjectionRows[T]);
  }

  /** Keys to delete from `table`. */
  deletes(table: ProjectionTable): RowKey[] {
    return this.#select(table, 'delete').map((p) => (p as { key: RowKey }).key);
  }

  /** Field updates for rows that this batch did not put. */
  patches<T extends ProjectionTable>(
    table: T,
  ): Array<{ key: RowKey; set: Partial<ProjectionRows[T]> }> {
    return this.#select(table, 'patch') as unknown as Array<{
      key: RowKey;
      set: Partial<ProjectionRows[T]>;
    }>;
  }

  #select(table: ProjectionTable, op: Pending['op']): Pending[] {
    return [...(this.#pending.get(table)?.values() ?? [])].filter((p) => p.op === op);
  }
}
