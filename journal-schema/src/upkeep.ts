import { type Kysely, sql } from 'kysely';
import type { JournalDatabase } from './tables.js';

/**
 * What autovacuum does on a PostgreSQL server, for PGlite, which has none: a table
 * that has changed a lot since it was last vacuumed is vacuumed and analyzed.
 *
 * Without it a PGlite journal never has planner statistics, so Postgres takes a
 * 100k-row projection for a few hundred rows and reads each page of it by sorting
 * every remaining row (on disk: ~180 MB of temp files per no-op sync at 100k files);
 * the first reads after a big sync also rewrite every page to set hint bits, and
 * rows that were updated or deleted are never reclaimed.
 *
 * The changes are counted in `journal_meta` in the same transaction as the appends
 * that made them, so a count survives the process and several small runs add up.
 */

/**
 * Whether a table wants vacuuming: never analyzed yet and not empty (a journal written
 * before this upkeep, or a table's first rows), or more rows changed since its last
 * vacuum than autovacuum's default threshold, 50 + 10% of its rows.
 */
function needsVacuum(table: { changes: number; rows: number; bytes: number }): boolean {
  if (table.rows < 0) return table.bytes > 0;
  return table.changes > 50 + 0.1 * table.rows;
}

const PREFIX = 'changes_since_vacuum.';

/** This append's changed rows per table, as additions to the counts (see `updateMeta`). */
export function changeCounts(changes: ReadonlyMap<string, number>): Record<string, number> {
  return Object.fromEntries([...changes].filter(([, n]) => n > 0).map(([t, n]) => [PREFIX + t, n]));
}

/**
 * Vacuums and analyzes each of `tables` that {@link needsVacuum}, then takes what it
 * counted off its count. Runs outside any transaction (VACUUM cannot run inside one).
 */
export async function vacuumChanged(
  db: Kysely<JournalDatabase>,
  tables: readonly string[],
): Promise<void> {
  const { rows } = await sql<{ name: string; changes: string | null; rows: number; bytes: string }>`
    select c.relname as name, m.value as changes, c.reltuples::float8 as rows,
           pg_relation_size(c.oid) as bytes
    from pg_class c
    left join journal_meta m on m.key = ${PREFIX} || c.relname
    where c.relnamespace = current_schema()::regnamespace and c.relkind = 'r'
      and c.relname in (select jsonb_array_elements_text(${JSON.stringify(tables)}::jsonb))`.execute(
    db,
  );
  for (const row of rows) {
    const changes = Number(row.changes ?? 0);
    if (!needsVacuum({ changes, rows: row.rows, bytes: Number(row.bytes) })) continue;
    await sql`vacuum (analyze) ${sql.table(row.name)}`.execute(db);
    // Less what was counted, not zero: an append may have counted more meanwhile.
    await sql`
      update journal_meta set value = (value::bigint - ${changes})::text
      where key = ${PREFIX + row.name}`.execute(db);
  }
}
