import {
  comparePaths,
  type ProjectionBatch,
  type ProjectionRows,
  type RowKey,
} from '@syncjournal/core';
import type { CachedProjection } from './projection-cache.js';
import { PROJECTION_COLUMNS, type SqlType } from './tables.js';

type Row = Readonly<Record<string, unknown>>;

/** One pair's rows of one projection, as the table was at `stamp`. */
interface Held {
  readonly table: CachedProjection;
  readonly pairId: string;
  stamp: string;
  /**
   * The rows in path order, each frozen so that a caller cannot change what the next read
   * returns; undefined after a change, until the next read sorts `byPath` again.
   */
  ordered: Row[] | undefined;
  /**
   * The same rows by path, made by the first change: building a map of 100k rows costs
   * more than reading them from a copy, and a run that changes nothing needs none.
   */
  byPath: Map<string, Row> | undefined;
  /** Whether the projection cache has a copy at `stamp` (nothing to write at close). */
  saved: boolean;
  /** How many rows were read, and how many row changes appends have brought forward since. */
  readonly read: number;
  changed: number;
}

/**
 * Held rows are brought forward through at most this many row changes (a tenth of the
 * rows read, at least 1,000), then let go: the next read goes to the table, and close
 * copies the table for the next process. Rows held while a table grows from nothing cost
 * more than reading it once at close: the first sync of 100k notes peaked at 1,052 MB
 * holding all 300k rows, 827–864 MB letting them go (docs/benchmarks.md).
 */
const changeLimit = (read: number) => Math.max(1_000, Math.floor(read / 10));

/**
 * The manifest, listing and baseline rows a journal object last read, kept in memory and
 * brought forward by its own appends, so that the next run in the same process (watch
 * mode, a web app that syncs again) reads none of them from Postgres, and a run that
 * changed them leaves copies for the next process at close instead of the next run
 * reading the tables again.
 *
 * Rows are kept per table at the table's stamp (see projection-cache.ts) and used only
 * while the stamp is unchanged. An append applies its batch to them only if the stamp it
 * found, under the head lock, is the one they are at; anything else (an append by another
 * journal object or process, a rebuild) leaves them at an older stamp, and the next read
 * goes to the table. Values are stored as the table would give them back: every column,
 * `null` for a missing value, numbers as a float8 or int8 column returns them.
 */
export class HeldProjections {
  readonly #held = new Map<string, Held>();
  /** Tables and pairs whose rows were let go at the change limit, since last asked. */
  readonly #letGo = new Map<string, { table: CachedProjection; pairId: string }>();

  /** The rows of `table` for `pairId` if held at `stamp`, in path order. */
  get<T extends CachedProjection>(
    table: T,
    pairId: string,
    stamp: string,
  ): ProjectionRows[T][] | undefined {
    const held = this.#held.get(key(table, pairId));
    if (held?.stamp !== stamp) return undefined;
    return inOrder(held).slice() as unknown as ProjectionRows[T][];
  }

