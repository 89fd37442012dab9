import { canonicalJson } from '../canonical-json.js';
import { InvalidEventError, JournalClosedError } from '../errors.js';
import { ChainVerifier, GENESIS_HASH, type VerifyResult } from '../journal/chain.js';
import type { JournalEvent, JournalEventInput, RunStartedPayload } from '../journal/events.js';
import { prepareEvent } from '../journal/prepare.js';
import {
  PROJECTION_TABLES,
  ProjectionBatch,
  type ProjectionRows,
  type ProjectionTable,
  type RowKey,
  rowKey,
} from '../journal/projections.js';
import { comparePaths } from '../paths.js';
import { type Clock, systemClock } from '../ports/clock.js';
import type { Hasher } from '../ports/hasher.js';
import type { AppendResult, EventFilter, Journal, RebuildResult } from '../ports/journal.js';

/** Options of {@link MemoryJournal}. */
export interface MemoryJournalOptions {
  /** SHA-256 for the hash chain. */
  hasher: Hasher;
  /** Fills `at` for events that come without one; the wall clock by default. */
  clock?: Clock;
}

type Tables = { [T in ProjectionTable]: Map<string, ProjectionRows[T]> };

/**
 * A {@link Journal} held in memory: the same events, hash chain and projections as
 * the Postgres journal (the fold is shared), without a database. It exists so the
 * property suite can run thousands of multi-client cases, and it passes the same
 * conformance suite as the Postgres journal. It refuses what Postgres refuses (a NUL
 * in an event), so a test that passes here cannot depend on something only it accepts.
 *
 * Every read returns copies that went through JSON, as rows read back from Postgres do.
 */
export class MemoryJournal implements Journal {
  readonly #hasher: Hasher;
  readonly #clock: Clock;
  /** Events with their payloads' canonical JSON, which is what Postgres stores. */
  readonly #events: Array<{ event: JournalEvent; payloadText: string }> = [];
  #tables: Tables = emptyTables();
  #head = { seq: 0, hash: GENESIS_HASH };
  #closed = false;

  constructor(options: MemoryJournalOptions) {
    this.#hasher = options.hasher;
    this.#clock = options.clock ?? systemClock;
  }

