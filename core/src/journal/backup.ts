import { canonicalJson } from '../canonical-json.js';
import {
  NotFoundError,
  PreconditionFailedError,
  registerErrorClass,
  SyncJournalError,
} from '../errors.js';
import { collectBytes, decodeUtf8, encodeUtf8 } from '../memory/bytes.js';
import { type Hasher, hashOf } from '../ports/hasher.js';
import type { Journal } from '../ports/journal.js';
import type { ObjectStore, RemoteObject } from '../ports/store.js';
import { RESERVED_PREFIX } from '../scan/lister.js';
import { ChainVerifier, GENESIS_HASH } from './chain.js';
import type { JournalEvent, JournalEventInput, RunStartedPayload } from './events.js';
import { eachEvent } from './paging.js';

/** Where journal backups live in a bucket: `.syncjournal/journals/<client-id>/`. */
export const JOURNAL_BACKUP_PREFIX = `${RESERVED_PREFIX}journals/`;

/** The first line of a backup. */
export interface JournalBackupHeader {
  format: 'syncjournal-journal-backup';
  version: 1;
  clientId: string;
  createdAt: string;
  /** Events in the backup, and the hash of the last: the chain must end there. */
  events: number;
  head: { seq: number; hash: string };
  /** Whatever the client needs besides the journal to carry on (the CLI: its pairs). */
  state?: unknown;
}

/** One backup as the index lists it. */
export interface JournalBackupEntry {
  key: string;
  createdAt: string;
  events: number;
  head: { seq: number; hash: string };
  bytes: number;
}

/** `.syncjournal/journals/<client-id>/index.json`: the client's backups, newest first. */
export interface JournalBackupIndex {
  clientId: string;
  backups: JournalBackupEntry[];
}

/** How a backup's bytes are packed (gzip on Node); identity when absent. */
export interface BackupCodec {
  /** Appended to the key, e.g. `.gz`. */
  extension: string;
  encode(bytes: Uint8Array): Promise<Uint8Array>;
  decode(bytes: Uint8Array): Promise<Uint8Array>;
}

const identity: BackupCodec = {
  extension: '',
  encode: async (b) => b,
  decode: async (b) => b,
};

/** A backup that does not hold an intact chain (or is not a backup at all). */
export class JournalBackupInvalidError extends SyncJournalError {
  constructor(key: string, reason: string) {
    super(
      'journal-backup-invalid',
      `The journal backup ${key} cannot be used: ${reason}. Nothing was restored; try an older backup (syncjournal journal restore --key …) or sync without one (nothing is deleted on a sync without a baseline).`,
      { key },
    );
  }
}

/** The journal's own chain is broken: backing it up would spread the damage. */
export class JournalChainBrokenError extends SyncJournalError {
  constructor(detail: string) {
    super(
      'journal-chain-broken',
      `The journal's hash chain does not verify (${detail}); no backup was written. Run syncjournal journal verify to see where.`,
    );
  }
}

registerErrorClass('JournalBackupInvalidError', JournalBackupInvalidError);
registerErrorClass('JournalChainBrokenError', JournalChainBrokenError);

/** What {@link backupJournal} did. */
export interface JournalBackupResult extends JournalBackupEntry {
  /** Older backups removed by retention. */
  pruned: string[];
}

export interface JournalBackupOptions {
  journal: Journal;
  store: ObjectStore;
  hasher: Hasher;
  clientId: string;
  /** Backups to keep (default 7); older ones are deleted after the new one is verified. */
  keep?: number;
  state?: unknown;
  codec?: BackupCodec;
  now?: () => Date;
}

/**
 * Writes a compact dump of the journal to the bucket, under
 * `.syncjournal/journals/<client-id>/`. The journal's chain is verified first (a broken
 * journal is not backed up); the written object is read back and its chain verified
 * again before the index names it; only then are backups beyond `keep` deleted.
 */
