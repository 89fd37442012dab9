import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Clock, type Hasher, JournalLockedError, SyncJournalError } from '@syncjournal/core';
import {
  type JournalDatabase,
  openPGliteJournal,
  openPostgresJournal,
  type PostgresJournal,
  type ProjectionCache,
} from '@syncjournal/journal-schema';
import { Kysely, PostgresDialect } from 'kysely';
import { cachedTemplates } from './journal-template.js';
import { nodeHasher } from './node-hasher.js';
import { LockHeldError, PidLock } from './pid-lock.js';
import { uniqueName } from './unique-name.js';

/** Options for {@link openJournal}. */
export interface OpenJournalOptions {
  hasher?: Hasher;
  clock?: Clock;
  /**
   * A data directory's lock (`<dir>.lock`) that the caller already holds, from
   * {@link lockJournalDir}: the journal opens under it and leaves it held when it
   * closes (a restore keeps it across closing, replacing and reopening the directory).
   */
  heldLock?: PidLock;
}

/**
 * Takes a data directory's lock for the caller to hold across several openings of the
 * journal (see {@link OpenJournalOptions.heldLock}); `JournalLockedError` while another
 * process has it. Release it when done.
 */
export async function lockJournalDir(dir: string, purpose: string): Promise<PidLock> {
  try {
    return await PidLock.acquire(`${dir}.lock`, purpose);
  } catch (error) {
    if (error instanceof LockHeldError) {
      throw new JournalLockedError({
        location: dir,
        holderPid: error.holder.pid,
        holderHost: error.holder.host,
        since: error.holder.since,
      });
    }
    throw error;
  }
}

/**
 * Opens a journal by location:
 * - `memory://` — PGlite in memory, gone when closed;
 * - `postgres://…` or `postgresql://…` — a PostgreSQL server, shared by many clients;
 * - `file:///dir` or a plain path — a PGlite data directory, created if missing and
 *   locked for this process (a second process gets `JournalLockedError`).
 */
export async function openJournal(
  location: string,
  options: OpenJournalOptions = {},
): Promise<PostgresJournal> {
  const hasher = options.hasher ?? nodeHasher;
  const base = { hasher, ...(options.clock ? { clock: options.clock } : {}) };
  if (location === 'memory://') return openPGliteJournal({ ...base, dataDir: 'memory://' });
  if (/^postgres(ql)?:\/\//.test(location)) return openServerJournal(location, base);
  const dir = location.startsWith('file://') ? fileURLToPath(location) : resolve(location);
  return openDataDirJournal(dir, base, options.heldLock);
}

async function openDataDirJournal(
  dir: string,
  options: { hasher: Hasher; clock?: Clock },
  heldLock: PidLock | undefined,
): Promise<PostgresJournal> {
  await mkdir(dirname(dir), { recursive: true });
  const lock = heldLock ?? (await lockJournalDir(dir, `The journal at ${dir}`));
  // Looked at under the lock: a journal being replaced (a restore deletes the old one,
  // file by file, before moving the new one in) is not mistaken for a foreign folder.
  try {
    await refuseForeignDirectory(dir);
  } catch (error) {
    if (!heldLock) await lock.release();
    throw error;
  }
  const fresh = await isFresh(dir);
  const projectionCache = folderProjectionCache(`${dir}.cache`);
  return openPGliteJournal({
    ...options,
    dataDir: dir,
    location: dir,
    fresh,
    ...(fresh ? { templates: cachedTemplates(dir) } : {}),
    ...(projectionCache ? { projectionCache } : {}),
    onClose: () => (heldLock ? undefined : lock.release()),
  });
}

/**
 * Copies of a data directory's manifest, listing and baseline in `<dir>.cache/`, one
 * file each per pair, so that a run after a run that changed nothing reads them from a
 * file instead of from PGlite (the journal checks each copy's stamp and digest before it
 * uses it; see ProjectionCache). Files are written aside and renamed, not flushed: a
 * copy lost or torn by a crash is only read from the journal again. Only this process
 * writes them, under the journal's lock. `SYNCJOURNAL_PROJECTION_CACHE=0` turns them off.
 */
export function folderProjectionCache(dir: string): ProjectionCache | undefined {
  if (process.env.SYNCJOURNAL_PROJECTION_CACHE === '0') return undefined;
  return {
    async read(name) {
      try {
        return await readFile(join(dir, name));
      } catch {
        return undefined;
      }
    },
    async write(name, chunks) {
      await mkdir(dir, { recursive: true });
      const temp = join(dir, `.${name}.${uniqueName()}`);
      try {
        await writeFile(temp, chunks, { flag: 'wx' });
        await rename(temp, join(dir, name));
      } catch (error) {
        await rm(temp, { force: true });
        throw error;
      }
    },
  };
}

/** True when `dir` holds no database yet: missing or empty (checked holding its lock). */
async function isFresh(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return true;
    throw error;
  }
}

/** A non-empty directory without PG_VERSION is not a journal; never initdb over it. */
async function refuseForeignDirectory(dir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return;
    if ((error as { code?: string }).code === 'ENOTDIR') entries = ['?'];
    else throw error;
  }
  if (entries.length === 0 || entries.includes('PG_VERSION')) return;
  const isFile = !(await stat(dir)).isDirectory();
  throw new SyncJournalError(
    'journal-not-a-journal',
    `${dir} ${isFile ? 'is a file' : 'holds files'} but is not a syncjournal journal. ` +
      'Nothing was changed. Point the journal at an empty or new directory.',
    { location: dir },
  );
}

async function openServerJournal(
  url: string,
  options: { hasher: Hasher; clock?: Clock },
): Promise<PostgresJournal> {
  // Imported lazily: only teams with a shared journal load the pg driver.
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({
    connectionString: url,
    max: 4,
    types: {
      // int8 fits a JS number for every value the journal stores (sizes, seq).
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === 20
          ? (value: string) => Number(value)
          : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // An idle connection the server drops (restart, admin kill) is replaced on next use;
  // without a listener, node-postgres would crash the process instead.
  pool.on('error', () => {});
  const db = new Kysely<JournalDatabase>({ dialect: new PostgresDialect({ pool }) });
  try {
    return await openPostgresJournal(db, { ...options, location: redact(url) });
  } catch (error) {
    await db.destroy().catch(() => {});
    throw error;
  }
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}
