import {
  type AppendResult,
  ChainVerifier,
  type Clock,
  comparePaths,
  type EventFilter,
  type Hasher,
  InvalidEventError,
  type Journal,
  JournalClosedError,
  type JournalEvent,
  type JournalEventInput,
  JournalTooNewError,
  PROJECTION_KEYS,
  PROJECTION_TABLES,
  type PreparedEvent,
  ProjectionBatch,
  type ProjectionRows,
  type ProjectionTable,
  prepareEvent,
  type RebuildResult,
  type RowKey,
  type RunRow,
  type RunStartedPayload,
  systemClock,
  type VerifyResult,
} from '@syncjournal/core';
import { type Kysely, type RawBuilder, sql, type Transaction } from 'kysely';
import { Migrator } from 'kysely/migration';
import { HeldProjections } from './held-projections.js';
import { updateMeta } from './journal-meta.js';
import {
  MIGRATION_LOCK_TABLE,
  MIGRATION_TABLE,
  migrationProvider,
  migrations,
  SCHEMA_VERSION,
  VIEW_PROJECTIONS,
} from './migrations.js';
import {
  type CachedProjection,
  changedStamps,
  copyName,
  decodeCopy,
  encodeCopy,
  headStamp,
  type ProjectionCache,
  readStamp,
  readStamps,
  rebuiltStamps,
  touchedProjections,
} from './projection-cache.js';
import {
  columnName,
  fromSql,
  type JournalDatabase,
  PROJECTION_COLUMNS,
  rowFromSql,
  type SqlType,
} from './tables.js';
import { changeCounts, vacuumChanged } from './upkeep.js';

/** How to build a {@link PostgresJournal}. */
export interface PostgresJournalOptions {
  /** SHA-256 for the hash chain. */
  hasher: Hasher;
  /** Fills `at` for events that come without one; the wall clock by default. */
  clock?: Clock;
  /** Where the journal lives, for messages (a path or URL without credentials). */
  location?: string;
  /** Runs after the database is closed, e.g. to release a data-dir lock. */
  onClose?: () => Promise<void> | void;
  /**
   * Vacuum and analyze projection tables that changed a lot, after each completed run
   * and rebuild, as autovacuum does on a server (see upkeep.ts). On for PGlite, which
   * has no autovacuum; off by default, for a server, whose autovacuum does it.
   */
  upkeep?: boolean;
  /**
   * Keeps copies of the manifest, listing and baseline between processes, used while
   * their stamps say they are current (see projection-cache.ts). None by default.
   */
  projectionCache?: ProjectionCache;
}

type Db = Kysely<JournalDatabase>;
type Tx = Transaction<JournalDatabase>;

/** Rows per bulk statement: one JSON parameter each, far below any size limit. */
const CHUNK = 5000;
/** Rows per page when reading a per-path projection (one JSON document each). */
const PATH_PAGE = 20_000;
/** Events per page when walking the whole log. */
const PAGE = 10000;

/**
 * Opens the journal on a Kysely instance over PGlite or a PostgreSQL server:
 * refuses a journal written by a newer version (changing nothing), then brings
 * the schema up to date.
 */
export async function openPostgresJournal(
  db: Db,
  options: PostgresJournalOptions,
): Promise<PostgresJournal> {
  const applied = await refuseNewerSchema(db);
  // The common case, reopening an up-to-date journal, skips the migrator's round trips.
  if (Object.keys(migrations).every((name) => applied.has(name))) {
    return new PostgresJournal(db, options);
  }
  const migrator = new Migrator({
    db,
    provider: migrationProvider,
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
  });
  const { error } = await migrator.migrateToLatest();
  if (error) throw error;
  return new PostgresJournal(db, options);
}

