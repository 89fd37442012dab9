import type { LeftOutReason } from './ports/tree.js';

/** How a run ended, as the CLI's `--json` and exit codes report it. */
export type RunStatus = 'in-sync' | 'conflicts' | 'blocked' | 'failed';

/** One guard's verdict on a plan. */
export interface GuardVerdict {
  /** Stable guard name, e.g. `incomplete-listing`, `empty-side`, `delete-limit`. */
  guard: string;
  /** `pass`, `blocked` (the run applies nothing), or `limited` (some ops were dropped). */
  verdict: 'pass' | 'blocked' | 'limited';
  reason?: string;
  /** Paths the guard acted on (dropped deletes, skipped unsafe keys), when any. */
  paths?: string[];
}

/** A conflict as a report lists it. */
export interface ReportConflict {
  path: string;
  kind: string;
  /** Where each kept version now lives (paths relative to the pair's root). */
  kept: string[];
}

/** An error that stopped one operation (or the run), JSON-safe. */
export interface ReportError {
  code: string;
  message: string;
  path?: string;
}

/**
 * The run report: the one JSON object `syncjournal sync --json` prints, and the
 * payload of the `run.completed` event. Field names are a stable interface.
 */
export interface RunReport {
  run: number;
  status: RunStatus;
  uploaded: number;
  downloaded: number;
  deletedLocal: number;
  deletedRemote: number;
  adopted: number;
  conflicts: ReportConflict[];
  blocked: { guard: string; reason: string } | null;
  bytes: { up: number; down: number };
  durationMs: number;
  guards: GuardVerdict[];
  errors: ReportError[];
  /**
   * Local entries the scan left out, when there were any: symbolic links (never
   * followed), special files (FIFOs, sockets, devices) and names that are not valid
   * UTF-8. Nothing at or under them was synced, replaced or deleted. `entries` lists the
   * first 100 in path order. Absent when there were none.
   */
  leftOut?: { count: number; entries: Array<{ path: string; reason: LeftOutReason }> };
  /**
   * For a pair whose top-level folders are projects: the counts per project (files at
   * the root count under `/`). Absent otherwise.
   */
  projects?: Record<string, ProjectCounts>;
  /**
   * On stores with snapshots (Tigris): the snapshot taken after the run applied its
   * plan — the bucket as this run left it, this run's remote base. Absent elsewhere.
   */
  snapshot?: string;
}

/** One project's share of a run. */
export interface ProjectCounts {
  uploaded: number;
  downloaded: number;
  deletedLocal: number;
  deletedRemote: number;
  adopted: number;
  conflicts: number;
  /** Ops of this project that failed (their messages are in the report's `errors`). */
  errors: number;
}

/** A report of a run that moved nothing (a restore or a resolve run, for instance). */
export function emptyRunReport(run: number, status: RunStatus = 'in-sync'): RunReport {
  return {
    run,
    status,
    uploaded: 0,
    downloaded: 0,
    deletedLocal: 0,
    deletedRemote: 0,
    adopted: 0,
    conflicts: [],
    blocked: null,
    bytes: { up: 0, down: 0 },
    durationMs: 0,
    guards: [],
    errors: [],
  };
}
