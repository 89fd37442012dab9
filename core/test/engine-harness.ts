import { createHash } from 'node:crypto';
import { openPGliteJournal, type PostgresJournal } from '@syncjournal/journal-schema';
import {
  createSyncEngine,
  ManualClock,
  MemoryStore,
  type MemoryStoreOptions,
  MemoryTree,
  type SyncEngineOptions,
} from '../src/index.js';
import { sha256 } from './node-sha256.js';

/**
 * Engine tests run the real journal (PGlite in memory) over the in-memory tree and
 * store. One journal serves a whole file; every client gets its own pair id, which is
 * how one journal keeps many pairs apart.
 */
export async function openTestJournal(): Promise<PostgresJournal> {
  return openPGliteJournal({ hasher: sha256, dataDir: 'memory://' });
}

let pairs = 0;

/** A shared bucket and a clock every client reads. */
export function world(journal: PostgresJournal, storeOptions: MemoryStoreOptions = {}) {
  const clock = new ManualClock(Date.UTC(2026, 10, 21, 8, 0, 0));
  const store = new MemoryStore({ clock, ...storeOptions });
  const clients: Client[] = [];
  const client = (name: string, options: Partial<SyncEngineOptions> = {}) => {
    const tree = new MemoryTree({ clock });
    const c = new Client(name, tree, store, journal, clock, options);
    clients.push(c);
    return c;
  };
  return { clock, store, client, clients };
}

/** One client: its own tree and pair, the shared store and journal. */
export class Client {
  pair: { id: string; local: string; remote: string };
  constructor(
    readonly name: string,
    public tree: MemoryTree,
    readonly store: MemoryStore,
    readonly journal: PostgresJournal,
    readonly clock: ManualClock,
    readonly options: Partial<SyncEngineOptions>,
  ) {
    this.pair = {
      id: `pair-${++pairs}-${name}`,
      local: `memory://${name}`,
      remote: 'memory://bucket',
    };
  }

  /** Syncs, then moves time on so the files it wrote are no longer racy. */
  async sync(options: Partial<SyncEngineOptions> & { dryRun?: boolean } = {}) {
    const { dryRun, ...rest } = options;
    const engine = createSyncEngine({
      tree: this.tree,
      store: this.store,
      journal: this.journal,
      hasher: sha256,
      clock: this.clock,
      pair: this.pair,
      clientId: this.name,
      ...this.options,
      ...rest,
    });
    const result = await engine.sync({ dryRun: dryRun ?? false });
    this.clock.advance(10_000);
    return result;
  }

  /** A user edit, later than anything before it. */
  write(path: string, text: string) {
    this.clock.advance(10_000);
    this.tree.writeText(path, text);
  }

  /** Forgets the journal's view of this pair: a lost state dir. */
  loseJournal() {
    this.pair = { ...this.pair, id: `pair-${++pairs}-${this.name}-reborn` };
  }

  text(path: string): string | undefined {
    return this.tree.files().has(path) ? this.tree.readText(path) : undefined;
  }

  listing(): Record<string, string> {
    return Object.fromEntries(
      [...this.tree.files()].map(([p, bytes]) => [p, new TextDecoder().decode(bytes)]),
    );
  }
}

/** The bucket's user files as text (reserved keys left out). */
export function bucket(store: MemoryStore): Record<string, string> {
  return Object.fromEntries(
    [...store.objects()]
      .filter(([k]) => !k.startsWith('.syncjournal/'))
      .map(([k, v]) => [k, new TextDecoder().decode(v)]),
  );
}

/** SHA-256 of a string, as the engine computes it. */
export function hashText(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
