import { readdir } from 'node:fs/promises';
import {
  type Journal,
  listJournalBackups,
  type ObjectStore,
  pruneRemoteTrash,
  type RunStatus,
  readSnapshotMarker,
  rebuildBaseFromSnapshot,
  runSnapshots,
  type SafetyProfile,
} from '@syncjournal/core';
import { nodeHasher } from '../../node-hasher.js';
import { EXIT, exitCodeFor, worstStatus } from '../exit-codes.js';
import { backupTo, restoreFromBackup, stateDirExists } from '../journal-backup.js';
import {
  normalizeLocal,
  normalizeRemote,
  openRemote,
  prepareNewPair,
  refuseNesting,
  UsageError,
  wholeNumber,
} from '../open-pair.js';
import { errorJson, formatPlan, formatReport, type Output } from '../output.js';
import { progressReporter } from '../progress.js';
import { eachPair, engineFor, PairLockedError, withPairSession } from '../session.js';
import { type PairConfig, StateDir } from '../state-dir.js';

/** Flags of `syncjournal sync`. */
export interface SyncFlags {
  stateDir?: string;
  dryRun?: boolean;
  profile?: string;
  maxDelete?: string;
  force?: boolean;
  allowEmpty?: boolean;
  exclude?: string[];
  include?: string[];
  ignoreFile?: string;
  conflict?: string;
  concurrency?: string;
  clientId?: string;
  backupJournal?: boolean;
  projects?: boolean;
  trashRetentionDays?: string;
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
  const retention = parseCount(flags.trashRetentionDays, '--trash-retention-days');
  const concurrency = parseCount(flags.concurrency, '--concurrency');
  const root = StateDir.locate(flags.stateDir);
  if (local !== undefined && remote !== undefined)
    await refuseNesting(normalizeLocal(local), normalizeRemote(remote), root);
  const fresh = !(await stateDirExists(root));
  const state = await StateDir.open(root, flags.clientId);
  // A new host (a fresh state dir) whose client id was given carries on from that
  // client's journal backup in the bucket, if there is one, rather than starting blind.
  const givenId = flags.clientId ?? process.env.SYNCJOURNAL_CLIENT_ID;
  let seedSnapshot: string | undefined;
  if (
    fresh &&
    givenId !== undefined &&
    !state.sharedJournal &&
    local !== undefined &&
    remote !== undefined
  ) {
    seedSnapshot = (
      await restoreOnNewHost(state, normalizeLocal(local), normalizeRemote(remote), output)
    ).snapshot;
  }

  let pairs: PairConfig[];
  let createdPair: string | undefined;
  if (local !== undefined && remote !== undefined) {
    const [localPath, remoteUrl] = [normalizeLocal(local), normalizeRemote(remote)];
    // A new pair may sync into a folder that does not exist yet; a remembered pair
    // whose folder vanished is refused by the tree (an unmounted drive is not "empty").
    if (!state.pairAt(localPath, remoteUrl)) {
      await prepareNewPair(localPath, remoteUrl);
    }
    const { pair, created } = await state.pairFor(localPath, remoteUrl, {
      ...(flags.profile ? { profile: flags.profile as SafetyProfile } : {}),
      ...(flags.exclude?.length ? { exclude: flags.exclude } : {}),
      ...(flags.include?.length ? { include: flags.include } : {}),
      ...(flags.ignoreFile ? { ignoreFile: normalizeLocal(flags.ignoreFile) } : {}),
      ...(flags.conflict ? { conflict: flags.conflict } : {}),
      ...(flags.projects ? { projects: true } : {}),
      ...(retention !== undefined ? { trashRetentionDays: retention } : {}),
    });
    if (created) createdPair = pair.id;
    pairs = [pair];
  } else {
    pairs = state.config.pairs;
    if (pairs.length === 0) {
      throw new UsageError('No pairs yet. Sync a folder first: syncjournal sync <local> <remote>.');
    }
  }

  const results = await eachPair(pairs, output, async (pair) => {
    await refuseNesting(pair.local, pair.remote, state.root, { pairId: pair.id });
    return syncPair(
      pair,
      state,
      { ...flags, maxDelete, concurrency },
      output,
      pair.id === createdPair,
      pair.id === createdPair ? seedSnapshot : undefined,
    );
  });

