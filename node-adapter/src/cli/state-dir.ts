import { randomBytes, randomUUID } from 'node:crypto';
import { link, mkdir, readFile, rename, rmdir, unlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SafetyProfile } from '@syncjournal/core';
import { clientIdProblem, SyncJournalError } from '@syncjournal/core';
import { LockHeldError, PidLock } from '../pid-lock.js';
import { UsageError } from './open-pair.js';

/** A remembered pair and the options that shape its plans. */
export interface PairConfig {
  id: string;
  /** Absolute local root. */
  local: string;
  /** The remote as a URL: `file:///abs/dir` or `s3://bucket/prefix`. */
  remote: string;
  profile?: SafetyProfile;
  exclude?: string[];
  include?: string[];
  ignoreFile?: string;
  conflict?: string;
  /** The root's top-level folders are projects: reports and status break down per project. */
  projects?: boolean;
  /**
   * On a bucket without versioning: delete this client's remote trash copies older than
   * this many days after each sync (unset: keep them).
   */
  trashRetentionDays?: number;
  createdAt: string;
}

/** config.json in the state dir. */
export interface StateConfig {
  version: 1;
  clientId: string;
  pairs: PairConfig[];
  /**
   * Where the journal lives when it is not the embedded one in this state dir: a
   * `postgres://` URL shared by a team (remembered from `--journal`).
   */
  journal?: string;
}

/**
 * The state directory: config, the PGlite journal, the local trash and the locks.
 * Nothing syncjournal keeps is ever written into a synced folder.
 */
export class StateDir {
  private constructor(
    readonly root: string,
    public config: StateConfig,
  ) {}

  /** `--state-dir`, else SYNCJOURNAL_HOME (when not empty), else ~/.syncjournal. */
  static locate(flag?: string): string {
    if (flag === '') {
      throw new UsageError(
        '--state-dir was given an empty path. Nothing was changed; give the folder that holds (or will hold) the config and journal.',
      );
    }
    return resolve(flag ?? (process.env.SYNCJOURNAL_HOME || join(homedir(), '.syncjournal')));
  }

  /**
   * Opens (creating on first use) the state dir. A new one takes `clientId` (else
   * SYNCJOURNAL_CLIENT_ID, else a generated id); an existing one keeps its own and
   * refuses a different `clientId`.
   */
  static async open(root: string, clientId?: string): Promise<StateDir> {
    const given = clientId ?? process.env.SYNCJOURNAL_CLIENT_ID;
    if (given !== undefined) refuseClientId(given, '');
    await mkdir(join(root, 'locks'), { recursive: true });
    let config = await readConfig(root);
    if (config === undefined) {
      // A new state dir. Two commands creating it at once must agree on one client id:
      // the first config written wins, and the other reads it.
      config = { version: 1, clientId: clientId ?? newClientId(), pairs: [] };
      if (!(await writeConfig(root, config, { create: true }))) config = await readConfig(root);
      if (config === undefined) throw unreadable(root, new Error('it vanished as it was made'));
    }
    refuseClientId(config.clientId, ` (it is in ${join(root, 'config.json')})`);
    if (clientId !== undefined && config.clientId !== clientId) {
      throw new UsageError(
        `The state dir ${root} belongs to client ${config.clientId}, not ${clientId}. Nothing was changed; use another --state-dir for client ${clientId}.`,
      );
    }
    return new StateDir(root, config);
  }

  /**
   * Changes config.json as it is on disk now, not as this process read it: under the
   * config's lock, reads it, applies `change`, and writes it back, so two commands that
   * remember pairs at once keep both. Returns what `change` returns.
   */
  async update<T>(change: (config: StateConfig) => T): Promise<T> {
    const lock = await acquireWaiting(
      join(this.root, 'locks', 'config.lock'),
      `The config of ${this.root}`,
    );
    try {
      const config = (await readConfig(this.root)) ?? this.config;
      const result = change(config);
      await writeConfig(this.root, config);
      this.config = config;
      return result;
    } finally {
      await lock.release();
    }
  }

  get journalDir(): string {
    return join(this.root, 'journal');
  }

  /**
   * The journal this state dir uses: $SYNCJOURNAL_JOURNAL, else the one remembered
   * from `--journal`, else the embedded PGlite journal in the state dir.
   */
  get journalLocation(): string {
    return process.env.SYNCJOURNAL_JOURNAL || this.config.journal || this.journalDir;
  }

  /** Whether the journal is a shared server rather than this state dir's own. */
  get sharedJournal(): boolean {
    return /^postgres(ql)?:\/\//.test(this.journalLocation);
  }

  trashDir(pairId: string): string {
    return join(this.root, 'trash', pairId);
  }

  lockPath(pairId: string): string {
    return join(this.root, 'locks', `${pairId}.lock`);
  }

