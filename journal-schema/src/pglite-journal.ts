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
  /**
   * Whether `dataDir` holds no database yet (the caller checked). A new database is
   * created from a template where one is kept, instead of by initdb. In memory it is
   * always new.
   */
  fresh?: boolean;
  /** Templates for new databases; in memory, this process keeps one by default. */
  templates?: PGliteTemplates | PGliteDirectoryTemplates;
}

/** A PGlite data directory dumped as a (gzipped) tarball: a `Blob` or `File`. */
export type DataDirDump = Awaited<ReturnType<import('@electric-sql/pglite').PGlite['dumpDataDir']>>;

/**
 * Where a dump of a database fresh from initdb is kept. Loading one (~1 s) replaces
 * running initdb (~4 s) for every journal created after the first. The dump holds
 * nothing of syncjournal's: migrations run on top of it, as on a new database.
 */
export interface PGliteTemplates {
  load(): Promise<DataDirDump | undefined>;
  save(dump: DataDirDump): Promise<void>;
  /** Forgets a template PGlite could not load, and empties the data dir it started filling. */
  discard(): Promise<void>;
}

/**
 * A template kept as a data directory, for a new journal in a directory (Node): copied
 * into the empty data directory before PGlite opens it (~0.3 s in all, where loading a
 * dump takes ~0.8 s). Like a dump, it holds nothing of syncjournal's.
 */
export interface PGliteDirectoryTemplates {
  /** Fills the (empty) data directory from the template; false when there is none. */
  copy(): Promise<boolean>;
  /** Keeps the data directory, fresh from initdb and shut down, as the template. */
  keep(): Promise<void>;
  /** Forgets a template that could not be copied or opened, and empties the data dir. */
  discard(): Promise<void>;
}

/** The template this process keeps for new in-memory journals. */
let inMemoryTemplate: DataDirDump | undefined;
const inMemoryTemplates: PGliteTemplates = {
  load: async () => inMemoryTemplate,
  save: async (dump) => {
    inMemoryTemplate = dump;
  },
  discard: async () => {
    inMemoryTemplate = undefined;
  },
};

/** Opens (creating if needed) a journal in embedded PGlite. */
export async function openPGliteJournal(options: PGliteJournalOptions): Promise<PostgresJournal> {
  // Imported lazily so that code using a PostgreSQL server never loads the WASM build.
  const { PGlite, types } = await import('@electric-sql/pglite');
  const dataDir = options.dataDir && options.dataDir !== 'memory://' ? options.dataDir : undefined;
  const templates =
    dataDir === undefined
      ? (options.templates ?? inMemoryTemplates)
      : options.fresh
        ? options.templates
        : undefined;
  const pglite = await createDatabase(PGlite, types.serializers, dataDir, templates);
  const db = new Kysely<JournalDatabase>({ dialect: new PGliteDialect({ pglite }) });
  try {
    return await openPostgresJournal(db, {
      ...options,
      location: options.location ?? options.dataDir ?? 'memory://',
      // PGlite has no autovacuum: the journal vacuums its own tables.
      upkeep: options.upkeep ?? true,
    });
  } catch (error) {
    await db.destroy().catch(() => {});
    await options.onClose?.();
    throw error;
  }
}

type PGliteClass = typeof import('@electric-sql/pglite').PGlite;
type PGliteOptions = NonNullable<Parameters<PGliteClass['create']>[1]>;

/** `jsonb` parameters this long (in UTF-16 units) go to PGlite as UTF-8 bytes. */
const LARGE_JSON = 4096;
const JSONB_OID = 3802;

type Serializers = typeof import('@electric-sql/pglite').types.serializers;

// A global in Node and every browser; this package's types have neither the DOM lib nor Node's.
declare const TextEncoder: new () => {
  encodeInto(text: string, into: Uint8Array): { read: number; written: number };
};

/**
 * PGlite's `jsonb` serialiser, but with large JSON text (the documents appends insert rows
 * from) handed over as UTF-8 bytes, which PGlite binds in Postgres' binary format for
 * `jsonb`: a version byte 1, then the text. Handed a string, PGlite's protocol writer
 * measures its UTF-8 length in JavaScript, twice, before encoding it: ~0.5 s of a
 * 100k-event append.
 */
function largeJsonAsBytes(defaults: Serializers): Serializers {
  const utf8 = new TextEncoder();
  const jsonb = defaults[JSONB_OID]!;
  const serialize = (value: unknown) => {
    if (typeof value !== 'string' || value.length < LARGE_JSON) return jsonb(value);
    const bytes = new Uint8Array(value.length * 3 + 1);
    bytes[0] = 1;
    const { written } = utf8.encodeInto(value, bytes.subarray(1));
    return bytes.subarray(0, written + 1);
  };
  // PGlite's types say a serialiser returns a string; its protocol writer binds a
  // Uint8Array as binary (as node-postgres does a Buffer).
  return { [JSONB_OID]: serialize } as unknown as Serializers;
}

/**
 * Postgres settings on top of PGlite's own. A 16 MiB buffer pool instead of Postgres'
 * 128 MiB: PGlite touches the whole pool as it opens, and a journal's reads are
 * sequential pages the OS caches anyway. Measured on 100k events (`bench/journal.mjs`):
 * ~100 MB less resident memory in every scenario, appends and verify as fast, a
 * rebuild ~7% slower; 8 MiB made rebuilds ~25% slower for ~25 MB more.
 */
const SETTINGS = ['shared_buffers=16MB'];

function startParams(PGlite: PGliteClass): string[] {
  return [...PGlite.defaultStartParams, ...SETTINGS.flatMap((setting) => ['-c', setting])];
}

/** {@link createDatabase} with a template kept as a data directory. */
async function fromDirectoryTemplate(
  PGlite: PGliteClass,
  dataDir: string | undefined,
  options: PGliteOptions,
  templates: PGliteDirectoryTemplates,
) {
  try {
    if (await templates.copy()) return await PGlite.create(dataDir, options);
  } catch {
    // Damaged (it failed its checks, or PGlite could not open the copy): forget it.
    await templates.discard();
  }
  const made = await PGlite.create(dataDir, options);
  // Shut down before it is kept, so the template is a cleanly stopped database.
  await made.close();
  await templates.keep().catch(() => {
    // Only a speed-up for the next new journal; this one is fine without it.
  });
  return PGlite.create(dataDir, options);
}

/** A PGlite database: from a template when there is one, else by initdb, keeping a template. */
async function createDatabase(
  PGlite: PGliteClass,
  serializers: Serializers,
  dataDir: string | undefined,
  templates: PGliteTemplates | PGliteDirectoryTemplates | undefined,
) {
  const options = { startParams: startParams(PGlite), serializers: largeJsonAsBytes(serializers) };
  if (!templates) return PGlite.create(dataDir, options);
  if ('copy' in templates) return fromDirectoryTemplate(PGlite, dataDir, options, templates);
  const template = await templates.load().catch(() => undefined);
  if (template) {
    try {
      return await PGlite.create(dataDir, { ...options, loadDataDir: template });
    } catch {
      // A damaged or foreign template: forget it and create the database the slow way.
      await templates.discard();
    }
  }
  const pglite = await PGlite.create(dataDir, options);
  try {
    await templates.save(await pglite.dumpDataDir('gzip'));
  } catch {
    // Only a speed-up for the next new journal; this one is fine without it.
  }
  return pglite;
}