  const failures = results.flatMap((r) => ('error' in r ? [r.error] : []));
  const status: RunStatus = worstStatus(
    results.map((r) => ('error' in r ? 'failed' : r.value.report.status)),
  );
  if (output.json) {
    const one = (r: (typeof results)[number]) => {
      const pair = { id: r.pair.id, local: r.pair.local, remote: r.pair.remote };
      if ('error' in r) return { status: 'failed', pair, error: errorJson(r.error) };
      return {
        ...r.value.report,
        pair,
        dryRun: flags.dryRun ?? false,
        ...(flags.dryRun ? { plan: r.value.plan } : {}),
      };
    };
    output.out(
      JSON.stringify(results.length === 1 ? one(results[0]!) : { status, pairs: results.map(one) }),
    );
  }
  // Pairs that did not run only because another process held them: try again later.
  const locked = failures.length > 0 && failures.every((e) => e instanceof PairLockedError);
  const othersFailed = results.some((r) => 'value' in r && r.value.report.status === 'failed');
  return locked && !othersFailed ? EXIT.locked : exitCodeFor(status);
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
  seedSnapshot?: string,
) {
  const progress = progressReporter(output);
  try {
    return await withPairSession(pair, state, created, async (session) => {
      // A client new to a shared journal: the team's last snapshot of this bucket,
      // recorded by any client's run, is a base as good as its own would be.
      if (seedSnapshot === undefined && created && state.sharedJournal) {
        seedSnapshot = await lastSnapshotOf(await session.journal, pair.remote, session.store);
      }
      if (seedSnapshot !== undefined) {
        const base = await rebuildBaseFromSnapshot(
          {
            ...session,
            journal: await session.journal,
            clientId: state.config.clientId,
            hasher: nodeHasher,
          },
          seedSnapshot,
        );
        output.err(
          `new pair: rebuilt the base of ${base.seeded.length} of ${base.examined} file(s) from bucket snapshot ${seedSnapshot}, the last one ${state.sharedJournal ? 'recorded in the shared journal' : `client ${state.config.clientId} noted in the bucket`} (files that differ from it have no base: nothing is deleted for them)`,
        );
      }
      const engine = engineFor(session, state, {
        ...flags,
        ...(progress.onProgress ? { onProgress: progress.onProgress } : {}),
      });
      const result = await engine.sync({ dryRun: flags.dryRun ?? false });
      progress.stop();
      const synced = result.report.status === 'in-sync' || result.report.status === 'conflicts';
      if (
        pair.trashRetentionDays !== undefined &&
        !flags.dryRun &&
        synced &&
        !session.store.capabilities.versioning
      ) {
        const { pruned } = await pruneRemoteTrash(
          { ...session, journal: await session.journal, clientId: state.config.clientId },
          { olderThanMs: pair.trashRetentionDays * 86_400_000, now: Date.now() },
        );
        if (pruned.length)
          output.err(
            `removed ${pruned.length} remote trash cop${pruned.length === 1 ? 'y' : 'ies'} older than ${pair.trashRetentionDays} day(s) (journaled; syncjournal log shows them as pruned)`,
          );
      }
      if (flags.backupJournal && !flags.dryRun && synced) {
        const backup = await backupTo(await session.journal, session.store, state);
        output.err(
          `journal backed up to ${pair.remote} as ${backup.key} (${backup.events} events, verified)`,
        );
      }
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

/** The newest snapshot any run on `remote` recorded in the journal (stores with snapshots). */
async function lastSnapshotOf(
  journal: Journal,
  remote: string,
  store: ObjectStore,
): Promise<string | undefined> {
  if (!store.capabilities.snapshots) return undefined;
  return (await runSnapshots(journal, { remote }))[0]?.snapshot;
}

/**
 * A new host of a known client: restores the client's newest journal backup from the
 * remote, when it has one; else, on a bucket with snapshots, returns the snapshot the
 * client last noted there, to rebuild the new pair's base from.
 */
async function restoreOnNewHost(
  state: StateDir,
  local: string,
  remote: string,
  output: Output,
): Promise<{ snapshot?: string }> {
  let store: Awaited<ReturnType<typeof openRemote>>;
  try {
    store = await openRemote(remote, false);
  } catch {
    return {}; // No bucket yet (a folder bucket this sync will create): nothing to restore.
  }
  const clientId = state.config.clientId;
  const [latest] = await listJournalBackups(store, clientId);
  const marker =
    !latest && store.capabilities.snapshots ? await readSnapshotMarker(store, clientId) : undefined;
  if (!latest && !marker) return {};
  const entries = await readdir(local).catch(() => []);
  if (entries.length === 0) {
    // A baseline describes files this host does not have: against an empty folder it
    // would read as "everything deleted here". Start without it instead.
    output.err(
      `new state dir: client ${clientId} has ${latest ? `a journal backup in ${remote} (${latest.key})` : `a snapshot noted in ${remote} (${marker!.snapshot})`}, but ${local} is empty or missing, so its baseline would not describe this folder; syncing without it (nothing is deleted on a first sync).${latest ? ' Restore it deliberately with syncjournal journal restore into a fresh state dir.' : ''}`,
    );
    return {};
  }
  if (!latest) return { snapshot: marker!.snapshot };
  const restored = await restoreFromBackup(state, store, latest.key, { path: local, remote });
  output.err(
    `new state dir: restored client ${clientId}'s journal from ${remote} ${latest.key} (${restored.events} events, verified); syncing with its baseline`,
  );
  return {};
}

function parseCount(value: string | undefined, flag: string): number | undefined {
  return value === undefined ? undefined : wholeNumber(value, flag, 0);
}
