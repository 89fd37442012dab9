import type { JsonValue } from '../canonical-json.js';
import type {
  JournalEvent,
  ListingCompletedPayload,
  PlanCompletedPayload,
  RunStartedPayload,
  ScanCompletedPayload,
} from '../journal/events.js';
import { ProjectionBatch } from '../journal/projections.js';
import { comparePaths } from '../paths.js';
import type { Hasher } from '../ports/hasher.js';
import { type ConflictPolicy, type PlanOp, reconcile } from '../reconcile/reconcile.js';
import { RESERVED_PREFIX } from '../scan/lister.js';
import { planDigest } from './sync-engine.js';

/** The outcome of replaying one run's plan from the journal. */
export interface PlanReplay {
  run: number;
  /** The digest `plan.completed` recorded. */
  recorded: string;
  /** The digest of the plan the reconciler makes from the journaled inputs now. */
  replayed: string;
  matches: boolean;
  ops: PlanOp[];
}

/**
 * Replays a run's first plan: folds every event before the run's `plan.completed` (the
 * baseline, manifest and listing exactly as the run saw them), takes the run's options
 * from `run.started` and what could not be seen from `scan.completed` and
 * `listing.completed`, and runs the reconciler again. A healthy journal gives a
 * byte-identical plan; a different one means the journal, or the reconciler, changed.
 *
 * `excludedFor` rebuilds the filter predicate from the spec the run journaled (the
 * adapter owns the glob library). Returns `undefined` for a run that made no plan.
 */
export function replayPlan(
  events: Iterable<JournalEvent>,
  run: number,
  options: {
    hasher: Hasher;
    excludedFor?: (spec: JsonValue) => ((path: string) => boolean) | undefined;
  },
): PlanReplay | undefined {
  const batch = new ProjectionBatch();
  let started: (RunStartedPayload & { at: string }) | undefined;
  let scan: ScanCompletedPayload | undefined;
  let listing: ListingCompletedPayload | undefined;
  for (const event of events) {
    if (event.run === run) {
      if (event.kind === 'run.started') started = { ...event.payload, at: event.at };
      else if (event.kind === 'scan.completed') scan = event.payload;
      else if (event.kind === 'listing.completed') listing = event.payload;
      else if (
        event.kind === 'plan.completed' &&
        !(event.payload as PlanCompletedPayload).round &&
        started
      ) {
        return replayAt(batch, started, scan, listing, event.payload, options);
      }
    }
    batch.add(event);
  }
  return undefined;
}

function replayAt(
  batch: ProjectionBatch,
  started: RunStartedPayload & { at: string },
  scan: ScanCompletedPayload | undefined,
  listing: ListingCompletedPayload | undefined,
  completed: PlanCompletedPayload,
  options: {
    hasher: Hasher;
    excludedFor?: (spec: JsonValue) => ((path: string) => boolean) | undefined;
  },
): PlanReplay {
  const mine = <R extends { pairId: string; path: string }>(rows: R[]) =>
    rows.filter((r) => r.pairId === started.pairId).sort((a, b) => comparePaths(a.path, b.path));
  const o = (started.options ?? {}) as {
    caseInsensitive?: boolean;
    normalizationInsensitive?: boolean;
    policy?: ConflictPolicy;
    filter?: JsonValue;
    rules?: number;
  };
  const excluded = o.filter ? options.excludedFor?.(o.filter) : undefined;
  // An incomplete listing saw only the keys up to where it stopped; rows after that
  // are the previous listing's, kept in the projection but not what the run planned with.
  const through = listing && !listing.complete ? (listing.listedThrough ?? null) : undefined;
  const listed = (path: string) =>
    through === undefined || (through !== null && comparePaths(path, through) <= 0);
  const plan = reconcile({
    base: mine(batch.puts('baseline')).filter((b) => !b.path.startsWith(RESERVED_PREFIX)),
    local: mine(batch.puts('manifest')),
    remote: mine(batch.puts('listing')).filter((r) => listed(r.path)),
    localUnknown: (scan?.errors ?? []).flatMap((e) => (e.path ? [e.path] : [])),
    localLeftOut: (scan?.skipped ?? []).map((entry) => entry.path),
    ...(listing && !listing.complete ? { remoteListedThrough: listing.listedThrough ?? null } : {}),
    caseInsensitive: o.caseInsensitive ?? false,
    normalizationInsensitive: o.normalizationInsensitive ?? false,
    clientId: started.clientId,
    planTimeMs: Date.parse(started.at),
    policy: o.policy ?? 'keep-both',
    // Runs journaled before the rules had a number were planned by the first ones.
    rules: o.rules ?? 1,
    ...(excluded ? { excluded } : {}),
  });
  const replayed = planDigest(options.hasher, plan.ops);
  return {
    run: started.run,
    recorded: completed.digest,
    replayed,
    matches: replayed === completed.digest,
    ops: plan.ops,
  };
}