  async startRun(start: Omit<RunStartedPayload, 'run'>, at?: string): Promise<number> {
    this.#open();
    let last = 0;
    for (const row of this.#tables.runs.values()) last = Math.max(last, row.run);
    const run = last + 1;
    const payload: RunStartedPayload = { ...start, run };
    this.#commit([{ kind: 'run.started', run, payload, ...(at ? { at } : {}) }]);
    return run;
  }

  async append(events: readonly JournalEventInput[]): Promise<AppendResult> {
    this.#open();
    for (const e of events) {
      if (e.kind === 'run.started') {
        throw new InvalidEventError(
          'run.started is appended by startRun(), which allocates the run',
        );
      }
    }
    return this.#commit(events);
  }

  /** Prepares, folds and only then stores: a refused batch leaves nothing behind. */
  #commit(inputs: readonly JournalEventInput[]): AppendResult {
    let seq = this.#head.seq;
    let prevHash = this.#head.hash;
    const prepared = inputs.map((input) => {
      const p = prepareEvent(input, ++seq, prevHash, { hasher: this.#hasher, clock: this.#clock });
      prevHash = p.event.hash;
      // The stored event owns its payload: a copy, as a database row would be.
      return { ...p, event: { ...p.event, payload: JSON.parse(p.payloadText) } as JournalEvent };
    });
    if (prepared.length === 0) {
      return { firstSeq: this.#head.seq + 1, lastSeq: this.#head.seq, head: this.#head.hash };
    }
    const batch = new ProjectionBatch((run) => this.#tables.runs.get(String(run)));
    for (const { event } of prepared) batch.add(event);
    const firstSeq = this.#head.seq + 1;
    this.#events.push(...prepared);
    applyBatch(this.#tables, batch);
    this.#head = { seq, hash: prevHash };
    return { firstSeq, lastSeq: seq, head: prevHash };
  }

  async manifest(pairId: string) {
    return this.#paths('manifest', pairId);
  }

  async listing(pairId: string) {
    return this.#paths('listing', pairId);
  }

  async baseline(pairId: string) {
    return this.#paths('baseline', pairId);
  }

  async tombstones(pairId: string, path?: string) {
    const rows = this.#rows('tombstones').filter(
      (r) => r.pairId === pairId && (path === undefined || r.path === path),
    );
    return copy(rows.sort((a, b) => a.seq - b.seq));
  }

  async conflicts(pairId: string, status?: 'open' | 'resolved') {
    const rows = this.#rows('conflicts').filter(
      (r) => r.pairId === pairId && (status === undefined || r.status === status),
    );
    return copy(rows.sort((a, b) => a.id - b.id));
  }

  async runs(filter: { pairId?: string; clientId?: string; limit?: number } = {}) {
    const rows = this.#rows('runs')
      .filter(
        (r) =>
          (filter.pairId === undefined || r.pairId === filter.pairId) &&
          (filter.clientId === undefined || r.clientId === filter.clientId),
      )
      .sort((a, b) => b.run - a.run);
    return copy(filter.limit === undefined ? rows : rows.slice(0, filter.limit));
  }

  async report(run: number) {
    this.#open();
    const row = this.#tables.reports.get(String(run));
    return row && copy(row);
  }

  async events(filter: EventFilter = {}): Promise<JournalEvent[]> {
    this.#open();
    const runsOfPair =
      filter.pairId === undefined
        ? undefined
        : new Set(
            this.#rows('runs')
              .filter((r) => r.pairId === filter.pairId)
              .map((r) => r.run),
          );
    const kinds = filter.kinds ? new Set<string>(filter.kinds) : undefined;
    const out: JournalEvent[] = [];
    for (const { event } of this.#events) {
      if (filter.limit !== undefined && out.length >= filter.limit) break;
      if (filter.afterSeq !== undefined && event.seq <= filter.afterSeq) continue;
      if (filter.run !== undefined && event.run !== filter.run) continue;
      if (filter.path !== undefined && event.path !== filter.path) continue;
      if (runsOfPair && !runsOfPair.has(event.run)) continue;
      if (kinds && !kinds.has(event.kind)) continue;
      out.push(event);
    }
    return copy(out);
  }

  async verify(): Promise<VerifyResult> {
    this.#open();
    const verifier = new ChainVerifier(this.#hasher);
    for (const { event } of this.#events) {
      verifier.push(event);
      if (!verifier.ok) break;
    }
    return verifier.finish(this.#head);
  }

  async rebuild(): Promise<RebuildResult> {
    this.#open();
    const before = this.#tables;
    const batch = new ProjectionBatch();
    for (const { event } of this.#events) batch.add(event);
    const after = emptyTables();
    applyBatch(after, batch);
    const tables = {} as RebuildResult['tables'];
    for (const table of PROJECTION_TABLES) {
      const b = before[table] as Map<string, unknown>;
      const a = after[table] as Map<string, unknown>;
      tables[table] = {
        rowsBefore: b.size,
        rowsAfter: a.size,
        matched: digestOf(b) === digestOf(a),
      };
    }
    this.#tables = after;
    return {
      events: this.#events.length,
      matched: Object.values(tables).every((t) => t.matched),
      tables,
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #paths<T extends 'manifest' | 'listing' | 'baseline'>(table: T, pairId: string) {
    const rows = this.#rows(table).filter((r) => r.pairId === pairId);
    return copy(rows.sort((a, b) => comparePaths(a.path, b.path)));
  }

  #rows<T extends ProjectionTable>(table: T): ProjectionRows[T][] {
    this.#open();
    return [...(this.#tables[table] as Map<string, ProjectionRows[T]>).values()];
  }

  #open(): void {
    if (this.#closed) throw new JournalClosedError();
  }
}

function emptyTables(): Tables {
  const tables = {} as Record<ProjectionTable, Map<string, unknown>>;
  for (const table of PROJECTION_TABLES) tables[table] = new Map();
  return tables as Tables;
}

const idOf = (key: RowKey): string => key.join('\u0000');

/** Applies a batch's net changes, as the Postgres journal's set-based statements do. */
function applyBatch(tables: Tables, batch: ProjectionBatch): void {
  for (const table of PROJECTION_TABLES) {
    const rows = tables[table] as Map<string, object>;
    for (const key of batch.deletes(table)) rows.delete(idOf(key));
    for (const row of batch.puts(table)) {
      rows.set(idOf(rowKey(table, row as never)), copy(row));
    }
    for (const { key, set } of batch.patches(table)) {
      const id = idOf(key);
      const row = rows.get(id);
      if (row) rows.set(id, copy({ ...row, ...set }));
    }
  }
}

function digestOf(rows: Map<string, unknown>): string {
  return canonicalJson([...rows.entries()].sort(([a], [b]) => comparePaths(a, b)) as never);
}

/** A deep copy through JSON: what a round trip through the database gives. */
function copy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
