import { access, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import {
  type BackupCodec,
  backupJournal,
  type Journal,
  type JournalBackupResult,
  JournalLockedError,
  listJournalBackups,
  type ObjectStore,
  readJournalBackup,
  replayJournalBackup,
  SyncJournalError,
} from '@syncjournal/core';
import { nodeHasher } from '../node-hasher.js';
import { lockJournalDir, openJournal } from '../open-journal.js';
import { EXIT } from './exit-codes.js';
import { normalizeRemote, openRemote, UsageError, wholeNumber } from './open-pair.js';
import type { Output } from './output.js';
import { openStateJournal, PairLockedError } from './session.js';
import { type PairConfig, type StateConfig, StateDir } from './state-dir.js';

/** Backups are gzipped NDJSON: events compress about tenfold. */
export const gzipCodec: BackupCodec = {
  extension: '.gz',
  encode: async (bytes) => new Uint8Array(await promisify(gzip)(bytes)),
  decode: async (bytes) => new Uint8Array(await promisify(gunzip)(bytes)),
};

/** What the CLI keeps in a backup besides the events: its pairs, so a new host can carry on. */
interface BackupState {
  config: Pick<StateConfig, 'clientId' | 'pairs'>;
}

/** Backs up `journal` to one remote's bucket (see `backupJournal` in core). */
export function backupTo(
  journal: Journal,
  store: ObjectStore,
  state: StateDir,
  keep?: number,
): Promise<JournalBackupResult> {
  const extra: BackupState = {
    config: { clientId: state.config.clientId, pairs: state.config.pairs },
  };
  return backupJournal({
    journal,
    store,
    hasher: nodeHasher,
    clientId: state.config.clientId,
    state: extra,
    codec: gzipCodec,
    ...(keep === undefined ? {} : { keep }),
  });
}

/** `syncjournal journal backup [--pair id] [--keep n]`. */
export async function journalBackupCommand(
  flags: { stateDir?: string; pair?: string; keep?: string },
  output: Output,
): Promise<number> {
  const keep = flags.keep === undefined ? undefined : wholeNumber(flags.keep, '--keep', 1);
  const state = await StateDir.open(StateDir.locate(flags.stateDir));
  const pairs = flags.pair
    ? state.config.pairs.filter((p) => p.id === flags.pair)
    : state.config.pairs;
  if (pairs.length === 0) {
    throw new UsageError(
      flags.pair
        ? `No pair ${flags.pair}; see syncjournal status.`
        : 'No pairs yet: a backup goes to a pair’s bucket. Sync a folder first.',
    );
  }
  const remotes = [...new Set(pairs.map((p) => p.remote))];
  const journal = await openStateJournal(state);
  const results: Array<JournalBackupResult & { remote: string }> = [];
  try {
    for (const remote of remotes) {
      const store = await openRemote(remote, false);
      results.push({ remote, ...(await backupTo(journal, store, state, keep)) });
    }
  } finally {
    await journal.close();
  }
  if (output.json)
    output.out(JSON.stringify({ clientId: state.config.clientId, backups: results }));
  else {
    for (const r of results) {
      output.out(
        `backed up ${r.events} events (head ${r.head.hash.slice(0, 12)}…, ${r.bytes} bytes) to ${r.remote} as ${r.key}; read back and verified`,
      );
      for (const key of r.pruned) output.out(`  removed the older backup ${key}`);
    }
  }
  return EXIT.inSync;
}

/** `syncjournal journal restore [--from remote] [--key key]`. */
export async function journalRestoreCommand(
  flags: { stateDir?: string; from?: string; key?: string; clientId?: string },
  output: Output,
): Promise<number> {
  const state = await StateDir.open(StateDir.locate(flags.stateDir), flags.clientId);
  const remotes = [...new Set(state.config.pairs.map((p) => p.remote))];
  const remote = flags.from
    ? normalizeRemote(flags.from)
    : remotes.length === 1
      ? remotes[0]
      : undefined;
  if (!remote) {
    throw new UsageError(
      remotes.length === 0
        ? 'Which bucket holds the backup? Give --from s3://bucket/prefix (or a folder).'
        : `Several remotes are remembered (${remotes.join(', ')}); choose one with --from.`,
    );
  }
  const store = await openRemote(remote, false);
  const key = flags.key ?? (await listJournalBackups(store, state.config.clientId))[0]?.key;
  if (!key) {
    throw new UsageError(
      `${remote} holds no journal backup of client ${state.config.clientId}. Nothing was changed. (A backup is written by syncjournal journal backup, or sync --backup-journal.)`,
    );
  }
  const restored = await restoreFromBackup(state, store, key);
  if (output.json) output.out(JSON.stringify({ restored: key, remote, ...restored }));
  else
    output.out(
      `restored ${restored.events} events (head ${restored.head.hash.slice(0, 12)}…) from ${remote} ${key}; verified before and after${restored.pairs.length ? `; pairs: ${restored.pairs.join(', ')}` : ''}`,
    );
  return EXIT.inSync;
}

/**
 * Restores a backup into the state dir's journal, which must hold no events: the
 * backup is read and its chain verified, replayed into a new journal beside the real
 * one, verified again, and only then moved into place. The backup's pairs are added
 * to the config (a pair whose folder moved keeps its id when `local` names the new place).
 */
export async function restoreFromBackup(
  state: StateDir,
  store: ObjectStore,
  key: string,
  local?: { path: string; remote: string },
): Promise<{ events: number; head: { seq: number; hash: string }; pairs: string[] }> {
  if (state.sharedJournal) {
    throw new UsageError(
      'This state dir uses a shared journal on a PostgreSQL server: nothing of it is lost with the host, and a backup is restored only into a state dir’s own journal. Nothing was changed.',
    );
  }
  const backup = await readJournalBackup(store, key, nodeHasher, gzipCodec);
  // The journal's lock is held from the emptiness check to the verify after the move: a
  // sync starting meanwhile waits for it (exit 5), and cannot write into a journal that
  // is then replaced.
  const lock = await lockJournalDir(
    state.journalDir,
    `Restoring the journal at ${state.journalDir}`,
  ).catch((error: unknown) => {
    if (error instanceof JournalLockedError) throw new PairLockedError(error.message);
    throw error;
  });
  let result: { events: number; head: { seq: number; hash: string } };
  try {
    if (await exists(state.journalDir)) {
      const current = await openJournal(state.journalDir, { heldLock: lock });
      try {
        if ((await current.events({ limit: 1 })).length > 0) {
          throw new SyncJournalError(
            'journal-not-empty',
            `The journal in ${state.root} already holds events; a backup is only restored into an empty one. Nothing was changed. Move the state dir aside (or use another --state-dir) to restore.`,
          );
        }
      } finally {
        await current.close();
      }
    }
    const staging = `${state.journalDir}.restoring-${process.pid}`;
    await rm(staging, { recursive: true, force: true });
    const journal = await openJournal(staging);
    try {
      result = await replayJournalBackup(journal, backup);
    } catch (error) {
      await journal.close();
      await rm(staging, { recursive: true, force: true });
      throw error;
    }
    await journal.close();
    await rm(state.journalDir, { recursive: true, force: true });
    await rename(staging, state.journalDir);
    const after = await openJournal(state.journalDir, { heldLock: lock });
    try {
      const verdict = await after.verify();
      if (!verdict.ok || verdict.head.hash !== result.head.hash) {
        throw new SyncJournalError(
          'journal-restore-failed',
          `The restored journal in ${state.journalDir} does not verify after the move; do not sync with it. Move it aside and restore again.`,
        );
      }
    } finally {
      await after.close();
    }
    // Still under the journal's lock: a sync that remembered one of these places as a
    // new pair meanwhile finds, once it holds the lock, that the restored pair took its
    // place (and stops, exit 5), rather than sync blind under an id with no baseline.
    const restored = (backup.header.state as BackupState | undefined)?.config.pairs ?? [];
    const pairs = await state.update((config) => mergePairs(config, restored, local));
    return { ...result, pairs };
  } finally {
    await lock.release();
  }
}

/**
 * Adds the backup's pairs to `config` as it is now. Pairs a command remembered
 * meanwhile stay, except one for the same folder and bucket as a restored pair: it
 * cannot have synced (the journal was empty, and has been locked since), and the
 * restored pair, whose baseline is in the journal, takes its place.
 */
function mergePairs(
  config: StateConfig,
  restored: PairConfig[],
  local?: { path: string; remote: string },
): string[] {
  const added: string[] = [];
  for (const pair of restored) {
    if (config.pairs.some((p) => p.id === pair.id)) continue;
    const moved =
      local &&
      pair.remote === local.remote &&
      pair.local !== local.path &&
      restored.filter((p) => p.remote === local.remote).length === 1 &&
      !restored.some((p) => p.local === local.path && p.remote === local.remote);
    const placed = moved ? { ...pair, local: local.path } : pair;
    const same = config.pairs.findIndex(
      (p) => p.local === placed.local && p.remote === placed.remote,
    );
    if (same >= 0) config.pairs[same] = placed;
    else config.pairs.push(placed);
    added.push(pair.id);
  }
  return added;
}

/** Whether the state dir at `root` was ever used (it has a config). */
export function stateDirExists(root: string): Promise<boolean> {
  return exists(join(root, 'config.json'));
}

function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