/** Throws if a newer version wrote the journal; returns the migrations already applied. */
async function refuseNewerSchema(db: Db): Promise<Set<string>> {
  const { rows } = await sql<{ meta: string | null; migration: string | null }>`
    select to_regclass('journal_meta')::text as meta,
           to_regclass(${MIGRATION_TABLE})::text as migration`.execute(db);
  const found = rows[0];
  if (!found?.meta) return new Set();
  const version = await sql<{ value: string }>`
    select value from journal_meta where key = 'schema_version'`.execute(db);
  const names = found.migration
    ? (await sql<{ name: string }>`select name from ${sql.table(MIGRATION_TABLE)}`.execute(db)).rows
    : [];
  const unknownMigrations = names.map((r) => r.name).filter((n) => !(n in migrations));
  const schemaVersion = Number(version.rows[0]?.value ?? 0);
  if (schemaVersion > SCHEMA_VERSION || unknownMigrations.length > 0) {
    throw new JournalTooNewError({
      found: schemaVersion,
      supported: SCHEMA_VERSION,
      unknownMigrations,
    });
  }
  return new Set(names.map((r) => r.name));
}

/**
 * The {@link Journal} on Postgres (PGlite or a server). Appends and their projection
 * changes share one transaction; the head row serialises appenders.
 */
export class PostgresJournal implements Journal {
  /** The Kysely instance, for audits and ad-hoc SQL. Do not write events through it. */
  readonly db: Db;
  /** Where the journal lives (a path, `memory://`, or a URL without its password). */
  readonly location: string;
  readonly #hasher: Hasher;
  readonly #clock: Clock;
  /** Whether this journal vacuums its own tables ({@link PostgresJournalOptions.upkeep}). */
  readonly upkeep: boolean;
  readonly #onClose: (() => Promise<void> | void) | undefined;
  readonly #cache: ProjectionCache | undefined;
  /** The manifest, listing and baseline rows last read, brought forward by appends. */
  readonly #held = new HeldProjections();
  #closed = false;

  constructor(db: Db, options: PostgresJournalOptions) {
    this.db = db;
    this.location = options.location ?? 'unknown';
    this.#hasher = options.hasher;
    this.#clock = options.clock ?? systemClock;
    this.#onClose = options.onClose;
    this.upkeep = options.upkeep ?? false;
    this.#cache = options.projectionCache;
  }

  async startRun(start: Omit<RunStartedPayload, 'run'>, at?: string): Promise<number> {
    const db = this.#open();
    const committed: Array<() => void> = [];
    const run = await db.transaction().execute(async (trx) => {
      await lockHead(trx);
      const { rows } = await sql<{ last: number | string | null }>`
        select max(run) as last from events`.execute(trx);
      const run = Number(rows[0]?.last ?? 0) + 1;
      const payload: RunStartedPayload = { ...start, run };
      const event = { kind: 'run.started' as const, run, payload, ...(at ? { at } : {}) };
      await this.#appendIn(trx, [event], committed);
      return run;
    });
    for (const step of committed) step();
    return run;
  }

