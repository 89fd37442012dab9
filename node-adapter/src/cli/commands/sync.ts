import { mkdir } from 'node:fs/promises';
import type { RunReport, RunStatus, SafetyProfile } from '@syncjournal/core';
import { exitCodeFor, worstStatus } from '../exit-codes.js';
import { normalizeLocal, normalizeRemote, refuseNesting, UsageError } from '../open-pair.js';
import { formatPlan, formatReport, type Output } from '../output.js';
import { progressReporter } from '../progress.js';
import { engineFor, withPairSession } from '../session.js';
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
  const progress = progressReporter(output);
  try {
    return await withPairSession(pair, state, created, async (session) => {
      const engine = engineFor(session, state, {
        ...flags,
        ...(progress.onProgress ? { onProgress: progress.onProgress } : {}),
      });
      const result = await engine.sync({ dryRun: flags.dryRun ?? false });
      progress.stop();
      if (!output.json) {
        const title = `${pair.local} ⇄ ${pair.remote}`;
        if (flags.dryRun) {
          output.out(`${title} — dry run, nothing applied. The plan:`);
          for (const line of formatPlan(result.plan)) output.out(line);
          const blocked = result.report.blocked;
          if (blocked) output.out(`  blocked by ${blocked.guard}: ${blocked.reason}`);
        } else {
          for (const line of formatReport(result.report, title)) output.out(line);
        }
      }
      return result;
    });
  } finally {
    progress.stop();
  }
}

function parseCount(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new UsageError(`${flag} needs a whole number, not "${value}".`);
  return n;
}
