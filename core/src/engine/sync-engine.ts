import pLimit from 'p-limit';
import type { JsonValue } from '../canonical-json.js';
import { canonicalJson } from '../canonical-json.js';
import { SyncJournalError } from '../errors.js';
import type { JournalEventInput, OpAction } from '../journal/events.js';
import { comparePaths } from '../paths.js';
import type { Clock } from '../ports/clock.js';
import { systemClock } from '../ports/clock.js';
import type { Hasher } from '../ports/hasher.js';
import type { Journal } from '../ports/journal.js';
import type { ObjectStore } from '../ports/store.js';
import type { LeftOutReason, LocalTree } from '../ports/tree.js';
import { checkGuards, type SafetyProfile } from '../reconcile/guards.js';
import {
  type ConflictPolicy,
  type Plan,
  type PlanOp,
  RECONCILE_RULES,
  type ReconcileInput,
  reconcile,
} from '../reconcile/reconcile.js';
import { clientIdProblem } from '../reconcile/safe-path.js';
import type {
  GuardVerdict,
  ProjectCounts,
  ReportConflict,
  ReportError,
  RunReport,
  RunStatus,
} from '../report.js';
import { listStore, REMOTE_TRASH_PREFIX, RESERVED_PREFIX } from '../scan/lister.js';
import { scanTree } from '../scan/scanner.js';
import { applyOp, type ExecutionContext, type OpOutcome } from './executor.js';
import { identifyRemote } from './identify.js';
import { replan } from './replan.js';
import { snapshotAfter } from './snapshots.js';

/** The filters of a pair: a predicate, and the spec it was built from (journaled for audits). */
export interface PairFilter {
  spec: JsonValue;
  excluded(path: string): boolean;
}

/** Everything an engine needs; adapters build these. */
export interface SyncEngineOptions {
  tree: LocalTree;
  store: ObjectStore;
  /**
   * The journal, or the promise of one still opening: a run walks the tree and lists
   * the store while it opens (a PGlite journal takes ~0.5 s to open), and journals
   * nothing before it is open.
   */
  journal: Journal | PromiseLike<Journal>;
  hasher: Hasher;
  clock?: Clock;
  /** The pair: a stable id and the names of both sides as the user gave them. */
  pair: { id: string; local: string; remote: string };
  clientId: string;
  profile?: SafetyProfile;
  maxDelete?: number;
  /** Apply deletes above the limits (never against an emptied side: see `allowEmpty`). */
  force?: boolean;
  /** One side was emptied on purpose: apply the deletes that carry it to the other. */
  allowEmpty?: boolean;
  filter?: PairFilter;
  /** What to do when both sides changed a file differently (default `keep-both`). */
  policy?: ConflictPolicy;
  /** Transfers in flight at once (default 4). */
  concurrency?: number;
  /** Remote trash for stores without versioning (default `.syncjournal/trash/`). */
  remoteTrashPrefix?: string;
  /**
   * The pair's root holds projects, one per top-level folder (the Dropbox model: one
   * sync for all of them): the report then breaks its counts down per project.
   */
  projects?: boolean;
  onProgress?: (event: ProgressEvent) => void;
}

/** What the engine reports while it works, for progress bars. */
export type ProgressEvent =
  | { phase: 'scan'; files: number; hashed: number; bytes: number }
  | { phase: 'list'; objects: number }
  | { phase: 'apply'; done: number; total: number; path: string };

/** The outcome of {@link SyncEngine.sync}: the report, and the plan it followed. */
export interface SyncResult {
  report: RunReport;
  plan: PlanOp[];
}

/** The engine adapters call. */
export interface SyncEngine {
  /** Scans, lists, plans, checks the guards and (unless `dryRun`) applies; journals all of it. */
  sync(options?: { dryRun?: boolean }): Promise<SyncResult>;
}

/** Ops journaled as started in one append, then run, then journaled as done in one append. */
const CHUNK = 64;
/** How many left-out entries a report lists by path (it counts them all). */
const LEFT_OUT_LISTED = 100;

