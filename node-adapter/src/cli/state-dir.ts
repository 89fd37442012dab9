import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { SafetyProfile } from '@syncjournal/core';
import { clientIdProblem, SyncJournalError } from '@syncjournal/core';
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
    await mkdir(root, { recursive: true });
    let config: StateConfig;
    try {
      config = JSON.parse(await readFile(join(root, 'config.json'), 'utf8')) as StateConfig;
    } catch (error) {
      if ((error as { code?: string }).code !== 'ENOENT') {
        throw new SyncJournalError(
          'state-unreadable',
          `${join(root, 'config.json')} could not be read (${(error as Error).message}). Nothing was changed. Fix or move that file, then try again.`,
        );
      }
      config = { version: 1, clientId: clientId ?? newClientId(), pairs: [] };
    }
    refuseClientId(config.clientId, ` (it is in ${join(root, 'config.json')})`);
    if (clientId !== undefined && config.clientId !== clientId) {
      throw new UsageError(
        `The state dir ${root} belongs to client ${config.clientId}, not ${clientId}. Nothing was changed; use another --state-dir for client ${clientId}.`,
      );
    }
    const state = new StateDir(root, config);
    await state.save();
    return state;
  }

  /** Reads config.json again (another command may have remembered a pair meanwhile). */
  async reload(): Promise<void> {
    const fresh = await StateDir.open(this.root);
    this.config = fresh.config;
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

  /** The pair for this local root and remote, remembered on first use (`created`). */
  async pairFor(
    local: string,
    remote: string,
    options: Partial<PairConfig>,
  ): Promise<{ pair: PairConfig; created: boolean }> {
    let pair = this.config.pairs.find((p) => p.local === local && p.remote === remote);
    const created = !pair;
    if (!pair) {
      pair = {
        id: `pair-${randomBytes(4).toString('hex')}`,
        local,
        remote,
        createdAt: new Date().toISOString(),
      };
      this.config.pairs.push(pair);
    }
    for (const [key, value] of Object.entries(options)) {
      if (value !== undefined) (pair as unknown as Record<string, unknown>)[key] = value;
    }
    await this.save();
    return { pair, created };
  }

  async save(): Promise<void> {
    await mkdir(join(this.root, 'locks'), { recursive: true });
    const file = join(this.root, 'config.json');
    const temp = `${file}.${process.pid}.tmp`;
    await writeFile(temp, `${JSON.stringify(this.config, null, 2)}\n`);
    await rename(temp, file);
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