export async function backupJournal(options: JournalBackupOptions): Promise<JournalBackupResult> {
  const { journal, store, hasher, clientId } = options;
  const codec = options.codec ?? identity;
  const keep = options.keep ?? 7;
  if (!Number.isInteger(keep) || keep < 1) {
    throw new SyncJournalError('invalid-option', `keep must be a whole number ≥ 1, not ${keep}.`);
  }
  const verdict = await journal.verify();
  if (!verdict.ok)
    throw new JournalChainBrokenError(`event ${verdict.firstBad.seq}: ${verdict.firstBad.reason}`);

  const lines: string[] = [];
  // The journal may grow during the dump: the header describes what was dumped.
  let head = { seq: 0, hash: GENESIS_HASH };
  for await (const event of eachEvent(journal)) {
    lines.push(JSON.stringify(event));
    head = { seq: event.seq, hash: event.hash };
  }
  const createdAt = (options.now?.() ?? new Date()).toISOString();
  const header: JournalBackupHeader = {
    format: 'syncjournal-journal-backup',
    version: 1,
    clientId,
    createdAt,
    events: lines.length,
    head,
    ...(options.state === undefined ? {} : { state: options.state }),
  };
  const text = `${JSON.stringify(header)}\n${lines.join('\n')}${lines.length ? '\n' : ''}`;
  const packed = await codec.encode(encodeUtf8(text));
  const stamp = createdAt.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const key = `${JOURNAL_BACKUP_PREFIX}${clientId}/journal-${stamp}-${head.seq}.ndjson${codec.extension}`;
  await store.put(key, packed, { sha256: hashOf(hasher, packed), ifNoneMatch: '*' });

  // Read it back: what the bucket holds must be the chain we dumped.
  const back = await readJournalBackup(store, key, hasher, codec);
  if (back.header.head.hash !== head.hash || back.events.length !== lines.length) {
    throw new JournalBackupInvalidError(key, 'it reads back different from what was written');
  }

  const entry: JournalBackupEntry = {
    key,
    createdAt,
    events: lines.length,
    head,
    bytes: packed.length,
  };
  const pruned = await updateIndex(store, hasher, clientId, (index) => {
    const all = [entry, ...index.backups.filter((b) => b.key !== key)];
    return { kept: all.slice(0, keep), dropped: all.slice(keep) };
  });
  for (const old of pruned) await store.delete(old.key);
  return { ...entry, pruned: pruned.map((b) => b.key) };
}

/** The client's backups, newest first (none: an empty list). */
export async function listJournalBackups(
  store: ObjectStore,
  clientId: string,
): Promise<JournalBackupEntry[]> {
  return (await readIndex(store, clientId)).index.backups;
}

/** Reads a backup and verifies its chain end to end; throws {@link JournalBackupInvalidError}. */
export async function readJournalBackup(
  store: ObjectStore,
  key: string,
  hasher: Hasher,
  codec: BackupCodec = identity,
): Promise<{ header: JournalBackupHeader; events: JournalEvent[] }> {
  const { body } = await store.get(key);
  let text: string;
  try {
    text = decodeUtf8(await codec.decode(await collectBytes(body)));
  } catch (error) {
    throw new JournalBackupInvalidError(key, `it does not unpack (${(error as Error).message})`);
  }
  const lines = text.split('\n').filter((l) => l !== '');
  let header: JournalBackupHeader;
  const events: JournalEvent[] = [];
  try {
    header = JSON.parse(lines[0] ?? 'null') as JournalBackupHeader;
    for (const line of lines.slice(1)) events.push(JSON.parse(line) as JournalEvent);
  } catch (error) {
    throw new JournalBackupInvalidError(key, `a line is not JSON (${(error as Error).message})`);
  }
  if (header?.format !== 'syncjournal-journal-backup' || header.version !== 1) {
    throw new JournalBackupInvalidError(key, 'it is not a syncjournal journal backup (version 1)');
  }
  const chain = new ChainVerifier(hasher);
  for (const event of events) chain.push(event);
  const verdict = chain.finish(header.head);
  if (!verdict.ok) {
    throw new JournalBackupInvalidError(
      key,
      `its hash chain breaks at event ${verdict.firstBad.seq} (${verdict.firstBad.reason}: ${verdict.firstBad.detail})`,
    );
  }
  if (verdict.events !== header.events) {
    throw new JournalBackupInvalidError(
      key,
      `it holds ${verdict.events} events, its header says ${header.events}`,
    );
  }
  return { header, events };
}

