import {
  comparePaths,
  eachEvent,
  type ListingCompletedPayload,
  projectOf,
  type RunRow,
} from '@syncjournal/core';
import type { PostgresJournal } from '@syncjournal/journal-schema';
import { PidLock } from '../../pid-lock.js';
import { EXIT } from '../exit-codes.js';
import { borrowStateJournal } from '../journal-loan.js';
import { UsageError, wholeNumber } from '../open-pair.js';
import { formatReport, type Output } from '../output.js';
import { StateDir } from '../state-dir.js';

/**
 * Opens the state dir's journal for a read-only command; one that a running `watch`
 * holds is borrowed between two of its syncs (journal-loan.ts).
 */
export async function withJournal<T>(
  stateDir: string | undefined,
  output: Output,
  fn: (journal: PostgresJournal, state: StateDir) => Promise<T>,
): Promise<T> {
  const state = await StateDir.open(StateDir.locate(stateDir));
  const journal = await borrowStateJournal(state, {
    // Said on a terminal only: --json prints one object, and scripts read stderr too.
    onWait: (message) => {
      if (output.tty && !output.json) output.err(message);
    },
  });
  try {
    return await fn(journal, state);
  } finally {
    await journal.close();
  }
}

/**
 * The runs in `runs` (newest first) that the journal shows as running but that are not:
 * killed or crashed before they recorded their end, which nothing can record for them.
 * A run is known to have stopped when a later run of its pair started (a pair runs once
 * at a time, under its lock), or, for this state dir's own pairs, when no live process
 * holds the pair's lock. Another client's latest run cannot be checked from here.
 * This is read, never written: the journal keeps what happened, and a run's end is not
 * something that happened.
 */
export async function interruptedRuns(
  runs: readonly RunRow[],
  ownRun: (run: RunRow) => string | undefined,
): Promise<Set<number>> {
  const interrupted = new Set<number>();
  const laterStarted = new Set<string>();
  for (const run of runs) {
    const hasLater = laterStarted.has(run.pairId);
    laterStarted.add(run.pairId);
    if (run.status !== 'running') continue;
    const lock = ownRun(run);
    if (hasLater || (lock !== undefined && !(await PidLock.isHeld(lock)))) interrupted.add(run.run);
  }
  return interrupted;
}

/** The lock of `run`'s pair if the pair is this state dir's own, for {@link interruptedRuns}. */
function ownLock(state: StateDir): (run: RunRow) => string | undefined {
  return (run) =>
    run.clientId === state.config.clientId && state.config.pairs.some((p) => p.id === run.pairId)
      ? state.lockPath(run.pairId)
      : undefined;
}

/** `syncjournal status`: each pair, its last run, what its store can do, open conflicts. */
export async function statusCommand(flags: { stateDir?: string }, output: Output): Promise<number> {
  return withJournal(flags.stateDir, output, async (journal, state) => {
    const pairs = [];
    for (const pair of state.config.pairs) {
      const [last] = await journal.runs({ pairId: pair.id, limit: 1 });
      const stopped = last ? await interruptedRuns([last], ownLock(state)) : new Set<number>();
      const [listing] = (
        await journal.events({ pairId: pair.id, kinds: ['listing.completed'] })
      ).slice(-1);
      const conflicts = await journal.conflicts(pair.id, 'open');
      const baseline = await journal.baseline(pair.id);
      const capabilities =
        (listing?.payload as ListingCompletedPayload | undefined)?.capabilities ?? null;
      pairs.push({
        id: pair.id,
        local: pair.local,
        remote: pair.remote,
        lastRun: last
          ? {
              run: last.run,
              status: last.status,
              interrupted: stopped.has(last.run),
              at: last.completedAt ?? last.startedAt,
            }
          : null,
        capabilities,
        openConflicts: conflicts.map((c) => c.path),
        files: baseline.length,
        ...(pair.projects ? { projects: perProject(baseline, conflicts) } : {}),
      });
    }
    if (output.json) {
      output.out(JSON.stringify({ clientId: state.config.clientId, stateDir: state.root, pairs }));
      return EXIT.inSync;
    }
    output.out(`client ${state.config.clientId} · state ${state.root}`);
    if (pairs.length === 0) output.out('  no pairs yet: syncjournal sync <local> <remote>');
    for (const p of pairs) {
      output.out(`${p.local} ⇄ ${p.remote} (${p.id})`);
      output.out(
        `  ${p.files} file(s) in sync; last run ${p.lastRun ? `${p.lastRun.run}: ${shownStatus(p.lastRun)} at ${p.lastRun.at}` : 'never'}`,
      );
      if (p.capabilities) {
        const c = p.capabilities;
        output.out(
          `  store: conditional writes ${c.conditionalWrites ? 'yes' : 'no'}, versioning ${c.versioning ? 'yes' : 'no'}, snapshots ${c.snapshots ? 'yes' : 'no'}`,
        );
      }
      if (p.openConflicts.length) output.out(`  open conflicts: ${p.openConflicts.join(', ')}`);
      for (const [name, project] of Object.entries(p.projects ?? {})) {
        output.out(
          `  ${name === '/' ? '(root files)' : name}: ${project.files} file(s) in sync${project.openConflicts ? `, ${project.openConflicts} open conflict(s)` : ''}`,
        );
      }
    }
    return EXIT.inSync;
  });
}

