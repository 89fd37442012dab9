import {
  type ConflictPolicy,
  type ConflictRow,
  collectBytes,
  createSyncEngine,
  type FileStat,
  type Hasher,
  type Journal,
  type JournalEvent,
  type Keep,
  MemoryStore,
  type ObjectStore,
  type PlanOp,
  type ProgressEvent,
  pathTimeline,
  type Resolution,
  type Restored,
  type RunReport,
  type RunRow,
  resolveConflict,
  restoreVersion,
  SyncJournalError,
  type TimelineEntry,
  type UserActionContext,
} from '@syncjournal/core';
import { openPGliteJournal } from '@syncjournal/journal-schema';
import { parseS3Url, S3Store } from '@syncjournal/s3';
import { OpfsTree } from './opfs-tree.js';
import { browserS3Client } from './s3-client.js';
import { createWebHasher } from './web-hasher.js';

/**
 * Where the bucket is: an S3-compatible bucket (the page's origin must be allowed by
 * the bucket's CORS rule, see docs/browser.md), or `memory`, which lives as long as
 * the worker (demos, tests).
 */
export type StoreConfig =
  | { kind: 'memory' }
  | {
      kind: 's3';
      /** `s3://bucket/prefix/`. */
      url: string;
      /** The service endpoint, e.g. `https://fly.storage.tigris.dev` or a MinIO URL. */
      endpoint?: string;
      region?: string;
      credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
      /** Path-style addressing (MinIO, local servers). */
      forcePathStyle?: boolean;
    };

/** What {@link createSyncApi} opens. */
export interface SyncApiOptions {
  /** The notes folder in the origin private file system, e.g. `notes`. */
  root: string;
  /**
   * The journal's PGlite data dir: `idb://syncjournal` by default (IndexedDB, every
   * browser), `opfs-ahp://syncjournal` (faster; not in Safari, whose OPFS lacks the
   * access handles PGlite needs there), or `memory://`.
   */
  journal?: string;
  store: StoreConfig;
  /** This browser's client id, as the CLI's config has one. */
  clientId: string;
  /** The pair's id in the journal (default: `browser:<root>`). */
  pairId?: string;
  policy?: ConflictPolicy;
}

/** A file as `list()` reports it. */
export interface FileEntry {
  path: string;
  size: number;
  mtimeMs: number;
}

/** What `status()` says. */
export interface SyncStatus {
  pairId: string;
  local: string;
  remote: string;
  lastRun: RunRow | null;
  openConflicts: number;
  files: number;
}

/**
 * The browser API: one typed object over an OPFS folder, a PGlite journal and a
 * bucket, built in the dedicated worker that owns the folder (see `worker.ts`) and
 * used from the page through comlink. Every method is async; errors keep their class
 * and code across the worker boundary.
 */
export interface SyncApi {
  /** Scans, lists, plans and applies; `onProgress` (a comlink proxy) hears each phase. */
  sync(
    options?: { dryRun?: boolean },
    onProgress?: (event: ProgressEvent) => void,
  ): Promise<{ report: RunReport; plan: PlanOp[] }>;
  /** The plan a sync would follow now, applying nothing (journaled as a dry run). */
  plan(): Promise<PlanOp[]>;
  status(): Promise<SyncStatus>;
  /** Runs of this pair, newest first. */
  history(limit?: number): Promise<RunRow[]>;
  /** Every journal event about one path, oldest first. */
  log(path: string): Promise<JournalEvent[]>;
  /** The same events as sentences, with the client that wrote each: the path's history. */
  timeline(path: string): Promise<TimelineEntry[]>;
  conflicts(status?: 'open' | 'resolved'): Promise<ConflictRow[]>;
  resolve(path: string, keep: Keep): Promise<Resolution>;
  restore(path: string, run?: number): Promise<Restored>;
  readFile(path: string): Promise<Uint8Array>;
  readText(path: string): Promise<string>;
  /** Saves a file (a user's edit: no precondition, nothing trashed). */
  writeFile(path: string, data: Uint8Array | string): Promise<FileStat>;
  /** A user's delete: the file goes to the trash, the next sync propagates it. */
  deleteFile(path: string): Promise<void>;
  list(): Promise<FileEntry[]>;
  close(): Promise<void>;
}