/**
 * Appends a backup's events to an empty journal, in order, so each gets the very seq,
 * time and hash it had; then verifies the journal ends at the backup's head.
 */
export async function replayJournalBackup(
  journal: Journal,
  backup: { header: JournalBackupHeader; events: JournalEvent[] },
): Promise<{ events: number; head: { seq: number; hash: string } }> {
  if ((await journal.events({ limit: 1 })).length > 0) {
    throw new SyncJournalError(
      'journal-not-empty',
      'The journal already holds events; a backup is only restored into an empty journal. Nothing was changed; move the state directory aside to restore into a fresh one.',
    );
  }
  let batch: JournalEventInput[] = [];
  const flush = async () => {
    if (batch.length) await journal.append(batch);
    batch = [];
  };
  for (const event of backup.events) {
    if (event.kind === 'run.started') {
      await flush();
      const { run: _run, ...start } = event.payload as RunStartedPayload;
      const run = await journal.startRun(start, event.at);
      if (run !== event.run) {
        throw new JournalBackupInvalidError('(replay)', `run ${event.run} came back as run ${run}`);
      }
      continue;
    }
    batch.push({
      kind: event.kind,
      run: event.run,
      path: event.path,
      payload: event.payload,
      at: event.at,
    } as JournalEventInput);
    if (batch.length >= 1000) await flush();
  }
  await flush();
  const verdict = await journal.verify();
  if (!verdict.ok || verdict.head.hash !== backup.header.head.hash) {
    throw new JournalBackupInvalidError(
      '(replay)',
      verdict.ok
        ? `the restored journal ends at ${verdict.head.hash.slice(0, 12)}…, the backup at ${backup.header.head.hash.slice(0, 12)}…`
        : `the restored journal does not verify at event ${verdict.firstBad.seq}`,
    );
  }
  return { events: verdict.events, head: verdict.head };
}

function indexKey(clientId: string): string {
  return `${JOURNAL_BACKUP_PREFIX}${clientId}/index.json`;
}

async function readIndex(
  store: ObjectStore,
  clientId: string,
): Promise<{ index: JournalBackupIndex; object?: RemoteObject }> {
  let found: Awaited<ReturnType<ObjectStore['get']>>;
  try {
    found = await store.get(indexKey(clientId));
  } catch (error) {
    if (error instanceof NotFoundError) return { index: { clientId, backups: [] } };
    throw error;
  }
  const { body, object: read } = found;
  const index = JSON.parse(decodeUtf8(await collectBytes(body))) as JournalBackupIndex;
  return { index, object: read };
}

/** Rewrites the index with a conditional put (retrying if another writer got there first). */
async function updateIndex(
  store: ObjectStore,
  hasher: Hasher,
  clientId: string,
  change: (index: JournalBackupIndex) => {
    kept: JournalBackupEntry[];
    dropped: JournalBackupEntry[];
  },
): Promise<JournalBackupEntry[]> {
  for (let attempt = 0; ; attempt++) {
    const { index, object } = await readIndex(store, clientId);
    const { kept, dropped } = change(index);
    const bytes = encodeUtf8(canonicalJson({ clientId, backups: kept }));
    try {
      await store.put(indexKey(clientId), bytes, {
        sha256: hashOf(hasher, bytes),
        ...(object ? { ifMatch: object.etag } : { ifNoneMatch: '*' as const }),
      });
      return dropped;
    } catch (error) {
      if (!(error instanceof PreconditionFailedError) || attempt >= 4) throw error;
    }
  }
}
