import {
  type Keep,
  NoOpenConflictError,
  NotFoundError,
  pathTimeline,
  replayPlan,
  resolveConflict,
  restoreFromSnapshot,
  restoreVersion,
  runSnapshots,
  SyncJournalError,
  type UserActionContext,
} from '@syncjournal/core';
import { nodeHasher } from '../../node-hasher.js';
import { EXIT } from '../exit-codes.js';
import { excludedBySpec, UsageError, wholeNumber } from '../open-pair.js';
import { errorJson, formatPlan, type Output } from '../output.js';
import { pickPair } from '../pick-pair.js';
import { eachPair, engineFor, lockPair, type PairSession, withPairSession } from '../session.js';
import { StateDir } from '../state-dir.js';
import { withJournal } from './inspect.js';

/**
 * `syncjournal audit [run]`: verifies the hash chain, then replays each run's journaled
 * inputs through the reconciler; the plan must be the one the run recorded.
 */
export async function auditCommand(
  run: string | undefined,
  flags: { stateDir?: string },
  output: Output,
): Promise<number> {
  const only = run === undefined ? undefined : wholeNumber(run, 'A run', 1);
  return withJournal(flags.stateDir, output, async (journal) => {
    const chain = await journal.verify();
    const events = await journal.events();
    const runs =
      only !== undefined ? [only] : (await journal.runs()).map((r) => r.run).sort((a, b) => a - b);
    if (only !== undefined && !events.some((e) => e.kind === 'run.started' && e.run === only)) {
      throw new SyncJournalError(
        'not-found',
        `There is no run ${run} in this journal. Nothing was checked; syncjournal history lists the runs.`,
      );
    }
    const results = [];
    for (const n of runs) {
      const replay = replayPlan(events, n, {
        hasher: nodeHasher,
        excludedFor: (spec) => excludedBySpec(spec),
      });
      if (replay)
        results.push({
          run: n,
          matches: replay.matches,
          recorded: replay.recorded,
          replayed: replay.replayed,
        });
    }
    const ok = chain.ok && results.every((r) => r.matches);
    if (output.json) output.out(JSON.stringify({ ok, chain, runs: results }));
    else {
      output.out(
        chain.ok
          ? `hash chain: ${chain.events} events verify`
          : `hash chain: event ${chain.firstBad.seq} is bad (${chain.firstBad.reason}): ${chain.firstBad.detail}`,
      );
      for (const r of results) {
        output.out(
          `run ${r.run}: ${r.matches ? 'the replayed plan matches the recorded one' : `MISMATCH (recorded ${r.recorded.slice(0, 12)}…, replayed ${r.replayed.slice(0, 12)}…)`}`,
        );
      }
      output.out(
        ok ? 'audit passed' : 'audit FAILED: the journal does not account for what was done',
      );
    }
    return ok ? EXIT.inSync : EXIT.failed;
  });
}

/** `syncjournal log <path>`: the timeline of one path across runs and clients. */
export async function logCommand(
  pathArg: string,
  flags: { stateDir?: string; pair?: string },
  output: Output,
): Promise<number> {
  return withJournal(flags.stateDir, output, async (journal, state) => {
    const { pair, path } = pickPair(state, pathArg, flags.pair);
    // In a shared journal every client has its own pair on the same bucket: their
    // events about this path are part of its story too.
    const sameRemote = new Set([pair.id]);
    if (state.sharedJournal) {
      for (const r of await journal.runs()) if (r.remote === pair.remote) sameRemote.add(r.pairId);
    }
    const entries = (await pathTimeline(journal, [...sameRemote], path)).map((e) => ({
      run: e.run,
      client: e.client,
      at: e.at,
      kind: e.kind,
      seq: e.seq,
      text: e.text,
    }));
    // Runs of this pair that left a bucket snapshot: the path can be read as of each.
    const snapshots = (await runSnapshots(journal, { pairId: pair.id })).reverse();
    if (output.json) output.out(JSON.stringify({ pair: pair.id, path, entries, snapshots }));
    else if (entries.length === 0) output.out(`nothing recorded for ${path} in ${pair.local}`);
    else {
      output.out(`${path} in ${pair.local} ⇄ ${pair.remote}`);
      for (const e of entries)
        output.out(
          `  run ${String(e.run).padStart(4)}  ${e.at}  ${e.client ?? '?'}  ${e.kind.padEnd(17)} ${e.text}`,
        );
      if (snapshots.length) {
        output.out(
          `  bucket snapshots after runs ${snapshots.map((x) => x.run).join(', ')}: syncjournal restore ${path} --as-of-run N reads it as of one`,
        );
      }
    }
    return EXIT.inSync;
  });
}

/** `syncjournal restore <path> [--run N]`: brings back a version a run deleted or replaced. */
export async function restoreCommand(
  pathArg: string,
  flags: { stateDir?: string; pair?: string; run?: string; asOfRun?: string },
  output: Output,
): Promise<number> {
  if (flags.asOfRun !== undefined && flags.run !== undefined) {
    throw new UsageError('Give --run or --as-of-run, not both.');
  }
  const asOf =
    flags.asOfRun === undefined ? undefined : wholeNumber(flags.asOfRun, '--as-of-run', 1);
  const runNumber = flags.run === undefined ? undefined : wholeNumber(flags.run, '--run', 1);
  const state = await StateDir.open(StateDir.locate(flags.stateDir));
  const { pair, path } = pickPair(state, pathArg, flags.pair);
  return withPairSession(pair, state, false, async (session) => {
    const ctx = await userContext(session, state);
    // Either the file as run N left the bucket (its snapshot), or a version a run replaced.
    const restored = await (asOf !== undefined
      ? restoreFromSnapshot(ctx, path, asOf)
      : restoreVersion(ctx, path, runNumber)
    ).catch((error: unknown) => {
      if (!(error instanceof NotFoundError)) throw error;
      throw new UsageError(
        asOf !== undefined
          ? `Run ${asOf} recorded no bucket snapshot holding ${path} (snapshots are taken on Tigris buckets with snapshots enabled); see syncjournal history and syncjournal log ${path}.`
          : `No deleted or replaced version of ${path} is recorded${flags.run ? ` in run ${flags.run}` : ''} and still kept (a trash retention may have pruned it); see syncjournal log ${path}.`,
      );
    });
    if (output.json)
      output.out(
        JSON.stringify({
          restored: path,
          to: restored.to,
          from: restored.from,
          fromRun: restored.fromRun,
        }),
      );
    else
      output.out(
        `restored ${path} ${asOf !== undefined ? `as run ${asOf} left the bucket (snapshot ${restored.from.snapshot})` : `as it was before run ${restored.fromRun}`} to ${restored.to}; the next sync uploads it.`,
      );
    return EXIT.inSync;
  });
}

