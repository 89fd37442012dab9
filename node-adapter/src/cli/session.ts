import {
  type ConflictPolicy,
  createSyncEngine,
  JournalLockedError,
  type ObjectStore,
  type PairFilter,
  type ProgressEvent,
  type SafetyProfile,
  type SyncEngine,
  SyncJournalError,
} from '@syncjournal/core';
import type { PostgresJournal } from '@syncjournal/journal-schema';
import { nodeHasher } from '../node-hasher.js';
import type { NodeTree } from '../node-tree.js';
import { openJournal } from '../open-journal.js';
import { LockHeldError, PidLock } from '../pid-lock.js';
import { EXIT } from './exit-codes.js';
import { filterFor, openSides } from './open-pair.js';
import { type Output, reportError } from './output.js';
import type { PairConfig, StateDir } from './state-dir.js';

/** Another sync of this pair (or of this state dir's journal) is running: exit 5. */
export class PairLockedError extends SyncJournalError {
  readonly exitCode = EXIT.locked;
  constructor(message: string) {
    super('locked', message);
  }
}

/** One pair's outcome in a command over several pairs: its value, or the error it stopped with. */
export type PairOutcome<T> = { pair: PairConfig } & ({ value: T } | { error: unknown });

/**
 * Runs `fn` for each pair in turn. With several pairs, one that fails (its drive
 * unplugged, its bucket unreachable, its lock held) is reported with its places and the
 * others still run; a single pair's error is the command's.
 */
export async function eachPair<T>(
  pairs: readonly PairConfig[],
  output: Output,
  fn: (pair: PairConfig) => Promise<T>,
): Promise<Array<PairOutcome<T>>> {
  const outcomes: Array<PairOutcome<T>> = [];
  for (const pair of pairs) {
    try {
      outcomes.push({ pair, value: await fn(pair) });
    } catch (error) {
      if (pairs.length === 1) throw error;
      outcomes.push({ pair, error });
      if (!output.json) reportError(output, error, `${pair.local} ⇄ ${pair.remote}`);
    }
  }
  return outcomes;
}

/** Takes the pair's lock; a pair another live process holds is exit 5. */
export async function lockPair(pair: PairConfig, state: StateDir): Promise<PidLock> {
  try {
    return await PidLock.acquire(
      state.lockPath(pair.id),
      `The pair ${pair.local} ⇄ ${pair.remote}`,
    );
  } catch (error) {
    if (error instanceof LockHeldError) throw new PairLockedError(error.message);
    throw error;
  }
}

/** Opens the state dir's journal; a journal held by another process is exit 5. */
export async function openStateJournal(state: StateDir): Promise<PostgresJournal> {
  return openJournal(state.journalLocation).catch((error: unknown) => {
    if (error instanceof JournalLockedError) throw new PairLockedError(error.message);
    throw error;
  });
}

/** What a command that works on one pair holds while it runs. */
export interface PairSession {
  pair: PairConfig;
  /**
   * The journal, which may still be opening when the command starts (PGlite takes
   * ~0.5 s): a sync walks the folder and lists the bucket meanwhile.
   */
  journal: Promise<PostgresJournal>;
  tree: NodeTree;
  store: ObjectStore;
  filter: PairFilter | undefined;
}

/** Run-time choices for the engine (flags win over what the pair remembers). */
export interface EngineChoices {
  profile?: string;
  maxDelete?: number;
  force?: boolean;
  allowEmpty?: boolean;
  conflict?: string;
  concurrency?: number;
  onProgress?: (event: ProgressEvent) => void;
}

/**
 * Holds the pair's lock, its journal and both sides for the duration of `fn`, and
 * releases them whatever happens. The journal opens while the sides do and while `fn`
 * starts; a journal that cannot open is the error reported, as if it had opened first.
 */
export async function withPairSession<T>(
  pair: PairConfig,
  state: StateDir,
  created: boolean,
  fn: (session: PairSession) => Promise<T>,
): Promise<T> {
  const lock = await lockPair(pair, state);
  const journal = openStateJournal(state).then(async (opened) => {
    // Under the journal's lock now. A journal restore that ran meanwhile may have put the
    // restored pair (with its baseline) in the place of the pair this command read:
    // going on under that id would sync as if for the first time.
    const now = await state.remembered(pair);
    if (now !== 'same') {
      await opened.close();
      throw new PairLockedError(
        now === 'replaced'
          ? `While this command waited, a journal restore brought back the pair for ${pair.local} ⇄ ${pair.remote} with its baseline, in place of ${pair.id}. Nothing was changed. Run it again.`
          : `The pair ${pair.id} (${pair.local} ⇄ ${pair.remote}) was removed from the state dir's config while this command waited. Nothing was changed.`,
      );
    }
    return opened;
  });
  // Its failure is thrown below; until then it must not count as unhandled.
  journal.catch(() => {});
  try {
    let sides: Omit<PairSession, 'pair' | 'journal'>;
    try {
      const [{ tree, store }, filter] = await Promise.all([
        openSides(pair, state, created),
        filterFor(pair),
      ]);
      sides = { tree, store, filter };
    } catch (error) {
      try {
        await journal;
      } finally {
        // After the journal's own check that the pair is still remembered. Nothing was
        // journaled for it, and a pair that cannot be opened would fail every later sync.
        if (created) await state.forget(pair);
      }
      throw created ? error : withForgetHint(error, pair);
    }
    const result = await fn({ pair, journal, ...sides });
    await journal;
    return result;
  } finally {
    try {
      await (await journal.catch(() => undefined))?.close();
    } finally {
      await lock.release();
    }
  }
}

/** The engine for a session. */
export function engineFor(
  session: PairSession,
  state: StateDir,
  choices: EngineChoices,
): SyncEngine {
  const { pair } = session;
  return createSyncEngine({
    tree: session.tree,
    store: session.store,
    journal: session.journal,
    hasher: nodeHasher,
    pair: { id: pair.id, local: pair.local, remote: pair.remote },
    clientId: state.config.clientId,
    profile: (choices.profile as SafetyProfile | undefined) ?? pair.profile ?? 'balanced',
    ...(choices.maxDelete !== undefined ? { maxDelete: choices.maxDelete } : {}),
    force: choices.force ?? false,
    allowEmpty: choices.allowEmpty ?? false,
    policy: (choices.conflict ?? pair.conflict ?? 'keep-both') as ConflictPolicy,
    ...(session.filter ? { filter: session.filter } : {}),
    ...(pair.projects ? { projects: true } : {}),
    ...(choices.concurrency !== undefined ? { concurrency: choices.concurrency } : {}),
    ...(choices.onProgress ? { onProgress: choices.onProgress } : {}),
  });
}

/** Codes of a remembered pair's side that is not there: a drive unplugged, or moved for good. */
const SIDE_MISSING = new Set(['tree-root-missing', 'bucket-missing']);

/**
 * A remembered pair's folder or folder bucket that is missing: the error, saying also how
 * to stop syncing the pair if the place is gone for good.
 */
function withForgetHint(error: unknown, pair: PairConfig): unknown {
  if (!(error instanceof SyncJournalError) || !SIDE_MISSING.has(error.code)) return error;
  const hinted = new SyncJournalError(
    error.code,
    `${error.message} If it moved for good, stop syncing this pair with syncjournal forget ${pair.id} (nothing is deleted).`,
    { ...error.data, pairId: pair.id },
    { cause: error },
  );
  hinted.name = error.name; // --json names the error as the tree or store did
  return hinted;
}
