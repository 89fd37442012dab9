import { type Kysely, sql } from 'kysely';
import type { Migration, MigrationProvider } from 'kysely/migration';

/**
 * The journal schema as migrations held as data, so the same record runs on Node,
 * on a PostgreSQL server and in a browser (no migration files to read from disk).
 * A migration, once released, never changes: add a new one instead, and raise
 * {@link SCHEMA_VERSION}.
 */
export const migrations: Record<string, Migration> = {
  '0001_journal': {
    async up(db) {
      await exec(db, [
        `create table journal_meta (key text primary key, value text not null)`,
        `insert into journal_meta (key, value) values
           ('schema_version', '1'),
           ('journal_id', gen_random_uuid()::text),
           ('created_at', now()::text)`,
        // One row: the last event's seq and hash. Appenders lock it, which serialises
        // appends from every client of a shared journal and keeps seq gapless.
        `create table journal_head (
           id boolean primary key default true check (id),
           seq bigint not null,
           hash text not null)`,
        `insert into journal_head (id, seq, hash) values (true, 0, repeat('0', 64))`,
        `create table events (
           seq bigint primary key,
           run integer not null,
           at timestamptz not null,
           kind text not null,
           path text collate "C",
           payload jsonb not null,
           prev_hash text not null,
           hash text not null)`,
        `create index events_run on events (run, seq)`,
        `create index events_path on events (path, seq) where path is not null`,
        // Append-only: an edit has to switch this trigger off first, on purpose.
        `create function events_append_only() returns trigger language plpgsql as $$
         begin
           raise exception 'syncjournal events are append-only (% refused)', tg_op
             using errcode = 'P0001';
         end $$`,
        `create trigger events_append_only before update or delete on events
           for each row execute function events_append_only()`,
        `create table runs (
           run integer primary key,
           pair_id text not null,
           client_id text not null,
           mode text not null,
           local text not null,
           remote text not null,
           started_at timestamptz not null,
           completed_at timestamptz,
           status text not null,
           started_seq bigint not null)`,
        `create index runs_pair on runs (pair_id, run)`,
        `create table manifest (
           pair_id text not null,
           path text collate "C" not null,
           kind text not null,
           size bigint not null,
           mtime_ms double precision not null,
           hash text not null,
           ino text,
           ctime_ms double precision,
           racy boolean not null,
           run integer not null,
           primary key (pair_id, path))`,
        `create table listing (
           pair_id text not null,
           path text collate "C" not null,
           size bigint not null,
           etag text,
           version_id text,
           sha256 text,
           last_modified text,
           run integer not null,
           primary key (pair_id, path))`,
        `create table baseline (
           pair_id text not null,
           path text collate "C" not null,
           hash text not null,
           size bigint not null,
           etag text,
           version_id text,
           run integer not null,
           primary key (pair_id, path))`,
        `create table tombstones (
           seq bigint primary key,
           pair_id text not null,
           path text collate "C" not null,
           side text not null,
           run integer not null,
           client_id text not null,
           hash text,
           etag text,
           version_id text,
           trash text)`,
        `create index tombstones_path on tombstones (pair_id, path, seq)`,
        `create table conflicts (
           id bigint primary key,
           pair_id text not null,
           path text collate "C" not null,
           run integer not null,
           kind text not null,
           status text not null,
           kept jsonb not null,
           resolution text,
           resolved_kept jsonb,
           resolved_run integer)`,
        `create index conflicts_pair on conflicts (pair_id, status, id)`,
        `create table reports (
           run integer primary key,
           pair_id text not null,
           status text not null,
           report jsonb not null)`,
      ]);
    },
    async down(db) {
      await exec(
        db,
        [
          'reports',
          'conflicts',
          'tombstones',
          'baseline',
          'listing',
          'manifest',
          'runs',
          'events',
          'journal_head',
          'journal_meta',
        ].map((t) => `drop table ${t}`),
      );
      await exec(db, ['drop function events_append_only()']);
    },
  },
  // A no-op run appends five events; this makes each one and each run smaller
  // (~1 KB a run: the journal grew ~5 KB per no-op run, over the < 5 KB aim).
  // - Hashes as 32 bytes, not 64 hex characters: 64 bytes less per event. Reads
  //   hand them out as hex, as before; the chain's arithmetic is unchanged.
  // - `reports` becomes a view over the `run.completed` events, whose payload is the
  //   report: the table held a second copy of it (~0.7 KB a run). The partial index
  //   finds them without a scan of the log.
  '0002_compact_events': {
    async up(db) {
      await exec(db, [
        `alter table events
           alter column prev_hash type bytea using decode(prev_hash, 'hex'),
           alter column hash type bytea using decode(hash, 'hex')`,
        `create index events_run_completed on events (run) where kind = 'run.completed'`,
        `drop table reports`,
        `create view reports as
           select e.run, r.pair_id, e.payload->>'status' as status, e.payload as report
           from events e join runs r on r.run = e.run
           where e.kind = 'run.completed'`,
        `update journal_meta set value = '2' where key = 'schema_version'`,
      ]);
    },
    async down(db) {
      await exec(db, [
        `drop view reports`,
        `create table reports (
           run integer primary key,
           pair_id text not null,
           status text not null,
           report jsonb not null)`,
        `insert into reports (run, pair_id, status, report)
           select e.run, r.pair_id, e.payload->>'status', e.payload
           from events e join runs r on r.run = e.run
           where e.kind = 'run.completed'`,
        `drop index events_run_completed`,
        `alter table events
           alter column prev_hash type text using encode(prev_hash, 'hex'),
           alter column hash type text using encode(hash, 'hex')`,
        `update journal_meta set value = '1' where key = 'schema_version'`,
      ]);
    },
  },
  // Stamps for the projections that a journal may keep copies of between processes
  // (postgres-journal.ts, ProjectionCache): each append that changes one of them sets
  // its stamp to the new head's hash in the same transaction, a rebuild to a random
  // value. A copy is used only while its stamp is the table's. A migration that
  // changes these tables' rows must give them new stamps too. Also: a release from
  // before stamps, which would change the tables without them, refuses this journal.
  '0003_projection_stamps': {
    async up(db) {
      await exec(db, [
        `insert into journal_meta (key, value)
           select 'projection_stamp.' || t, 'migrated:' || gen_random_uuid()::text
           from unnest(array['manifest', 'listing', 'baseline']) as t`,
        `update journal_meta set value = '3' where key = 'schema_version'`,
      ]);
    },
    async down(db) {
      await exec(db, [
        `delete from journal_meta where key like 'projection\\_stamp.%'`,
        `update journal_meta set value = '2' where key = 'schema_version'`,
      ]);
    },
  },
};

/** The schema version this code writes and understands. */
export const SCHEMA_VERSION = 3;

/**
 * Projections that the SQL journals keep as views over the events rather than as
 * tables: nothing writes them, and a rebuild has nothing to delete or refold.
 */
export const VIEW_PROJECTIONS: ReadonlySet<string> = new Set(['reports']);

/** Kysely's bookkeeping tables, named so they cannot clash with an application's. */
export const MIGRATION_TABLE = 'syncjournal_migration';
export const MIGRATION_LOCK_TABLE = 'syncjournal_migration_lock';

/** Hands {@link migrations} to Kysely's `Migrator`. */
export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};

// PGlite runs one statement per query, so a migration is a list of statements.
async function exec(db: Kysely<unknown>, statements: string[]): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db);
}
