import type { ProjectionRows, ProjectionTable } from '@syncjournal/core';
import type { ColumnType, Generated } from 'kysely';

/** A Postgres column type as the journal uses it. */
export type SqlType =
  | 'text'
  | 'integer'
  | 'bigint'
  | 'double precision'
  | 'boolean'
  | 'jsonb'
  | 'timestamptz';

/**
 * Every projection column, by the row field it holds. `satisfies` makes the compiler
 * check that each table lists exactly the fields of its row type, and a test checks
 * these against the live schema, so the bulk writers cannot drift from migrations.
 */
export const PROJECTION_COLUMNS = {
  runs: {
    run: 'integer',
    pairId: 'text',
    clientId: 'text',
    mode: 'text',
    local: 'text',
    remote: 'text',
    startedAt: 'timestamptz',
    completedAt: 'timestamptz',
    status: 'text',
    startedSeq: 'bigint',
  },
  manifest: {
    pairId: 'text',
    path: 'text',
    kind: 'text',
    size: 'bigint',
    mtimeMs: 'double precision',
    hash: 'text',
    ino: 'text',
    ctimeMs: 'double precision',
    racy: 'boolean',
    run: 'integer',
  },
  listing: {
    pairId: 'text',
    path: 'text',
    size: 'bigint',
    etag: 'text',
    versionId: 'text',
    sha256: 'text',
    lastModified: 'text',
    run: 'integer',
  },
  baseline: {
    pairId: 'text',
    path: 'text',
    hash: 'text',
    size: 'bigint',
    etag: 'text',
    versionId: 'text',
    run: 'integer',
  },
  tombstones: {
    seq: 'bigint',
    pairId: 'text',
    path: 'text',
    side: 'text',
    run: 'integer',
    clientId: 'text',
    hash: 'text',
    etag: 'text',
    versionId: 'text',
    trash: 'text',
  },
  conflicts: {
    id: 'bigint',
    pairId: 'text',
    path: 'text',
    run: 'integer',
    kind: 'text',
    status: 'text',
    kept: 'jsonb',
    resolution: 'text',
    resolvedKept: 'jsonb',
    resolvedRun: 'integer',
  },
  reports: {
    run: 'integer',
    pairId: 'text',
    status: 'text',
    report: 'jsonb',
  },
} as const satisfies { [T in ProjectionTable]: Record<keyof Required<ProjectionRows[T]>, SqlType> };

/** The column names given so far (the schema's fields: a few dozen), computed once each. */
const COLUMN_NAMES = new Map<string, string>();

/** The SQL name of a row field: `pairId` → `pair_id`. */
export function columnName(field: string): string {
  let name = COLUMN_NAMES.get(field);
  if (name === undefined) {
    name = field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    COLUMN_NAMES.set(field, name);
  }
  return name;
}

/** Turns a value read from Postgres into the JS value the row type promises. */
export function fromSql(type: SqlType, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (type) {
    case 'bigint':
    case 'integer':
      // node-postgres returns int8 as a string unless told otherwise; PGlite as a number.
      return typeof value === 'number' ? value : Number(value);
    case 'double precision':
      return typeof value === 'number' ? value : Number(value);
    case 'timestamptz':
      return value instanceof Date ? value.toISOString() : new Date(String(value)).toISOString();
    case 'jsonb':
      return typeof value === 'string' ? JSON.parse(value) : value;
    default:
      return value;
  }
}

/** A projection row read as `select *` (snake_case) turned into its row type. */
export function rowFromSql<T extends ProjectionTable>(
  table: T,
  raw: Record<string, unknown>,
): ProjectionRows[T] {
  const row: Record<string, unknown> = {};
  for (const [field, type] of Object.entries(PROJECTION_COLUMNS[table]) as [string, SqlType][]) {
    row[field] = fromSql(type, raw[columnName(field)]);
  }
  return row as unknown as ProjectionRows[T];
}

type Int8 = ColumnType<number, number, number>;

/** The journal's tables as Kysely sees them (snake_case, as in the migrations). */
export interface JournalDatabase {
  journal_meta: { key: string; value: string };
  journal_head: { id: Generated<boolean>; seq: Int8; hash: string };
  events: {
    seq: Int8;
    run: number;
    at: ColumnType<Date, string, string>;
    kind: string;
    path: string | null;
    payload: ColumnType<unknown, string, string>;
    /** 32 bytes; read as hex with `encode(prev_hash, 'hex')`. */
    prev_hash: Uint8Array;
    /** 32 bytes; read as hex with `encode(hash, 'hex')`. */
    hash: Uint8Array;
  };
  runs: {
    run: number;
    pair_id: string;
    client_id: string;
    mode: string;
    local: string;
    remote: string;
    started_at: ColumnType<Date, string, string>;
    completed_at: ColumnType<Date | null, string | null, string | null>;
    status: string;
    started_seq: Int8;
  };
  manifest: {
    pair_id: string;
    path: string;
    kind: string;
    size: Int8;
    mtime_ms: number;
    hash: string;
    ino: string | null;
    ctime_ms: number | null;
    racy: boolean;
    run: number;
  };
  listing: {
    pair_id: string;
    path: string;
    size: Int8;
    etag: string | null;
    version_id: string | null;
    sha256: string | null;
    last_modified: string | null;
    run: number;
  };
  baseline: {
    pair_id: string;
    path: string;
    hash: string;
    size: Int8;
    etag: string | null;
    version_id: string | null;
    run: number;
  };
  tombstones: {
    seq: Int8;
    pair_id: string;
    path: string;
    side: string;
    run: number;
    client_id: string;
    hash: string | null;
    etag: string | null;
    version_id: string | null;
    trash: string | null;
  };
  conflicts: {
    id: Int8;
    pair_id: string;
    path: string;
    run: number;
    kind: string;
    status: string;
    kept: ColumnType<unknown, string, string>;
    resolution: string | null;
    resolved_kept: ColumnType<unknown, string | null, string | null>;
    resolved_run: number | null;
  };
  /** A view over the `run.completed` events (schema 2 on): read it, never write it. */
  reports: {
    run: number;
    pair_id: string;
    status: string;
    report: ColumnType<unknown, string, string>;
  };
}
