import type { Hasher } from '@syncjournal/core';
import { type Kysely, sql, type Transaction } from 'kysely';
import { SCHEMA_VERSION } from './migrations.js';
import type { JournalDatabase } from './tables.js';

/**
 * Where a journal keeps copies of its per-path projections (manifest, listing,
 * baseline) between processes, so that a run that changed nothing reads each as one
 * file instead of asking Postgres for every row again. The Node adapter keeps them
 * in files beside a PGlite data directory (`<dir>.cache/`).
 *
 * A copy is only a copy. The journal uses one only while the table's stamp in
 * `journal_meta` is the one the copy was taken at; every append that changes the
 * table moves the stamp in its own transaction (see `0003_projection_stamps`). A copy
 * that is missing, damaged, from another journal or of another table is not used, and
 * a failed write only costs the next run a read from Postgres. Deleting the copies at
 * any time is safe.
 */
export interface ProjectionCache {
  /** The bytes stored under `name` (letters, digits and `-`), or undefined if none. */
  read(name: string): Promise<Uint8Array | undefined>;
  /**
   * Stores the bytes of `chunks`, in order, under `name`, replacing what was there; a
   * reader sees old or new. A copy comes in pieces (one per page of rows) so that
   * neither side has to hold it twice: a file is written piece by piece.
   */
  write(name: string, chunks: readonly Uint8Array[]): Promise<void>;
}

/** The projections that are read whole each run and are worth keeping copies of. */
export type CachedProjection = 'manifest' | 'listing' | 'baseline';
export const CACHED_PROJECTIONS: readonly CachedProjection[] = ['manifest', 'listing', 'baseline'];

const STAMP = 'projection_stamp.';
const FORMAT = 1;

/** The header line of a copy: what it is a copy of, and a digest of the rest. */
interface Header {
  format: number;
  schema: number;
  table: string;
  pairId: string;
  stamp: string;
  bytes: number;
  sha256: string;
}

/**
 * The stamps of the cached projections that `changes` touched, moved to `head`, the hash
 * of the append's last event (written inside the append's transaction, see `updateMeta`).
 * Head hashes never repeat along a chain, so two contents of a table never share a stamp.
 */
export function changedStamps(
  changes: ReadonlyMap<string, number>,
  head: string,
): Record<string, string> {
  return Object.fromEntries(touchedProjections(changes).map((t) => [STAMP + t, headStamp(head)]));
}

/** The cached projections that `changes` (rows written per table) touched. */
export function touchedProjections(changes: ReadonlyMap<string, number>): CachedProjection[] {
  return CACHED_PROJECTIONS.filter((t) => (changes.get(t) ?? 0) > 0);
}

/** The stamp an append whose last event hashes to `head` gives the tables it changed. */
export function headStamp(head: string): string {
  return `head:${head}`;
}

/** New stamps for every cached projection after a rebuild refolded them all. */
export async function rebuiltStamps(
  trx: Transaction<JournalDatabase>,
): Promise<Record<string, string>> {
  const { rows } = await sql<{ id: string }>`select gen_random_uuid()::text as id`.execute(trx);
  return Object.fromEntries(CACHED_PROJECTIONS.map((t) => [STAMP + t, `rebuilt:${rows[0]!.id}`]));
}

/** The table's stamp now, or undefined (a journal's stamps are made by its migration). */
export async function readStamp(
  db: Kysely<JournalDatabase>,
  table: CachedProjection,
): Promise<string | undefined> {
  return (await readStamps(db, [table])).get(table);
}

/** The stamps of `tables` now (in a transaction: as it sees them). */
export async function readStamps(
  db: Kysely<JournalDatabase>,
  tables: readonly CachedProjection[],
): Promise<Map<CachedProjection, string | undefined>> {
  if (tables.length === 0) return new Map();
  const rows = await db
    .selectFrom('journal_meta')
    .select(['key', 'value'])
    .where(
      'key',
      'in',
      tables.map((t) => STAMP + t),
    )
    .execute();
  const values = new Map(rows.map((r) => [r.key, r.value]));
  return new Map(tables.map((t) => [t, values.get(STAMP + t)]));
}

/** The name a copy of `table` for `pairId` is stored under. */
export function copyName(hasher: Hasher, table: CachedProjection, pairId: string): string {
  const h = hasher.create();
  h.update(pairId);
  return `${table}-${h.digest().slice(0, 32)}`;
}

// Globals in Node and in every browser; this package's type environment has neither the
// DOM lib nor Node's types (as core's), so it declares the little it uses. Native: a copy
// is ~20 MB at 100k rows, too much for core's UTF-8 in JavaScript.
declare const TextEncoder: new () => { encode(text: string): Uint8Array };
declare const TextDecoder: new () => { decode(data: Uint8Array): string };
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const NEWLINE = encoder.encode('\n');

/**
 * A copy as pieces of bytes: a JSON header line, then `pages` (as `readPages` reads them)
 * in UTF-8 with a newline between each. Each page is encoded on its own, so the rows are
 * never joined into one string nor copied into one buffer (at 100k rows each would be
 * ~20 MB more to build and collect). The digest is of the body's bytes: hashing bytes runs
 * at the hasher's full speed, where a string would be converted first.
 */
export function encodeCopy(
  hasher: Hasher,
  what: { table: CachedProjection; pairId: string; stamp: string },
  pages: readonly string[],
): Uint8Array[] {
  const body: Uint8Array[] = [];
  const h = hasher.create();
  let bytes = 0;
  for (const page of pages) {
    if (body.length > 0) body.push(NEWLINE);
    body.push(encoder.encode(page));
  }
  for (const piece of body) {
    h.update(piece);
    bytes += piece.length;
  }
  const header: Header = {
    format: FORMAT,
    schema: SCHEMA_VERSION,
    ...what,
    bytes,
    sha256: h.digest(),
  };
  return [encoder.encode(`${JSON.stringify(header)}\n`), ...body];
}

/** The body of a copy if it is whole and is of `what`; undefined for anything else. */
export function decodeCopy(
  hasher: Hasher,
  what: { table: CachedProjection; pairId: string; stamp: string },
  data: Uint8Array,
): string | undefined {
  const end = data.indexOf(0x0a);
  if (end < 0) return undefined;
  let header: Partial<Header>;
  try {
    header = JSON.parse(decoder.decode(data.subarray(0, end)));
  } catch {
    return undefined;
  }
  const body = data.subarray(end + 1);
  if (
    header?.format !== FORMAT ||
    header.schema !== SCHEMA_VERSION ||
    header.table !== what.table ||
    header.pairId !== what.pairId ||
    header.stamp !== what.stamp ||
    header.bytes !== body.length ||
    sha(hasher, body) !== header.sha256
  ) {
    return undefined;
  }
  return decoder.decode(body);
}

function sha(hasher: Hasher, data: Uint8Array): string {
  const h = hasher.create();
  h.update(data);
  return h.digest();
}