/** Builds the sync engine for one pair. */
export function createSyncEngine(options: SyncEngineOptions): SyncEngine {
  const problem = clientIdProblem(options.clientId);
  if (problem !== null) {
    throw new SyncJournalError(
      'invalid-client-id',
      `The client id "${options.clientId}" cannot be used: ${problem}. It names conflict copies and this client's keys in the bucket. Nothing was synced; give an id such as "laptop" or "web-1".`,
      { clientId: options.clientId },
    );
  }
  return { sync: (o) => runSync(options, o?.dryRun ?? false) };
}

/**
 * Scans the tree and lists the store against the previous manifest and listing, and
 * reads the baseline. The walk and the listing start at once, while the journal opens
 * and is read (on a tree that walks on another thread, at the same time); the manifest
 * and listing are let go on return (100k rows each on a large pair).
 */
async function observe(
  o: SyncEngineOptions,
  journal: Promise<Journal>,
  pairId: string,
  clock: Clock,
  excluded: ((path: string) => boolean) | undefined,
) {
  const [scan, list, baseline] = await Promise.all([
    scanTree({
      tree: o.tree,
      hasher: o.hasher,
      clock,
      previous: journal.then((j) => j.manifest(pairId)),
      ...(excluded ? { excluded } : {}),
      onProgress: (p) => o.onProgress?.({ phase: 'scan', ...p }),
    }),
    // Asks for the first page before the listing is read: the store lists meanwhile.
    listStore({
      store: o.store,
      hasher: o.hasher,
      previous: journal.then((j) => j.listing(pairId)),
      ...(excluded ? { excluded } : {}),
    }),
    journal.then((j) => j.baseline(pairId)),
  ]);
  return { scan, list, baseline };
}

