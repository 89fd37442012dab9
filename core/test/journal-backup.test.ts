import { describe, expect, it } from 'vitest';
import {
  backupJournal,
  collectBytes,
  createSyncEngine,
  JOURNAL_BACKUP_PREFIX,
  type Journal,
  JournalBackupInvalidError,
  JournalChainBrokenError,
  listJournalBackups,
  ManualClock,
  MemoryJournal,
  MemoryStore,
  MemoryTree,
  readJournalBackup,
  replayJournalBackup,
} from '../src/index.js';
import { sha256 } from './node-sha256.js';

/** A client (tree + journal) and a teammate on one bucket. */
function world() {
  const clock = new ManualClock(Date.UTC(2026, 10, 22, 9, 0, 0));
  const store = new MemoryStore({ clock, hasher: sha256 });
  const client = (
    name: string,
    journal: Journal = new MemoryJournal({ hasher: sha256, clock }),
  ) => {
    const tree = new MemoryTree({ clock });
    const pair = { id: `pair-${name}`, local: `memory://${name}`, remote: 'memory://bucket' };
    const make = (j: Journal) => ({
      tree,
      journal: j,
      sync: async () => {
        const result = await createSyncEngine({
          tree,
          store,
          journal: j,
          hasher: sha256,
          clock,
          pair,
          clientId: name,
        }).sync();
        clock.advance(10_000);
        return result;
      },
    });
    return { ...make(journal), withJournal: make };
  };
  return { clock, store, client };
}

const backupOf = (w: ReturnType<typeof world>, journal: Journal, keep?: number) =>
  backupJournal({
    journal,
    store: w.store,
    hasher: sha256,
    clientId: 'alice',
    now: () => new Date(w.clock.now()),
    ...(keep ? { keep } : {}),
  });

describe('journal backups in the bucket', () => {
  it('writes a verified dump under .syncjournal/journals/<client>/ that replays to the same journal', async () => {
    const w = world();
    const alice = w.client('alice');
    alice.tree.writeText('a.md', 'one');
    alice.tree.writeText('b/c.md', 'two');
    await alice.sync();
    const result = await backupOf(w, alice.journal);
    expect(result.key).toMatch(
      new RegExp(`^${JOURNAL_BACKUP_PREFIX}alice/journal-20261122T09\\d{4}Z-\\d+\\.ndjson$`),
    );
    expect(result.events).toBe((await alice.journal.events()).length);
    expect(await listJournalBackups(w.store, 'alice')).toEqual([
      {
        key: result.key,
        createdAt: result.createdAt,
        events: result.events,
        head: result.head,
        bytes: result.bytes,
      },
    ]);

    const fresh = new MemoryJournal({ hasher: sha256 });
    const restored = await replayJournalBackup(
      fresh,
      await readJournalBackup(w.store, result.key, sha256),
    );
    expect(restored.head).toEqual(result.head);
    expect(await fresh.events()).toEqual(await alice.journal.events());
    expect(await fresh.baseline('pair-alice')).toEqual(await alice.journal.baseline('pair-alice'));
    expect(await fresh.runs()).toEqual(await alice.journal.runs());
  });

  it('a lost journal restored from the bucket keeps the baseline: a teammate delete is applied, not undone', async () => {
    for (const restore of [true, false]) {
      const w = world();
      const alice = w.client('alice');
      const bob = w.client('bob');
      alice.tree.writeText('keep.md', 'k');
      alice.tree.writeText('gone.md', 'g');
      await alice.sync();
      await backupOf(w, alice.journal);
      await bob.sync();
      bob.tree.remove('gone.md');
      await bob.sync();
      expect([...w.store.objects().keys()]).not.toContain('gone.md');

      // Alice's host is redeployed: her journal is gone, her files are not.
      const journal = new MemoryJournal({ hasher: sha256 });
      if (restore) {
        const [latest] = await listJournalBackups(w.store, 'alice');
        await replayJournalBackup(journal, await readJournalBackup(w.store, latest!.key, sha256));
      }
      const { report } = await alice.withJournal(journal).sync();
      if (restore) {
        // With the baseline, "gone remotely, unchanged here" is the teammate's delete.
        expect(report).toMatchObject({ deletedLocal: 1, uploaded: 0 });
        expect(alice.tree.files().has('gone.md')).toBe(false);
      } else {
        // Without one nothing is deleted: the file comes back to the bucket (safe, but
        // the teammate's delete is undone) — what the backup is for.
        expect(report).toMatchObject({ deletedLocal: 0, uploaded: 1 });
        expect([...w.store.objects().keys()]).toContain('gone.md');
      }
    }
  });

  it('keeps the newest N backups and deletes older ones only after the new one verifies', async () => {
    const w = world();
    const alice = w.client('alice');
    const keys: string[] = [];
    for (let i = 0; i < 4; i++) {
      alice.tree.writeText(`n${i}.md`, String(i));
      await alice.sync();
      const result = await backupOf(w, alice.journal, 2);
      keys.push(result.key);
      expect(result.pruned).toEqual(i >= 2 ? [keys[i - 2]] : []);
    }
    expect((await listJournalBackups(w.store, 'alice')).map((b) => b.key)).toEqual([
      keys[3],
      keys[2],
    ]);
    const stored = [...w.store.objects().keys()].filter((k) =>
      k.startsWith(`${JOURNAL_BACKUP_PREFIX}alice/journal-`),
    );
    expect(stored.sort()).toEqual([keys[2], keys[3]].sort());
  });

  it('refuses a backup whose chain is broken, naming the event, and restores nothing', async () => {
    const w = world();
    const alice = w.client('alice');
    alice.tree.writeText('a.md', 'one');
    await alice.sync();
    const { key } = await backupOf(w, alice.journal);
    const text = new TextDecoder().decode(await collectBytes((await w.store.get(key)).body));
    const tampered = text.replace('"a.md"', '"evil.md"');
    expect(tampered).not.toBe(text);
    const bytes = new TextEncoder().encode(tampered);
    await w.store.put(key, bytes, { sha256: sha256.create().digest() });
    const error = await readJournalBackup(w.store, key, sha256).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JournalBackupInvalidError);
    expect((error as Error).message).toMatch(/hash chain breaks at event \d+ \(hash-mismatch/);
  });

  it('does not back up a journal whose own chain is broken, and writes nothing', async () => {
    const w = world();
    const alice = w.client('alice');
    await alice.sync();
    const broken = Object.assign(Object.create(alice.journal) as Journal, {
      verify: async () => ({
        ok: false as const,
        events: 2,
        firstBad: { seq: 3, reason: 'hash-mismatch' as const, detail: 'x' },
      }),
    });
    await expect(backupOf(w, broken)).rejects.toBeInstanceOf(JournalChainBrokenError);
    expect(
      [...w.store.objects().keys()].filter((k) => k.startsWith(JOURNAL_BACKUP_PREFIX)),
    ).toEqual([]);
  });

  it('replays only into an empty journal', async () => {
    const w = world();
    const alice = w.client('alice');
    await alice.sync();
    const { key } = await backupOf(w, alice.journal);
    await expect(
      replayJournalBackup(alice.journal, await readJournalBackup(w.store, key, sha256)),
    ).rejects.toMatchObject({
      code: 'journal-not-empty',
    });
  });
});