  /** The remembered pair syncing `local` with `remote`, if any. */
  pairAt(local: string, remote: string, config: StateConfig = this.config): PairConfig | undefined {
    return config.pairs.find((p) => p.local === local && p.remote === remote);
  }

  /** The pair for this local root and remote, remembered on first use (`created`). */
  async pairFor(
    local: string,
    remote: string,
    options: Partial<PairConfig>,
  ): Promise<{ pair: PairConfig; created: boolean }> {
    return this.update((config) => {
      let pair = this.pairAt(local, remote, config);
      const created = !pair;
      if (!pair) {
        pair = {
          id: `pair-${randomBytes(4).toString('hex')}`,
          local,
          remote,
          createdAt: new Date().toISOString(),
        };
        config.pairs.push(pair);
      }
      for (const [key, value] of Object.entries(options)) {
        if (value !== undefined) (pair as unknown as Record<string, unknown>)[key] = value;
      }
      return { pair, created };
    });
  }

  /**
   * Forgets a pair: `sync` no longer syncs it. Its runs stay in the journal, and its trash
   * folder stays unless it is empty. Returns whether the trash folder is still there.
   */
  async forget(pair: PairConfig): Promise<boolean> {
    await this.update((config) => {
      config.pairs = config.pairs.filter((p) => p.id !== pair.id);
    });
    // rmdir removes only an empty folder: nothing a run kept is ever removed here.
    return rmdir(this.trashDir(pair.id)).then(
      () => false,
      (error: NodeJS.ErrnoException) => error.code !== 'ENOENT',
    );
  }

  /**
   * Whether config.json, as it is on disk now, still remembers `pair`: `same`, or
   * `replaced` by another pair for the same folder and bucket (a journal restore), or
   * `removed`.
   */
  async remembered(pair: PairConfig): Promise<'same' | 'replaced' | 'removed'> {
    const config = (await readConfig(this.root)) ?? this.config;
    if (config.pairs.some((p) => p.id === pair.id)) return 'same';
    return this.pairAt(pair.local, pair.remote, config) ? 'replaced' : 'removed';
  }
}

function unreadable(root: string, error: unknown): SyncJournalError {
  return new SyncJournalError(
    'state-unreadable',
    `${join(root, 'config.json')} could not be read (${(error as Error).message}). Nothing was changed. Fix or move that file, then try again.`,
  );
}

/** config.json, or `undefined` when the state dir has none yet. */
async function readConfig(root: string): Promise<StateConfig | undefined> {
  try {
    return JSON.parse(await readFile(join(root, 'config.json'), 'utf8')) as StateConfig;
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return undefined;
    throw unreadable(root, error);
  }
}

/**
 * Writes config.json whole (a temp file renamed over it, so a reader never sees half of
 * it). With `create`, only where there is none yet: false when another process wrote
 * one first.
 */
async function writeConfig(
  root: string,
  config: StateConfig,
  options: { create?: boolean } = {},
): Promise<boolean> {
  const file = join(root, 'config.json');
  const temp = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temp, `${JSON.stringify(config, null, 2)}\n`);
  try {
    if (!options.create) {
      await rename(temp, file);
      return true;
    }
    try {
      await link(temp, file);
      return true;
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'EEXIST') return false;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw error;
    }
    // A filesystem without hard links: create it in place (a reader may catch it half
    // written for a moment, and says so rather than guess).
    try {
      await writeFile(file, `${JSON.stringify(config, null, 2)}\n`, { flag: 'wx' });
      return true;
    } catch (error) {
      if ((error as { code?: string }).code === 'EEXIST') return false;
      throw error;
    }
  } finally {
    if (options.create) await unlink(temp).catch(() => {});
  }
}

/**
 * Takes a lock held only for the moment of a config change, waiting (up to 10 s) while
 * another command holds it; a lock left by a dead process is taken over at once.
 */
async function acquireWaiting(path: string, purpose: string): Promise<PidLock> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await PidLock.acquire(path, purpose);
    } catch (error) {
      if (!(error instanceof LockHeldError) || Date.now() > deadline) throw error;
      await sleep(5 + Math.random() * 20);
    }
  }
}

/** Refuses a client id that cannot name conflict copies and bucket keys ({@link clientIdProblem}). */
function refuseClientId(id: string, where: string): void {
  const problem = clientIdProblem(id);
  if (problem === null) return;
  throw new UsageError(
    `The client id "${id}"${where} cannot be used: ${problem}. It names conflict copies and this client's keys in the bucket. Nothing was changed; use an id such as "laptop" or "web-1".`,
  );
}

function newClientId(): string {
  return process.env.SYNCJOURNAL_CLIENT_ID ?? randomUUID().slice(0, 8);
}