/** Opens the folder, the journal and the store, and returns the API over them. */
export async function createSyncApi(
  options: SyncApiOptions,
  deps: { hasher?: Hasher; store?: ObjectStore; journal?: Journal } = {},
): Promise<SyncApi> {
  const hasher = deps.hasher ?? (await createWebHasher());
  const tree = await OpfsTree.open({
    root: options.root,
    trash: `.syncjournal/trash/${options.root}`,
  });
  const journal =
    deps.journal ??
    (await openPGliteJournal({ hasher, dataDir: options.journal ?? 'idb://syncjournal' }));
  // The bucket is not reached here: the folder opens offline, and what the bucket can
  // do (versions, conditional writes) is asked before the first thing that needs it.
  const store = deps.store ?? openStore(options.store, hasher);
  let detected: Promise<unknown> | undefined;
  const reachBucket = async () => {
    if (!(store instanceof S3Store)) return;
    detected ??= store.detectCapabilities().catch((error: unknown) => {
      detected = undefined;
      throw error;
    });
    await detected;
  };
  const pair = {
    id: options.pairId ?? `browser:${options.root}`,
    local: `opfs://${options.root}`,
    remote: describeStore(options.store),
  };
  const ctx: UserActionContext = { tree, store, journal, pair, clientId: options.clientId };
  const engine = (onProgress?: (event: ProgressEvent) => void) =>
    createSyncEngine({
      tree,
      store,
      journal,
      hasher,
      pair,
      clientId: options.clientId,
      ...(options.policy ? { policy: options.policy } : {}),
      ...(onProgress ? { onProgress } : {}),
    });

  const files = async (): Promise<FileEntry[]> => {
    const out: FileEntry[] = [];
    for await (const item of tree.walk()) {
      if (item.kind === 'file')
        out.push({ path: item.path, size: item.size, mtimeMs: item.mtimeMs });
    }
    return out;
  };

  return {
    sync: async (o, onProgress) => {
      await reachBucket();
      // Through comlink each call to `onProgress` is a message on the listener's own
      // port, which can arrive after sync's answer. They arrive in order, so once the
      // last call is answered the page has heard every event: then sync answers.
      let heard: unknown;
      const listener =
        onProgress &&
        ((event: ProgressEvent) => {
          heard = onProgress(event);
        });
      const result = await engine(listener).sync({ dryRun: o?.dryRun ?? false });
      await Promise.resolve(heard).catch(() => {});
      return result;
    },
    plan: async () => {
      await reachBucket();
      return (await engine().sync({ dryRun: true })).plan;
    },
    status: async () => {
      const [last] = await journal.runs({ pairId: pair.id, limit: 1 });
      return {
        pairId: pair.id,
        local: pair.local,
        remote: pair.remote,
        lastRun: last ?? null,
        openConflicts: (await journal.conflicts(pair.id, 'open')).length,
        files: (await files()).length,
      };
    },
    history: (limit) => journal.runs({ pairId: pair.id, ...(limit ? { limit } : {}) }),
    log: (path) => journal.events({ pairId: pair.id, path }),
    timeline: (path) => pathTimeline(journal, pair.id, path),
    conflicts: (status) => journal.conflicts(pair.id, status),
    resolve: async (path, keep) => {
      await reachBucket();
      return resolveConflict(ctx, path, keep);
    },
    restore: async (path, run) => {
      await reachBucket();
      return restoreVersion(ctx, path, run);
    },
    readFile: (path) => collectBytes(tree.read(path)),
    readText: async (path) => new TextDecoder().decode(await collectBytes(tree.read(path))),
    writeFile: async (path, data) =>
      (await tree.write(path, typeof data === 'string' ? new TextEncoder().encode(data) : data))
        .stat,
    deleteFile: async (path) => {
      await tree.trash(path);
    },
    list: files,
    close: () => journal.close(),
  };
}

function openStore(config: StoreConfig, hasher: Hasher): ObjectStore {
  if (config.kind === 'memory') return new MemoryStore({ hasher });
  if (config.kind === 's3') {
    const client = browserS3Client({
      region: config.region ?? 'auto',
      credentials: config.credentials,
      ...(config.endpoint ? { endpoint: config.endpoint } : {}),
      ...(config.forcePathStyle ? { forcePathStyle: true } : {}),
    });
    return new S3Store(parseS3Url(config.url), { hasher, client });
  }
  throw new SyncJournalError('store-unknown', `Unknown store kind ${JSON.stringify(config)}.`);
}

function describeStore(config: StoreConfig): string {
  return config.kind === 'memory' ? 'memory://bucket' : config.url;
}