  /**
   * Keeps `rows` (in path order, as the table was at `stamp`), freezing them: the caller
   * gets the same objects back, and they must not change under the next read.
   */
  hold<T extends CachedProjection>(
    table: T,
    pairId: string,
    stamp: string,
    rows: ProjectionRows[T][],
    saved: boolean,
  ): ProjectionRows[T][] {
    for (const row of rows) Object.freeze(row);
    this.#held.set(key(table, pairId), {
      table,
      pairId,
      stamp,
      ordered: rows.slice() as unknown as Row[],
      byPath: undefined,
      saved,
      read: rows.length,
      changed: 0,
    });
    return rows;
  }

  /** The cached tables that some held rows are of. */
  tables(): Set<CachedProjection> {
    return new Set([...this.#held.values()].map((h) => h.table));
  }

  /**
   * What an append will do to the held rows, computed inside its transaction from the
   * stamps it found (`before`) and the one it set (`after`); run the returned function
   * once the transaction has committed, never before.
   */
  prepare(
    batch: ProjectionBatch,
    before: ReadonlyMap<CachedProjection, string | undefined>,
    after: ReadonlyMap<CachedProjection, string>,
  ): () => void {
    const steps: Array<() => void> = [];
    for (const held of this.#held.values()) {
      const from = before.get(held.table);
      const to = after.get(held.table);
      if (to === undefined || from === undefined || from !== held.stamp) continue;
      const change = pairChanges(batch, held.table, held.pairId);
      steps.push(() => {
        // Another append or a read may have moved these rows on since the stamp was read.
        if (this.#held.get(key(held.table, held.pairId)) !== held) return;
        if (held.stamp !== from) return;
        if (change) {
          held.changed += change.deletes.length + change.puts.length + change.patches.length;
          if (held.changed > changeLimit(held.read)) {
            this.#held.delete(key(held.table, held.pairId));
            this.#letGo.set(key(held.table, held.pairId), {
              table: held.table,
              pairId: held.pairId,
            });
            return;
          }
        }
        if (!change || !applyChanges(held, change)) {
          this.#held.delete(key(held.table, held.pairId));
          return;
        }
        held.stamp = to;
        held.saved = false;
      });
    }
    return () => {
      for (const step of steps) step();
    };
  }

  /** Held rows the projection cache has no copy of, each with its rows as text pages. */
  *unsaved(): Generator<{
    table: CachedProjection;
    pairId: string;
    stamp: string;
    pages: () => string[];
    saved: () => void;
  }> {
    for (const held of this.#held.values()) {
      if (held.saved) continue;
      yield {
        table: held.table,
        pairId: held.pairId,
        stamp: held.stamp,
        pages: () => toPages(held),
        saved: () => {
          held.saved = true;
        },
      };
    }
  }

  /**
   * The tables and pairs whose rows were let go at the change limit and not read again
   * since: their tables changed in this object's appends, so their copies are stale.
   */
  takeLetGo(): Array<{ table: CachedProjection; pairId: string }> {
    const out = [...this.#letGo].filter(([k]) => !this.#held.has(k)).map(([, v]) => v);
    this.#letGo.clear();
    return out;
  }

  clear(): void {
    this.#held.clear();
    this.#letGo.clear();
  }
}

const key = (table: CachedProjection, pairId: string) => `${table}\u0000${pairId}`;

interface PairChanges {
  deletes: string[];
  puts: Row[];
  patches: Array<{ path: string; set: Record<string, unknown> }>;
}

/**
 * The batch's changes to `table` that are of `pairId`'s rows (key: pair id, path), with
 * rows as the table will store them; undefined if a value is not one this can mirror
 * exactly (the rows are then dropped and read from the table next time).
 */
function pairChanges(
  batch: ProjectionBatch,
  table: CachedProjection,
  pairId: string,
): PairChanges | undefined {
  const ofPair = (k: RowKey) => k[0] === pairId;
  const puts: Row[] = [];
  for (const row of batch.puts(table)) {
    if (row.pairId !== pairId) continue;
    const stored = asStored(table, row as unknown as Record<string, unknown>);
    if (!stored) return undefined;
    puts.push(stored);
  }
  const patches: PairChanges['patches'] = [];
  for (const { key, set } of batch.patches(table)) {
    if (!ofPair(key)) continue;
    if ('pairId' in set || 'path' in set) return undefined;
    patches.push({ path: key[1] as string, set: set as Record<string, unknown> });
  }
  const deletes = batch
    .deletes(table)
    .filter(ofPair)
    .map((k) => k[1] as string);
  return { deletes, puts, patches };
}

/** The batch's changes applied as writeBatch applies them: deletes, upserts, then updates. */
function applyChanges(held: Held, change: PairChanges): boolean {
  if (change.deletes.length + change.puts.length + change.patches.length === 0) return true;
  held.byPath ??= new Map(held.ordered!.map((row) => [row.path as string, row]));
  const rows = held.byPath;
  for (const path of change.deletes) rows.delete(path);
  for (const row of change.puts) rows.set(row.path as string, row);
  for (const { path, set } of change.patches) {
    const old = rows.get(path);
    if (!old) continue;
    const row = asStored(held.table, { ...old, ...set });
    if (!row) return false;
    rows.set(path, row);
  }
  held.ordered = undefined;
  return true;
}

/**
 * The rows in path order. A map keeps the order rows were first put in, so after changes
 * they are in order but for the paths added since, which the sort merges in cheaply.
 */
function inOrder(held: Held): Row[] {
  held.ordered ??= [...held.byPath!.values()].sort((a, b) =>
    comparePaths(a.path as string, b.path as string),
  );
  return held.ordered;
}

/**
 * A row as reading it back from its table gives it: every column, `null` for a missing
 * value, frozen. Undefined for a value of another type than its column's.
 */
function asStored(table: CachedProjection, row: Record<string, unknown>): Row | undefined {
  const out: Record<string, unknown> = {};
  for (const [field, type] of Object.entries(PROJECTION_COLUMNS[table]) as [string, SqlType][]) {
    const value = row[field] ?? null;
    if (value === null) {
      out[field] = null;
    } else if (
      type === 'text'
        ? typeof value === 'string'
        : type === 'boolean'
          ? typeof value === 'boolean'
          : typeof value === 'number' && Number.isFinite(value)
    ) {
      // -0 goes to Postgres as JSON, which has no -0.
      out[field] = value === 0 ? 0 : value;
    } else {
      return undefined;
    }
  }
  return Object.freeze(out);
}

/** Rows per page of text, as readPages reads them. */
const PAGE_ROWS = 20_000;

/** The held rows as readPages would read them from the table: a line per row, tabs between. */
function toPages(held: Held): string[] {
  const columns = (Object.entries(PROJECTION_COLUMNS[held.table]) as [string, SqlType][]).filter(
    ([field]) => field !== 'pairId',
  );
  const fields = columns.map(([field]) => field);
  const texts = columns.map(([, type]) => type === 'text');
  const rows = inOrder(held);
  const pages: string[] = [];
  for (let i = 0; i < rows.length; i += PAGE_ROWS) {
    // A line per row joined once: one flat string, where appending to a page builds a
    // rope that costs as much again to flatten when it is encoded.
    const lines: string[] = [];
    for (let r = i; r < Math.min(i + PAGE_ROWS, rows.length); r++) {
      const row = rows[r]!;
      let line = '';
      for (let f = 0; f < fields.length; f++) {
        if (f > 0) line += '\t';
        const value = row[fields[f]!];
        line += value === null ? '\\N' : texts[f] ? escapeText(value as string) : String(value);
      }
      lines.push(line);
    }
    pages.push(lines.join('\n'));
  }
  return pages;
}

/** Text as readPages' form has it: `\`, tab and newline escaped. */
function escapeText(value: string): string {
  return /[\\\t\n]/.test(value) ? value.replace(/[\\\t\n]/g, escapeChar) : value;
}

function escapeChar(c: string): string {
  return c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\\\';
}
