import { Kysely, PGliteDialect } from 'kysely';
import {
  openPostgresJournal,
  type PostgresJournal,
  type PostgresJournalOptions,
} from './postgres-journal.js';
import type { JournalDatabase } from './tables.js';

/** Options for {@link openPGliteJournal}. */
export interface PGliteJournalOptions extends PostgresJournalOptions {
  /**
   * Where PGlite keeps its data: `memory://` (or nothing) for a journal that lives as
   * long as the process, a directory on Node, `idb://name` or `opfs-ahp://name` in a
   * browser. PGlite picks its filesystem from the scheme.
   *
   * One process per data directory: PGlite does not lock it, so the caller must (the
   * Node adapter's `openJournal` does).
   */
  dataDir?: string;
}

/** Opens (creating if needed) a journal in embedded PGlite. */
export async function openPGliteJournal(options: PGliteJournalOptions): Promise<PostgresJournal> {
  // Imported lazily so that code using a PostgreSQL server never loads the WASM build.
  const { PGlite } = await import('@electric-sql/pglite');
  const dataDir = options.dataDir && options.dataDir !== 'memory://' ? options.dataDir : undefined;
  const pglite = await PGlite.create(dataDir);
  const db = new Kysely<JournalDatabase>({ dialect: new PGliteDialect({ pglite }) });
  try {
    return await openPostgresJournal(db, {
      ...options,
      location: options.location ?? options.dataDir ?? 'memory://',
    });
  } catch (error) {
    await db.destroy().catch(() => {});
    await options.onClose?.();
    throw error;
  }
}