/** What the core's user actions need from a CLI session. */
async function userContext(session: PairSession, state: StateDir): Promise<UserActionContext> {
  return {
    tree: session.tree,
    store: session.store,
    journal: await session.journal,
    pair: session.pair,
    clientId: state.config.clientId,
  };
}

/** `syncjournal conflicts resolve <path> --keep local|remote|both`. */
export async function resolveCommand(
  pathArg: string,
  flags: { stateDir?: string; pair?: string; keep?: string },
  output: Output,
): Promise<number> {
  if (!['local', 'remote', 'both'].includes(flags.keep ?? '')) {
    throw new UsageError('Say which version to keep: --keep local, --keep remote or --keep both.');
  }
  const state = await StateDir.open(StateDir.locate(flags.stateDir));
  const { pair, path } = pickPair(state, pathArg, flags.pair);
  return withPairSession(pair, state, false, async (session) => {
    const { resolution, kept } = await resolveConflict(
      await userContext(session, state),
      path,
      flags.keep as Keep,
    ).catch((error: unknown) => {
      if (error instanceof NoOpenConflictError) {
        throw new UsageError(`${path} has no open conflict; see syncjournal conflicts.`);
      }
      throw error;
    });
    if (output.json) output.out(JSON.stringify({ resolved: path, resolution, kept }));
    else
      output.out(
        `${path}: ${resolution}; ${kept.length ? `the other version is in the trash (${kept.map((k) => k.trash).join(', ')})` : 'both files stay'}. The next sync carries it to the bucket.`,
      );
    return EXIT.inSync;
  });
}

/** `syncjournal check [<local> <remote>]`: compares both sides without transferring anything. */
export async function checkCommand(
  flags: { stateDir?: string; pair?: string },
  output: Output,
): Promise<number> {
  const state = await StateDir.open(StateDir.locate(flags.stateDir));
  const pairs = flags.pair
    ? state.config.pairs.filter((p) => p.id === flags.pair)
    : state.config.pairs;
  if (pairs.length === 0)
    throw new UsageError(
      flags.pair
        ? `There is no pair ${flags.pair}.`
        : 'No pairs yet: syncjournal sync <local> <remote>.',
    );
  // A pair that cannot be opened is reported; the others are still compared.
  const outcomes = await eachPair(pairs, output, async (pair) => {
    const { plan, report } = await withPairSession(pair, state, false, (session) =>
      engineFor(session, state, {}).sync({ dryRun: true }),
    );
    const ops = plan.filter((op) => op.action !== 'skip');
    if (!output.json) {
      output.out(
        `${pair.local} ⇄ ${pair.remote}: ${ops.length === 0 ? 'in sync' : `${ops.length} difference(s)`}`,
      );
      if (ops.length) for (const line of formatPlan(ops)) output.out(line);
    }
    return { differences: ops.length, plan, errors: report.errors };
  });
  const all = outcomes.map((o) =>
    'error' in o ? { pair: o.pair.id, error: errorJson(o.error) } : { pair: o.pair.id, ...o.value },
  );
  const inSync = outcomes.every((o) => 'value' in o && o.value.differences === 0);
  if (output.json) output.out(JSON.stringify({ inSync, pairs: all }));
  return inSync ? EXIT.inSync : EXIT.failed;
}

/**
 * `syncjournal forget <pair>`: stops syncing a pair (a folder moved for good, a bucket
 * retired). Nothing is deleted: its runs stay in the journal, its trash stays where it
 * is. Syncing the same places again makes a new pair, which starts without a baseline
 * (nothing deleted, identical files adopted).
 */
export async function forgetCommand(
  pairId: string,
  flags: { stateDir?: string },
  output: Output,
): Promise<number> {
  const state = await StateDir.open(StateDir.locate(flags.stateDir));
  const pair = state.config.pairs.find((p) => p.id === pairId);
  if (!pair) {
    throw new UsageError(
      `There is no pair ${pairId}; syncjournal status lists the pairs with their ids. Nothing was changed.`,
    );
  }
  const lock = await lockPair(pair, state);
  let trashKept: boolean;
  try {
    trashKept = await state.forget(pair);
  } finally {
    await lock.release();
  }
  const trash = trashKept ? state.trashDir(pair.id) : null;
  if (output.json) {
    output.out(
      JSON.stringify({ forgot: { id: pair.id, local: pair.local, remote: pair.remote }, trash }),
    );
  } else {
    output.out(
      `forgot ${pair.id} (${pair.local} ⇄ ${pair.remote}); nothing was deleted: its runs stay in the journal${trash ? `, its trash in ${trash}` : ''}. Syncing the same places again makes a new pair.`,
    );
  }
  return EXIT.inSync;
}
