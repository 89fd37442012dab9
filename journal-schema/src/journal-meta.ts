import { sql, type Transaction } from 'kysely';
import type { JournalDatabase } from './tables.js';

/** What one append changes in `journal_meta`: counters added to, values replaced. */
export interface MetaUpdate {
  add: Record<string, number>;
  set: Record<string, string>;
}

/**
 * Applies `update` in one statement, inside the caller's transaction: an append that
 * changed tables counts its changes for the upkeep and moves the projections' stamps
 * together, rather than one upsert for each.
 */
export async function updateMeta(
  trx: Transaction<JournalDatabase>,
  update: MetaUpdate,
): Promise<void> {
  const add = JSON.stringify(update.add);
  const set = JSON.stringify(update.set);
  if (add === '{}' && set === '{}') return;
  await sql`
    insert into journal_meta (key, value)
    select key, value from jsonb_each_text(${add}::jsonb)
    union all
    select key, value from jsonb_each_text(${set}::jsonb)
    on conflict (key) do update
    set value = case
      when ${add}::jsonb ? excluded.key
      then (journal_meta.value::bigint + excluded.value::bigint)::text
      else excluded.value
    end`.execute(trx);
}