async function runSync(o: SyncEngineOptions, dryRun: boolean): Promise<SyncResult> {
  const clock = o.clock ?? systemClock;
  const started = clock.now();
  const opening = Promise.resolve(o.journal);
  const pairId = o.pair.id;
  const profile = o.profile ?? 'balanced';
  const excluded = o.filter ? (path: string) => o.filter!.excluded(path) : undefined;
  const runStarted = opening.then((journal) =>
    journal.startRun(
      {
        pairId,
        clientId: o.clientId,
        mode: dryRun ? 'dry-run' : 'sync',
        local: o.pair.local,
        remote: o.pair.remote,
        options: {
          profile,
          ...(o.maxDelete !== undefined ? { maxDelete: o.maxDelete } : {}),
          force: o.force ?? false,
          ...(o.allowEmpty ? { allowEmpty: true } : {}),
          policy: o.policy ?? 'keep-both',
          filter: o.filter?.spec ?? null,
          caseInsensitive: o.tree.caseInsensitive,
          ...(o.tree.normalizationInsensitive ? { normalizationInsensitive: true } : {}),
          rules: RECONCILE_RULES,
        },
        // The run's time is the plan's time (conflict copy names): journaled so a replay has it.
      },
      new Date(started).toISOString(),
    ),
  );
  // Observe both sides meanwhile (reading changes nothing), and wait for both: a walk
  // or a listing is never left running behind a journal that failed to open.
  const [runOutcome, observed] = await Promise.allSettled([
    runStarted,
    observe(o, opening, pairId, clock, excluded),
  ]);
  if (runOutcome.status === 'rejected') throw runOutcome.reason;
  if (observed.status === 'rejected') throw observed.reason;
  const journal = await opening;
  const run = runOutcome.value;
  const { scan, list, baseline } = observed.value;
  const stamp = <E extends Omit<JournalEventInput, 'run'>>(events: E[]): JournalEventInput[] =>
    events.map((e) => ({ ...e, run }) as JournalEventInput);

  // Journal what both sides showed.
  o.onProgress?.({ phase: 'list', objects: list.objects.length });
  await journal.append([
    ...stamp(scan.deltas),
    {
      kind: 'scan.completed',
      run,
      payload: {
        complete: scan.complete,
        count: scan.files.length,
        digest: scan.digest,
        hashed: scan.hashed,
        errors: scan.errors,
        ...(scan.skipped.length ? { skipped: scan.skipped } : {}),
      },
    },
    ...stamp(list.deltas),
    {
      kind: 'listing.completed',
      run,
      payload: {
        complete: list.complete,
        pages: list.pages,
        count: list.objects.length,
        digest: list.digest,
        capabilities: { ...o.store.capabilities },
        ...(list.complete ? {} : { listedThrough: list.listedThrough ?? null }),
        errors: list.errors,
      },
    },
  ]);

  // Content identity the listing did not give (S3 lists no checksums): HEAD, or read.
  const remote = await identifyRemote({
    store: o.store,
    hasher: o.hasher,
    base: baseline,
    local: scan.files,
    remote: list.objects,
  });
  if (remote.deltas.length) await journal.append(stamp(remote.deltas));

  const input: ReconcileInput = {
    base: baseline.filter((b) => !b.path.startsWith(RESERVED_PREFIX)),
    local: scan.files,
    remote: remote.objects,
    localUnknown: scan.unreadable,
    localLeftOut: scan.skipped.map((entry) => entry.path),
    ...(list.complete ? {} : { remoteListedThrough: list.listedThrough ?? null }),
    caseInsensitive: o.tree.caseInsensitive,
    normalizationInsensitive: o.tree.normalizationInsensitive ?? false,
    clientId: o.clientId,
    planTimeMs: started,
    policy: o.policy ?? 'keep-both',
    ...(excluded ? { excluded } : {}),
  };
  const plan = reconcile(input);
  const guards = checkGuards({
    plan,
    baseCount: baseline.length,
    localCount: scan.files.length,
    remoteCount: remote.objects.length,
    scanComplete: scan.complete,
    listingComplete: list.complete,
    unreadable: scan.unreadable,
    profile,
    ...(o.maxDelete !== undefined ? { maxDelete: o.maxDelete } : {}),
    force: o.force ?? false,
    allowEmpty: o.allowEmpty ?? false,
  });
  await journal.append(planEvents(run, plan, guards.verdicts, guards.blocked, o.hasher, 1));

  const tally = new Tally(o.projects ?? false);
  // Every project either side holds is in the breakdown, those with nothing to do too.
  tally.seeProjects([...input.local, ...input.remote].map((entry) => entry.path));
  tally.errors.push(...scan.errors, ...list.errors);
  tally.leftOut = scan.skipped;
  if (!dryRun && !guards.blocked) {
    const ctx: ExecutionContext = {
      tree: o.tree,
      store: o.store,
      hasher: o.hasher,
      clock,
      run,
      clientId: o.clientId,
      remoteTrashPrefix: o.remoteTrashPrefix ?? REMOTE_TRASH_PREFIX,
    };
    const again = await execute(journal, run, plan.ops, ctx, tally, o);
    if (again.length > 0) {
      const second = await replan({
        ...o,
        clock,
        run,
        paths: again,
        input,
        journal,
        pairId,
        firstIndex: plan.ops.length,
      });
      await journal.append(planEvents(run, second, [], null, o.hasher, 2));
      const left = await execute(journal, run, second.ops, ctx, tally, o);
      for (const path of left) {
        tally.errors.push({
          code: 'changed-during-sync',
          message: `${path} kept changing during the sync; it was left as it is and will be planned again next sync.`,
          path,
        });
      }
    }
  } else if (dryRun) {
    tally.countPlanned(plan.ops);
  }

  const report = tally.report(run, guards.blocked, guards.verdicts, clock.now() - started);
  if (!dryRun && (report.status === 'in-sync' || report.status === 'conflicts')) {
    await snapshotAfter(o.store, o.hasher, o.clientId, report, new Date(clock.now()).toISOString());
  }
  await journal.append([{ kind: 'run.completed', run, payload: report }]);
  return { report, plan: plan.ops };
}

/**
 * Runs ops in chunks: each chunk's `op.started` events are journaled (one append)
 * before any of its ops runs, then its results (one append). Returns the paths whose
 * preconditions failed, for a re-plan.
 */