  async append(events: readonly JournalEventInput[]): Promise<AppendResult> {
    const db = this.#open();
    for (const e of events) {
      if (e.kind === 'run.started') {
        throw new InvalidEventError(
          'run.started is appended by startRun(), which allocates the run',
        );
      }
    }
    const committed: Array<() => void> = [];
    const result = await db.transaction().execute((trx) => this.#appendIn(trx, events, committed));
    for (const step of committed) step();
    if (events.some((e) => e.kind === 'run.completed')) await this.#tidy();
    return result;
  }

  /**
   * Appends `inputs` in `trx`, pushing onto `committed` what must happen once `trx` has
   * committed (bringing held projection rows forward), and only then.
   */
  async #appendIn(
    trx: Tx,
    inputs: readonly JournalEventInput[],
    committed: Array<() => void>,
  ): Promise<AppendResult> {
    const head = await lockHead(trx);
    let seq = head.seq;
    let prevHash = head.hash;
    const prepared = inputs.map((input) => {
      seq++;
      const p = prepareEvent(input, seq, prevHash, { hasher: this.#hasher, clock: this.#clock });
      prevHash = p.event.hash;
      return p;
    });
    if (prepared.length === 0)
      return { firstSeq: head.seq + 1, lastSeq: head.seq, head: head.hash };

    const known = await loadRuns(trx, [...new Set(prepared.map((p) => p.event.run))]);
    const batch = new ProjectionBatch((run) => known.get(run));
    for (const { event } of prepared) batch.add(event);

    await insertEvents(trx, prepared);
    const changes = await writeBatch(trx, batch);
    const held = this.#held.tables();
    const touched = touchedProjections(changes).filter((t) => held.has(t));
    if (touched.length > 0) {
      // The stamps as this append found them, under the head lock, before it moves them.
      const before = await readStamps(trx, touched);
      const after = new Map(touched.map((t) => [t, headStamp(prevHash)]));
      committed.push(this.#held.prepare(batch, before, after));
    }
    await updateMeta(trx, {
      add: this.upkeep ? changeCounts(changes) : {},
      set: changedStamps(changes, prevHash),
    });
    await trx.updateTable('journal_head').set({ seq, hash: prevHash }).execute();
    return { firstSeq: head.seq + 1, lastSeq: seq, head: prevHash };
  }

  manifest(pairId: string) {
    return this.#readPaths('manifest', pairId);
  }

  listing(pairId: string) {
    return this.#readPaths('listing', pairId);
  }

  baseline(pairId: string) {
    return this.#readPaths('baseline', pairId);
  }

  async tombstones(pairId: string, path?: string) {
    let query = this.#open().selectFrom('tombstones').selectAll().where('pair_id', '=', pairId);
    if (path !== undefined) query = query.where('path', '=', path);
    const rows = await query.orderBy('seq').execute();
    return rows.map((r) => rowFromSql('tombstones', r));
  }

  async conflicts(pairId: string, status?: 'open' | 'resolved') {
    let query = this.#open().selectFrom('conflicts').selectAll().where('pair_id', '=', pairId);
    if (status) query = query.where('status', '=', status);
    const rows = await query.orderBy('id').execute();
    return rows.map((r) => rowFromSql('conflicts', r));
  }

  async runs(filter: { pairId?: string; clientId?: string; limit?: number } = {}) {
    let query = this.#open().selectFrom('runs').selectAll();
    if (filter.pairId !== undefined) query = query.where('pair_id', '=', filter.pairId);
    if (filter.clientId !== undefined) query = query.where('client_id', '=', filter.clientId);
    query = query.orderBy('run', 'desc');
    if (filter.limit !== undefined) query = query.limit(filter.limit);
    return (await query.execute()).map((r) => rowFromSql('runs', r));
  }

  async report(run: number) {
    const row = await this.#open()
      .selectFrom('reports')
      .selectAll()
      .where('run', '=', run)
      .executeTakeFirst();
    return row ? rowFromSql('reports', row) : undefined;
  }

  async events(filter: EventFilter = {}): Promise<JournalEvent[]> {
    let query = this.#open()
      .selectFrom('events')
      .select(['seq', 'run', 'at', 'kind', 'path', 'payload'])
      .select([
        sql<string>`encode(prev_hash, 'hex')`.as('prev_hash'),
        sql<string>`encode(hash, 'hex')`.as('hash'),
      ]);
    if (filter.run !== undefined) query = query.where('run', '=', filter.run);
    if (filter.path !== undefined) query = query.where('path', '=', filter.path);
    if (filter.pairId !== undefined) {
      const pairId = filter.pairId;
      query = query.where('run', 'in', (qb) =>
        qb.selectFrom('runs').select('run').where('pair_id', '=', pairId),
      );
    }
    if (filter.kinds) query = query.where('kind', 'in', [...filter.kinds]);
    if (filter.afterSeq !== undefined) query = query.where('seq', '>', filter.afterSeq);
    query = query.orderBy('seq');
    if (filter.limit !== undefined) query = query.limit(filter.limit);
    return (await query.execute()).map(eventFromSql);
  }

  async verify(): Promise<VerifyResult> {
    const db = this.#open();
    // The head first, then the chain up to it: events another client appends meanwhile
    // (a shared journal) come after the head read and are not part of this check.
    const head = await db
      .selectFrom('journal_head')
      .select(['seq', 'hash'])
      .executeTakeFirstOrThrow();
    const through = Number(head.seq);
    const verifier = new ChainVerifier(this.#hasher);
    await forEachEventPage(
      db,
      (page) => {
        for (const event of page) verifier.push(event);
        return verifier.ok;
      },
      through,
    );
    const verdict = verifier.finish({ seq: through, hash: head.hash });
    if (!verdict.ok) return verdict;
    // Rows the chain walk cannot see and reads would show: numbered below 1 (the walk
    // starts after 0), or past the head that no append accounts for (an append moves the
    // head in the same transaction as its rows, so one statement sees both or neither).
    const { rows } = await sql<{ head: string; first: string | null; last: string | null }>`
      select (select seq from journal_head) as head,
             (select min(seq) from events) as first, (select max(seq) from events) as last
    `.execute(db);
    const now = rows[0]!;
    if (now.first !== null && Number(now.first) < 1) {
      return {
        ok: false,
        events: verdict.events,
        firstBad: {
          seq: Number(now.first),
          reason: 'bad-seq',
          detail: `event ${now.first} is numbered below 1: the journal never appended it`,
        },
      };
    }
    if (now.last !== null && Number(now.last) > Number(now.head)) {
      return {
        ok: false,
        events: verdict.events,
        firstBad: {
          seq: Number(now.head) + 1,
          reason: 'head-mismatch',
          detail: `events run to ${now.last} but the journal head is event ${now.head}: events were added outside the journal`,
        },
      };
    }
    return verdict;
  }

  async rebuild(): Promise<RebuildResult> {
    const db = this.#open();
    const result = await db.transaction().execute(async (trx) => {
      await lockHead(trx);
      const before = await digestTables(trx);
      // TRUNCATE, not DELETE: rows deleted leave dead tuples that nothing vacuums in
      // PGlite, and each rebuild then read a larger table than the last (4.9 s, 5.9 s,
      // 6.9 s for three rebuilds of 100k events). It is transactional, like the rest.
      await sql`truncate table ${sql.join(STORED_PROJECTIONS.map((t) => sql.table(t)))}`.execute(
        trx,
      );
      const batch = new ProjectionBatch();
      let events = 0;
      await forEachEventPage(trx, (page) => {
        for (const event of page) batch.add(event);
        events += page.length;
        return true;
      });
      const changes = await writeBatch(trx, batch);
      await updateMeta(trx, {
        add: this.upkeep ? changeCounts(changes) : {},
        set: await rebuiltStamps(trx),
      });
      const after = await digestTables(trx);
      const tables = {} as RebuildResult['tables'];
      for (const table of PROJECTION_TABLES) {
        const b = before[table];
        const a = after[table];
        tables[table] = { rowsBefore: b.rows, rowsAfter: a.rows, matched: b.digest === a.digest };
      }
      return { events, matched: Object.values(tables).every((t) => t.matched), tables };
    });
    this.#held.clear();
    await this.#tidy();
    return result;
  }

  /**
   * Vacuums the projection tables that changed a lot (when {@link upkeep} is on).
   * Best effort: the events it follows are committed, so a failure here must not fail
   * the append or rebuild; the counts stay and the next completed run tries again.
   */
  async #tidy(): Promise<void> {
    if (!this.upkeep) return;
    try {
      await vacuumChanged(this.#open(), STORED_PROJECTIONS);
    } catch {
      // Only planner statistics and free space are at stake, never an event or a row.
    }
  }

  /** Every projection row, sorted by key: for audits and for comparing journals. */
  async dump(): Promise<{ [T in ProjectionTable]: ProjectionRows[T][] }> {
    const db = this.#open();
    const out = {} as { [T in ProjectionTable]: ProjectionRows[T][] };
    for (const table of PROJECTION_TABLES) {
      const { rows } = await sql<Record<string, unknown>>`
        select * from ${sql.table(table)} order by ${keyOrder(table)}`.execute(db);
      (out as Record<string, unknown[]>)[table] = rows.map((r) => rowFromSql(table, r));
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#saveHeld();
      await this.db.destroy();
    } finally {
      await this.#onClose?.();
    }
  }

  /**
   * Every row of a per-path projection for a pair, in path order: from the rows this
   * object holds while the table's stamp is theirs, else from the
   * {@link PostgresJournalOptions.projectionCache} while its copy is current, else from
   * Postgres, leaving a copy for the next run. The rows returned are frozen.
   */
  async #readPaths<T extends CachedProjection>(
    table: T,
    pairId: string,
  ): Promise<ProjectionRows[T][]> {
    const db = this.#open();
    const columns = pathColumns(table);
    const stamp = await readStamp(db, table);
    if (stamp === undefined) {
      return parseRows<T>(await readPages(db, table, pairId, columns), columns, pairId);
    }
    const held = this.#held.get(table, pairId, stamp);
    if (held) return held;
    const cache = this.#cache;
    const what = { table, pairId, stamp };
    if (cache) {
      const data = await cache.read(copyName(this.#hasher, table, pairId)).catch(() => undefined);
      const body = data === undefined ? undefined : decodeCopy(this.#hasher, what, data);
      if (body !== undefined) {
        const rows = parseRows<T>(body === '' ? [] : [body], columns, pairId);
        return this.#held.hold(table, pairId, stamp, rows, true);
      }
    }
    const { pages, settled } = await readPagesAt(db, table, pairId, stamp);
    const rows = parseRows<T>(pages, columns, pairId);
    if (!settled) return rows;
    const saved = cache
      ? await this.#writeCopy(cache, what, pages).then(
          () => true,
          () => false,
        )
      : true;
    return this.#held.hold(table, pairId, stamp, rows, saved);
  }

  /**
   * Leaves copies of the held rows that appends brought forward, for the next process;
   * those whose table has moved on since are not written. Rows let go at the change limit
   * (a first sync, say) are copied from their tables instead, which costs this close what
   * it saves the next run. Best effort, as every copy.
   */
  async #saveHeld(): Promise<void> {
    const cache = this.#cache;
    if (!cache) return;
    try {
      for (const held of this.#held.unsaved()) {
        if ((await readStamp(this.db, held.table)) !== held.stamp) continue;
        const { table, pairId, stamp } = held;
        await this.#writeCopy(cache, { table, pairId, stamp }, held.pages());
        held.saved();
      }
      for (const { table, pairId } of this.#held.takeLetGo()) {
        const stamp = await readStamp(this.db, table);
        if (stamp === undefined) continue;
        const { pages, settled } = await readPagesAt(this.db, table, pairId, stamp);
        if (settled) await this.#writeCopy(cache, { table, pairId, stamp }, pages);
      }
    } catch {
      // The next run reads the tables instead.
    }
  }

  /** Writes the copy of `what.table`'s rows of `what.pairId`, as `pages` hold them at `what.stamp`. */
  #writeCopy(
    cache: ProjectionCache,
    what: { table: CachedProjection; pairId: string; stamp: string },
    pages: readonly string[],
  ): Promise<void> {
    const name = copyName(this.#hasher, what.table, what.pairId);
    return cache.write(name, encodeCopy(this.#hasher, what, pages));
  }

  #open(): Db {
    if (this.#closed) throw new JournalClosedError();
    return this.db;
  }
}

async function lockHead(trx: Tx): Promise<{ seq: number; hash: string }> {
  const { rows } = await sql<{ seq: number | string; hash: string }>`
    select seq, hash from journal_head for update`.execute(trx);
  const head = rows[0];
  if (!head) throw new Error('journal_head is missing: the journal schema is damaged');
  return { seq: Number(head.seq), hash: head.hash };
}

async function loadRuns(trx: Tx, runs: number[]): Promise<Map<number, RunRow>> {
  const { rows } = await sql<Record<string, unknown>>`
    select * from runs
    where run in (select value::int from jsonb_array_elements_text(${JSON.stringify(runs)}::jsonb))`.execute(
    trx,
  );
  return new Map(rows.map((r) => [Number(r.run), rowFromSql('runs', r)]));
}

function eventFromSql(row: Record<string, unknown>): JournalEvent {
  return {
    seq: Number(row.seq),
    run: Number(row.run),
    at: fromSql('timestamptz', row.at) as string,
    kind: row.kind,
    path: (row.path as string | null) ?? null,
    payload: fromSql('jsonb', row.payload),
    prevHash: row.prev_hash,
    hash: row.hash,
  } as JournalEvent;
}

/** Calls `visit` with each page of events in seq order until it returns false. */
async function forEachEventPage(
  db: Kysely<JournalDatabase>,
  visit: (page: JournalEvent[]) => boolean,
  through?: number,
): Promise<void> {
  let after = 0;
  for (;;) {
    const page = await readEventPage(db, after, PAGE, through);
    if (page.length === 0) return;
    if (!visit(page) || page.length < PAGE) return;
    after = page[page.length - 1]!.seq;
  }
}

/**
 * Events after `after`, as one JSON document: for bulk reads this is several times
 * faster than row-by-row results, on PGlite most of all.
 */
async function readEventPage(
  db: Kysely<JournalDatabase>,
  after: number,
  limit: number,
  through = Number.MAX_SAFE_INTEGER,
): Promise<JournalEvent[]> {
  const { rows } = await sql<{ page: string | null }>`
    select json_agg(json_build_object(
             'seq', seq, 'run', run, 'at', at, 'kind', kind, 'path', path,
             'payload', payload, 'prevHash', encode(prev_hash, 'hex'),
             'hash', encode(hash, 'hex')) order by seq)::text as page
    from (select * from events where seq > ${after} and seq <= ${through}
          order by seq limit ${limit}) e`.execute(db);
  const page = rows[0]?.page;
  if (!page) return [];
  const events = JSON.parse(page) as JournalEvent[];
  for (const e of events) e.at = new Date(e.at).toISOString();
  return events;
}

async function insertEvents(trx: Tx, prepared: PreparedEvent[]): Promise<void> {
  for (let i = 0; i < prepared.length; i += CHUNK) {
    // Built by hand so each payload is serialised once, for the hash and for storage.
    const json = `[${prepared
      .slice(i, i + CHUNK)
      .map(
        ({ event: e, payloadText }) =>
          `{"seq":${e.seq},"run":${e.run},"at":"${e.at}","kind":${JSON.stringify(e.kind)},"path":${
            e.path === null ? 'null' : JSON.stringify(e.path)
          },"payload":${payloadText},"prev_hash":"${e.prevHash}","hash":"${e.hash}"}`,
      )
      .join(',')}]`;
    await sql`
      insert into events (seq, run, at, kind, path, payload, prev_hash, hash)
      select seq, run, at, kind, path, payload, decode(prev_hash, 'hex'), decode(hash, 'hex')
      from jsonb_to_recordset(${json}::jsonb) as x(
        seq bigint, run integer, at timestamptz, kind text, path text,
        payload jsonb, prev_hash text, hash text)`.execute(trx);
  }
}

/** The projections stored as tables (the others are views over the events). */
const STORED_PROJECTIONS = PROJECTION_TABLES.filter((t) => !VIEW_PROJECTIONS.has(t));

/**
 * Applies a batch's net effect: bulk deletes, bulk upserts, then patches (views follow
 * the events). Returns how many rows of each table it wrote.
 */
async function writeBatch(trx: Tx, batch: ProjectionBatch): Promise<Map<string, number>> {
  const changes = new Map<string, number>();
  for (const table of STORED_PROJECTIONS) {
    const deletes = batch.deletes(table);
    const puts = batch.puts(table) as object[];
    const patches = batch.patches(table);
    await deleteRows(trx, table, deletes);
    await upsertRows(trx, table, puts);
    for (const patch of patches) await patchRow(trx, table, patch.key, patch.set);
    changes.set(table, deletes.length + puts.length + patches.length);
  }
  return changes;
}

/** The columns a per-path projection's copy and page reads hold: all but the pair id. */
function pathColumns(table: CachedProjection): [field: string, type: SqlType][] {
  return columnsOf(table).filter(([field]) => field !== 'pairId');
}

function columnsOf(table: ProjectionTable): [field: string, type: SqlType][] {
  return Object.entries(PROJECTION_COLUMNS[table]) as [string, SqlType][];
}

/** A row as Postgres columns, for jsonb_to_recordset: `names` pairs fields with columns. */
function toSqlJson(names: readonly [field: string, column: string][], row: object) {
  const out: Record<string, unknown> = {};
  const values = row as Record<string, unknown>;
  for (const [field, column] of names) out[column] = values[field] ?? null;
  return out;
}

function recordsetDefinition(columns: [string, SqlType][]): RawBuilder<unknown> {
  return sql.raw(columns.map(([f, type]) => `${columnName(f)} ${type}`).join(', '));
}

async function upsertRows(trx: Tx, table: ProjectionTable, rows: object[]): Promise<void> {
  if (rows.length === 0) return;
  const columns = columnsOf(table);
  const pairs = columns.map(([f]) => [f, columnName(f)] as [string, string]);
  const keys = PROJECTION_KEYS[table].map((k) => columnName(k));
  const names = sql.raw(pairs.map(([, c]) => c).join(', '));
  const updates = pairs
    .map(([, c]) => c)
    .filter((c) => !keys.includes(c))
    .map((c) => `${c} = excluded.${c}`)
    .join(', ');
  for (let i = 0; i < rows.length; i += CHUNK) {
    const json = JSON.stringify(rows.slice(i, i + CHUNK).map((r) => toSqlJson(pairs, r)));
    await sql`
      insert into ${sql.table(table)} (${names})
      select ${names} from jsonb_to_recordset(${json}::jsonb) as x(${recordsetDefinition(columns)})
      on conflict (${sql.raw(keys.join(', '))}) do update set ${sql.raw(updates)}`.execute(trx);
  }
}

async function deleteRows(trx: Tx, table: ProjectionTable, keys: RowKey[]): Promise<void> {
  if (keys.length === 0) return;
  const fields = PROJECTION_KEYS[table] as readonly string[];
  const types = PROJECTION_COLUMNS[table] as Record<string, SqlType>;
  const definition = recordsetDefinition(fields.map((f) => [f, types[f]!]));
  const match = sql.raw(fields.map((f) => `t.${columnName(f)} = x.${columnName(f)}`).join(' and '));
  for (let i = 0; i < keys.length; i += CHUNK) {
    const json = JSON.stringify(
      keys
        .slice(i, i + CHUNK)
        .map((key) => Object.fromEntries(fields.map((f, j) => [columnName(f), key[j]]))),
    );
    await sql`
      delete from ${sql.table(table)} as t
      using jsonb_to_recordset(${json}::jsonb) as x(${definition})
      where ${match}`.execute(trx);
  }
}

async function patchRow(trx: Tx, table: ProjectionTable, key: RowKey, set: object): Promise<void> {
  const types = PROJECTION_COLUMNS[table] as Record<string, SqlType>;
  const assignments = Object.entries(set).map(([field, value]) => {
    const type = types[field];
    if (!type) throw new Error(`${table} has no column for "${field}"`);
    const param = type === 'jsonb' && value !== null ? JSON.stringify(value) : (value ?? null);
    return sql`${sql.ref(columnName(field))} = ${param}::${sql.raw(type)}`;
  });
  const fields = PROJECTION_KEYS[table] as readonly string[];
  const where = fields.map(
    (f, i) => sql`${sql.ref(columnName(f))} = ${key[i]}::${sql.raw(types[f]!)}`,
  );
  await sql`update ${sql.table(table)} set ${sql.join(assignments)} where ${sql.join(where, sql` and `)}`.execute(
    trx,
  );
}

function keyOrder(table: ProjectionTable): RawBuilder<unknown> {
  return sql.raw(PROJECTION_KEYS[table].map((k) => columnName(k)).join(', '));
}

async function digestTables(
  trx: Tx,
): Promise<Record<ProjectionTable, { rows: number; digest: string }>> {
  const out = {} as Record<ProjectionTable, { rows: number; digest: string }>;
  for (const table of PROJECTION_TABLES) {
    const { rows } = await sql<{ rows: number; digest: string }>`
      select count(*)::int as rows,
             md5(coalesce(string_agg(t::text, E'\\n' order by ${keyOrder(table)}), '')) as digest
      from ${sql.table(table)} as t`.execute(trx);
    out[table] = rows[0]!;
  }
  return out;
}

/**
 * A per-path projection's rows for a pair as text, one document per page of
 * {@link PATH_PAGE} rows, a line per row and a tab between fields (COPY's text format):
 * for 100k rows several times faster than row-by-row results or JSON, whose building
 * and decoding dominate on PGlite. The pair's id is not read back: every row has it.
 */
async function readPages(
  db: Db,
  table: CachedProjection,
  pairId: string,
  columns: ReadonlyArray<readonly [string, SqlType]>,
): Promise<string[]> {
  const fields = sql.join(columns.map(([field, type]) => textField(columnName(field), type)));
  const pathIndex = columns.findIndex(([field]) => field === 'path');
  const pages: string[] = [];
  for (let after: string | undefined; ; ) {
    const { rows } = await sql<{ page: string | null }>`
      select string_agg(concat_ws(E'\\t', ${fields}), E'\\n' order by path) as page
      from (select * from ${sql.table(table)}
            where pair_id = ${pairId} ${after === undefined ? sql`` : sql`and path > ${after}`}
            order by path limit ${PATH_PAGE}) p`.execute(db);
    const page = rows[0]?.page;
    if (page == null) break;
    pages.push(page);
    if (newlines(page) + 1 < PATH_PAGE) break;
    const last = page.slice(page.lastIndexOf('\n') + 1);
    after = fromText('text', last.split('\t')[pathIndex]!) as string;
  }
  return pages;
}

/**
 * {@link readPages} of a table read at `stamp`, and whether they are all of that state:
 * stamps never repeat, so a stamp unchanged after the read means no append changed the
 * table meanwhile (only then may the pages be kept as a copy or held).
 */
async function readPagesAt(
  db: Db,
  table: CachedProjection,
  pairId: string,
  stamp: string,
): Promise<{ pages: string[]; settled: boolean }> {
  const pages = await readPages(db, table, pairId, pathColumns(table));
  return { pages, settled: (await readStamp(db, table)) === stamp };
}

function newlines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/**
 * The rows of pages that {@link readPages} read, in path order. Fields are cut out with
 * `indexOf` rather than `split`: at 100k rows the arrays of lines and of fields that
 * splitting builds cost as much again as the rows themselves, mostly in collecting them.
 */
function parseRows<T extends CachedProjection>(
  pages: readonly string[],
  columns: ReadonlyArray<readonly [string, SqlType]>,
  pairId: string,
): ProjectionRows[T][] {
  const result: ProjectionRows[T][] = [];
  const fields = columns.map(([field]) => field);
  const types = columns.map(([, type]) => type);
  const last = columns.length - 1;
  for (const page of pages) {
    for (let at = 0; at <= page.length; ) {
      const row: Record<string, unknown> = { pairId };
      for (let i = 0; i <= last; i++) {
        let end = page.indexOf(i === last ? '\n' : '\t', at);
        if (end < 0) end = page.length;
        row[fields[i]!] = fromText(types[i]!, page.slice(at, end));
        at = end + 1;
      }
      result.push(row as unknown as ProjectionRows[T]);
    }
  }
  // The "C" collation is byte order, which is comparePaths' order; assert rather than trust.
  for (let i = 1; i < result.length; i++) {
    if (comparePaths(result[i - 1]!.path, result[i]!.path) >= 0) {
      result.sort((a, b) => comparePaths(a.path, b.path));
      break;
    }
  }
  return result;
}

/**
 * A column as text for {@link readPages}: NULL as `\N`, and in text
 * backslash, tab and newline escaped as COPY does, so fields and rows split cleanly.
 */
function textField(column: string, type: SqlType): RawBuilder<unknown> {
  const ref = sql.ref(column);
  if (type === 'text') {
    return sql`coalesce(replace(replace(replace(${ref}, '\\', '\\\\'), E'\\t', '\\t'), E'\\n', '\\n'), '\\N')`;
  }
  return sql`coalesce(${ref}::text, '\\N')`;
}

/** The value of a field written by {@link textField}. */
function fromText(type: SqlType, field: string): unknown {
  if (field === '\\N') return null;
  switch (type) {
    case 'text':
      return field.includes('\\') ? field.replace(/\\(.)/g, unescapeText) : field;
    case 'boolean':
      return field === 'true';
    case 'bigint':
    case 'integer':
    case 'double precision':
      return Number(field);
    default:
      return fromSql(type, type === 'jsonb' ? JSON.parse(field) : field);
  }
}

function unescapeText(_: string, c: string): string {
  return c === 't' ? '\t' : c === 'n' ? '\n' : c;
}