/** `syncjournal history`: runs, newest first. */
export async function historyCommand(
  flags: { stateDir?: string; limit?: string; allClients?: boolean },
  output: Output,
): Promise<number> {
  const limit = flags.limit === undefined ? 20 : wholeNumber(flags.limit, '--limit', 1);
  return withJournal(flags.stateDir, output, async (journal, state) => {
    // A shared journal holds every client's runs; by default, this client's.
    const runs = await journal.runs({
      ...(flags.allClients ? {} : { clientId: state.config.clientId }),
      limit,
    });
    const stopped = await interruptedRuns(runs, ownLock(state));
    if (output.json) {
      output.out(
        JSON.stringify({
          runs: runs.map((run) => ({ ...run, interrupted: stopped.has(run.run) })),
        }),
      );
      return EXIT.inSync;
    }
    for (const run of runs) {
      const status = shownStatus({ status: run.status, interrupted: stopped.has(run.run) });
      const report = (await journal.report(run.run))?.report;
      const counts = report
        ? `↑${report.uploaded} ↓${report.downloaded} ✕${report.deletedLocal + report.deletedRemote} =${report.adopted} !${report.conflicts.length}`
        : '';
      output.out(
        `${String(run.run).padStart(5)}  ${run.startedAt}  ${flags.allClients ? `${run.clientId}  ` : ''}${run.mode.padEnd(7)}  ${status.padEnd(11)}  ${counts}  ${run.local} ⇄ ${run.remote}`,
      );
    }
    return EXIT.inSync;
  });
}

/** A run's status as the human output shows it: `interrupted` for a run that stopped unrecorded. */
function shownStatus(run: { status: string; interrupted: boolean }): string {
  return run.interrupted ? 'interrupted' : run.status;
}

/** `syncjournal report <run>`: one run's report. */
export async function reportCommand(
  run: string,
  flags: { stateDir?: string },
  output: Output,
): Promise<number> {
  const n = wholeNumber(run, 'A run', 1);
  return withJournal(flags.stateDir, output, async (journal) => {
    const row = await journal.report(n);
    if (!row)
      throw new UsageError(
        `There is no finished run ${n} in this journal; see syncjournal history.`,
      );
    if (output.json) output.out(JSON.stringify(row.report));
    else {
      const [runRow] = (await journal.runs()).filter((r) => r.run === n);
      for (const line of formatReport(row.report, `run ${n}: ${runRow?.local} ⇄ ${runRow?.remote}`))
        output.out(line);
    }
    return EXIT.inSync;
  });
}

/** `syncjournal conflicts`: open conflicts of every pair, with where each version is kept. */
export async function conflictsCommand(
  flags: { stateDir?: string },
  output: Output,
): Promise<number> {
  return withJournal(flags.stateDir, output, async (journal, state) => {
    const all = [];
    for (const pair of state.config.pairs) {
      for (const c of await journal.conflicts(pair.id, 'open')) all.push({ pair: pair.id, ...c });
    }
    if (output.json) output.out(JSON.stringify({ conflicts: all }));
    else if (all.length === 0) output.out('no open conflicts');
    else
      for (const c of all)
        output.out(
          `${c.path} (${c.kind}, run ${c.run}): ${c.kept.map((k) => `${k.side} → ${k.path}`).join(', ')}`,
        );
    return EXIT.inSync;
  });
}

/** `syncjournal journal verify|rebuild|export`. */
export async function journalCommand(
  action: string,
  flags: { stateDir?: string },
  output: Output,
): Promise<number> {
  return withJournal(flags.stateDir, output, async (journal) => {
    if (action === 'verify') {
      const result = await journal.verify();
      if (output.json) output.out(JSON.stringify(result));
      else if (result.ok)
        output.out(
          `the hash chain of ${result.events} events verifies; head ${result.head.hash.slice(0, 16)}…`,
        );
      else
        output.out(
          `event ${result.firstBad.seq} is bad (${result.firstBad.reason}): ${result.firstBad.detail}. ${result.events} events before it verify.`,
        );
      return result.ok ? EXIT.inSync : EXIT.failed;
    }
    if (action === 'rebuild') {
      const result = await journal.rebuild();
      if (output.json) output.out(JSON.stringify(result));
      else {
        output.out(
          `rebuilt every projection from ${result.events} events: ${result.matched ? 'they matched the live tables' : 'some differed and were repaired'}`,
        );
        for (const [table, t] of Object.entries(result.tables)) {
          if (!t.matched)
            output.out(`  ${table}: ${t.rowsBefore} rows before, ${t.rowsAfter} after`);
        }
      }
      // Tables that did not match their events are a finding, even repaired: exit 1.
      return result.matched ? EXIT.inSync : EXIT.failed;
    }
    if (action === 'export') {
      // One event per line (NDJSON), paged so a long journal never sits in memory.
      for await (const event of eachEvent(journal)) output.out(JSON.stringify(event));
      return EXIT.inSync;
    }
    throw new UsageError(`journal ${action}: use verify, rebuild, export, backup or restore.`);
  });
}

/** Files in sync and open conflicts per project (top-level folder; `/` for root files). */
function perProject(
  baseline: readonly { path: string }[],
  conflicts: readonly { path: string }[],
): Record<string, { files: number; openConflicts: number }> {
  const out = new Map<string, { files: number; openConflicts: number }>();
  const at = (path: string) => {
    const name = projectOf(path);
    const entry = out.get(name) ?? { files: 0, openConflicts: 0 };
    out.set(name, entry);
    return entry;
  };
  for (const b of baseline) if (!b.path.startsWith('.syncjournal/')) at(b.path).files++;
  for (const c of conflicts) at(c.path).openConflicts++;
  return Object.fromEntries([...out].sort(([a], [b]) => comparePaths(a, b)));
}