async function execute(
  journal: Journal,
  run: number,
  ops: readonly PlanOp[],
  ctx: ExecutionContext,
  tally: Tally,
  o: SyncEngineOptions,
): Promise<string[]> {
  const limit = pLimit(Math.max(1, o.concurrency ?? 4));
  const replans: string[] = [];
  const runnable = ops.filter((op) => op.action !== 'skip');
  for (const op of ops) if (op.action === 'skip') tally.skipped.push(op);
  let done = 0;
  for (let i = 0; i < runnable.length; i += CHUNK) {
    const chunk = runnable.slice(i, i + CHUNK);
    await journal.append(
      chunk.map((op) => ({
        kind: 'op.started',
        run,
        path: op.path,
        payload: { index: op.index, action: op.action },
      })),
    );
    const outcomes = await Promise.all(
      chunk.map((op) =>
        limit(async () => {
          const outcome = await applyOp(op, ctx);
          o.onProgress?.({ phase: 'apply', done: ++done, total: runnable.length, path: op.path });
          return outcome;
        }),
      ),
    );
    const events: JournalEventInput[] = [];
    chunk.forEach((op, k) => {
      const outcome = outcomes[k]!;
      tally.add(op, outcome);
      events.push(...outcomeEvents(run, op, outcome));
      if (outcome.status === 'failed' && outcome.replan) replans.push(op.path);
    });
    await journal.append(events);
  }
  return replans;
}

function outcomeEvents(run: number, op: PlanOp, outcome: OpOutcome): JournalEventInput[] {
  const ref = { index: op.index, action: op.action };
  switch (outcome.status) {
    case 'applied':
      return outcome.events.map((e) => ({ ...e, run }) as JournalEventInput);
    case 'skipped':
      return [
        { kind: 'op.skipped', run, path: op.path, payload: { ...ref, reason: outcome.reason } },
      ];
    case 'failed':
      return [
        {
          kind: 'op.failed',
          run,
          path: op.path,
          payload: {
            ...ref,
            error: outcome.error,
            ...(outcome.kept ? { kept: outcome.kept } : {}),
          },
        },
      ];
  }
}

/** The plan as events: one `plan.op` per op and a `plan.completed` with its digest. */
export function planEvents(
  run: number,
  plan: Plan,
  guards: GuardVerdict[],
  blocked: { guard: string; reason: string } | null,
  hasher: Hasher,
  round: number,
): JournalEventInput[] {
  const counts: Partial<Record<OpAction, number>> = {};
  for (const op of plan.ops) counts[op.action] = (counts[op.action] ?? 0) + 1;
  const events: JournalEventInput[] = plan.ops.map(({ path, ...payload }) => ({
    kind: 'plan.op',
    run,
    path,
    payload: round === 1 ? payload : { ...payload, round },
  }));
  events.push({
    kind: 'plan.completed',
    run,
    payload: {
      ops: plan.ops.length,
      counts,
      guards,
      blocked,
      digest: planDigest(hasher, plan.ops),
      ...(round === 1 ? {} : { round }),
    },
  });
  return events;
}

/** SHA-256 of the canonical JSON of a plan's ops: equal digests, byte-identical plans. */
export function planDigest(hasher: Hasher, ops: readonly PlanOp[]): string {
  const state = hasher.create();
  state.update(canonicalJson(ops));
  return state.digest();
}

/** Which report count each applied action adds to. */
const COUNTED: Partial<
  Record<OpAction, 'uploaded' | 'downloaded' | 'deletedLocal' | 'deletedRemote' | 'adopted'>
> = {
  upload: 'uploaded',
  download: 'downloaded',
  'delete-local': 'deletedLocal',
  'delete-remote': 'deletedRemote',
  adopt: 'adopted',
};

/** Counts what a run did, for its report. */
class Tally {
  readonly #byProject: Map<string, ProjectCounts> | undefined;
  constructor(projects: boolean) {
    if (projects) this.#byProject = new Map();
  }

