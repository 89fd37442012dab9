import { mkdir } from 'node:fs/promises';
import {
  type ConflictPolicy,
  createSyncEngine,
  JournalLockedError,
  type RunReport,
  type RunStatus,
  type SafetyProfile,
  SyncJournalError,
} from '@syncjournal/core';
import { nodeHasher } from '../../node-hasher.js';
import { openJournal } from '../../open-journal.js';
import { LockHeldError, PidLock } from '../../pid-lock.js';
import { EXIT, exitCodeFor, worstStatus } from '../exit-codes.js';
import {
  filterFor,
  normalizeLocal,
  normalizeRemote,
  openSides,
  refuseNesting,
  UsageError,
} from '../open-pair.js';
import { formatPlan, formatReport, type Output } from '../output.js';
import { progressReporter } from '../progress.js';
import { type PairConfig, StateDir } from '../state-dir.js';

/** Flags of `syncjournal sync`. */
export interface SyncFlags {
  stateDir?: string;
  dryRun?: boolean;
  profile?: string;
  maxDelete?: string;
  force?: boolean;
  exclude?: string[];
  include?: string[];
  ignoreFile?: string;
  conflict?: string;
  concurrency?: string;
}

const PROFILES = ['safe', 'balanced', 'fast'];
const POLICIES = ['keep-both', 'prefer-local', 'prefer-remote', 'newer'];

/**
 * `syncjournal sync [<local> <remote>]`: the first run of a pair creates and remembers
 * it; with no arguments, every remembered pair is synced, one lock each.
 */
export async function syncCommand(
  local: string | undefined,
  remote: string | undefined,
  flags: SyncFlags,
  output: Output,
): Promise<number> {
  if ((local === undefined) !== (remote === undefined)) {
    throw new UsageError(
      'Give both a local folder and a remote (syncjournal sync <local> <remote>), or neither to sync every remembered pair.',
    );
  }
  if (flags.profile && !PROFILES.includes(flags.profile)) {
    throw new UsageError(
      `--profile must be one of ${PROFILES.join(', ')}, not "${flags.profile}".`,
    );
  }
  if (flags.conflict && !POLICIES.includes(flags.conflict)) {
    throw new UsageError(
      `--conflict must be one of ${POLICIES.join(', ')}, not "${flags.conflict}".`,
    );
  }
  const maxDelete = parseCount(flags.maxDelete, '--max-delete');
  const concurrency = parseCount(flags.concurrency, '--concurrency');
  const state = await StateDir.open(StateDir.locate(flags.stateDir));

  let pairs: PairConfig[];
  let createdPair: string | undefined;
  if (local !== undefined && remote !== undefined) {
    const { pair, created } = await state.pairFor(normalizeLocal(local), normalizeRemote(remote), {
      ...(flags.profile ? { profile: flags.profile as SafetyProfile } : {}),
      ...(flags.exclude?.length ? { exclude: flags.exclude } : {}),
      ...(flags.include?.length ? { include: flags.include } : {}),
      ...(flags.ignoreFile ? { ignoreFile: normalizeLocal(flags.ignoreFile) } : {}),
      ...(flags.conflict ? { conflict: flags.conflict } : {}),
    });
    await refuseNesting(pair, state);
    // A new pair may sync into a folder that does not exist yet; a remembered pair
    // whose folder vanished is refused by the tree (an unmounted drive is not "empty").
    if (created) {
      await mkdir(pair.local, { recursive: true });
      createdPair = pair.id;
    }
    pairs = [pair];
  } else {
    pairs = state.config.pairs;
    if (pairs.length === 0) {
      throw new UsageError('No pairs yet. Sync a folder first: syncjournal sync <local> <remote>.');
    }
  }

  const results: Array<{ pair: PairConfig; report: RunReport; plan: unknown[] }> = [];
  for (const pair of pairs) {
    await refuseNesting(pair, state);
    const { report, plan } = await syncPair(
      pair,
      state,
      { ...flags, maxDelete, concurrency },
      output,
      pair.id === createdPair,
    );
    results.push({ pair, report, plan });
  }

  const status: RunStatus = worstStatus(results.map((r) => r.report.status));
  if (output.json) {
    const one = (r: (typeof results)[number]) => ({
      ...r.report,
      pair: { id: r.pair.id, local: r.pair.local, remote: r.pair.remote },
      dryRun: flags.dryRun ?? false,
      ...(flags.dryRun ? { plan: r.plan } : {}),
    });
    output.out(
      JSON.stringify(results.length === 1 ? one(results[0]!) : { status, pairs: results.map(one) }),
    );
  }
  return exitCodeFor(status);
}

async function syncPair(
  pair: PairConfig,
  state: StateDir,
  flags: Omit<SyncFlags, 'maxDelete' | 'concurrency'> & {
    maxDelete: number | undefined;
    concurrency: number | undefined;
  },
  output: Output,
  created: boolean,
) {
  let lock: PidLock;
  try {
    lock = await PidLock.acquire(
      state.lockPath(pair.id),
      `The pair ${pair.local} ⇄ ${pair.remote}`,
    );
  } catch (error) {
    if (error instanceof LockHeldError) throw new PairLockedError(error.message);
    throw error;
  }
  const progress = progressReporter(output);
  try {
    const journal = await openJournal(state.journalDir).catch((error: unknown) => {
      if (error instanceof JournalLockedError) throw new PairLockedError(error.message);
      throw error;
    });
    try {
      const { tree, store } = await openSides(pair, state, created);
      const filter = await filterFor(pair);
      const engine = createSyncEngine({
        tree,
        store,
        journal,
        hasher: nodeHasher,
        pair: { id: pair.id, local: pair.local, remote: pair.remote },
        clientId: state.config.clientId,
        profile: (flags.profile as SafetyProfile | undefined) ?? pair.profile ?? 'balanced',
        ...(flags.maxDelete !== undefined ? { maxDelete: flags.maxDelete } : {}),
        force: flags.force ?? false,
        policy: (flags.conflict ?? pair.conflict ?? 'keep-both') as ConflictPolicy,
        ...(filter ? { filter } : {}),
        ...(flags.concurrency !== undefined ? { concurrency: flags.concurrency } : {}),
        ...(progress.onProgress ? { onProgress: progress.onProgress } : {}),
      });
      const result = await engine.sync({ dryRun: flags.dryRun ?? false });
      progress.stop();
      if (!output.json) {
        const title = `${pair.local} ⇄ ${pair.remote}`;
        if (flags.dryRun) {
          output.out(`${title} — dry run, nothing applied. The plan:`);
          for (const line of formatPlan(result.plan)) output.out(line);
          if (result.report.blocked)
            output.out(
              `  blocked by ${result.report.blocked.guard}: ${result.report.blocked.reason}`,
            );
        } else {
          for (const line of formatReport(result.report, title)) output.out(line);
        }
      }
      return result;
    } finally {
      await journal.close();
    }
  } finally {
    progress.stop();
    await lock.release();
  }
}

/** Another sync of this pair (or of this state dir's journal) is running: exit 5. */
export class PairLockedError extends SyncJournalError {
  readonly exitCode = EXIT.locked;
  constructor(message: string) {
    super('locked', message);
  }
}

function parseCount(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new UsageError(`${flag} needs a whole number, not "${value}".`);
  return n;
}