  uploaded = 0;
  downloaded = 0;
  deletedLocal = 0;
  deletedRemote = 0;
  adopted = 0;
  failed = 0;
  conflicts: ReportConflict[] = [];
  errors: ReportError[] = [];
  skipped: PlanOp[] = [];
  /** Local entries the scan left out (links, special files, unreadable names). */
  leftOut: Array<{ path: string; reason: LeftOutReason }> = [];
  bytes = { up: 0, down: 0 };

  add(op: PlanOp, outcome: OpOutcome): void {
    if (outcome.status === 'failed') {
      // A failed precondition is re-planned, not an error (yet).
      if (!outcome.replan) {
        this.failed++;
        this.errors.push(outcome.error);
        this.#bump(op.path, 'errors');
      }
      return;
    }
    if (outcome.status === 'skipped') return;
    this.bytes.up += outcome.bytes.up;
    this.bytes.down += outcome.bytes.down;
    if (outcome.conflict) {
      this.conflicts.push(outcome.conflict);
      this.#bump(op.path, 'conflicts');
    }
    this.count(op.action, op.path);
  }

  countPlanned(ops: readonly PlanOp[]): void {
    for (const op of ops) {
      if (op.action === 'conflict') {
        this.conflicts.push({ path: op.path, kind: op.row, kept: [] });
        this.#bump(op.path, 'conflicts');
      } else this.count(op.action, op.path);
    }
  }

  count(action: OpAction, path: string): void {
    const field = COUNTED[action];
    if (!field) return;
    this[field]++;
    this.#bump(path, field);
  }

  /** Projects that the run saw (listed with zero counts when nothing happens in them). */
  seeProjects(paths: readonly string[]): void {
    for (const path of paths) if (!path.startsWith(RESERVED_PREFIX)) this.#counts(path);
  }

  /** One more of `field` in the project of `path` (nothing when there are no projects). */
  #bump(path: string, field: keyof ProjectCounts): void {
    const counts = this.#counts(path);
    if (counts) counts[field]++;
  }

  #counts(path: string): ProjectCounts | undefined {
    if (!this.#byProject) return undefined;
    const name = projectOf(path);
    const counts = this.#byProject.get(name) ?? emptyProjectCounts();
    this.#byProject.set(name, counts);
    return counts;
  }

  get projects(): Record<string, ProjectCounts> | undefined {
    if (!this.#byProject) return undefined;
    return Object.fromEntries([...this.#byProject].sort(([a], [b]) => comparePaths(a, b)));
  }

  report(
    run: number,
    blocked: { guard: string; reason: string } | null,
    guards: GuardVerdict[],
    durationMs: number,
  ): RunReport {
    // Anything left undone — a failed op, a path skipped because a side could not be
    // seen, a folder or page that could not be read — means the pair is not in sync.
    const status: RunStatus = blocked
      ? 'blocked'
      : this.failed > 0 ||
          this.errors.length > 0 ||
          this.skipped.some((op) => op.row !== 'unsafe-key' && op.row !== 'local-left-out')
        ? 'failed'
        : this.conflicts.length > 0
          ? 'conflicts'
          : 'in-sync';
    return {
      run,
      status,
      uploaded: this.uploaded,
      downloaded: this.downloaded,
      deletedLocal: this.deletedLocal,
      deletedRemote: this.deletedRemote,
      adopted: this.adopted,
      conflicts: this.conflicts,
      blocked,
      bytes: this.bytes,
      durationMs,
      guards,
      errors: this.errors,
      ...(this.leftOut.length
        ? {
            leftOut: {
              count: this.leftOut.length,
              entries: this.leftOut.slice(0, LEFT_OUT_LISTED),
            },
          }
        : {}),
      ...(this.projects ? { projects: this.projects } : {}),
    };
  }
}

/** The project of a path: its top-level folder, or `/` for files at the root. */
export function projectOf(path: string): string {
  const slash = path.indexOf('/');
  return slash < 0 ? '/' : path.slice(0, slash);
}

function emptyProjectCounts(): ProjectCounts {
  return {
    uploaded: 0,
    downloaded: 0,
    deletedLocal: 0,
    deletedRemote: 0,
    adopted: 0,
    conflicts: 0,
    errors: 0,
  };
}
