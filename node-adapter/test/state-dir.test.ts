import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { borrowRequested, borrowStateJournal } from '../src/cli/journal-loan.js';
import { PairLockedError, withPairSession } from '../src/cli/session.js';
import { type StateConfig, StateDir } from '../src/cli/state-dir.js';
import { lockJournalDir } from '../src/open-journal.js';

let base: string;
beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'syncjournal-state-'));
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

const onDisk = async (root: string) =>
  JSON.parse(await readFile(join(root, 'config.json'), 'utf8')) as StateConfig;

describe('the state dir config', () => {
  it('keeps both pairs when two commands remember one each at the same moment', async () => {
    const root = join(base, 'state');
    await StateDir.open(root, 'laptop');
    // Two commands (two processes) that read the config before either wrote to it.
    const [a, b] = await Promise.all([StateDir.open(root), StateDir.open(root)]);
    const [x, y] = await Promise.all([
      a.pairFor('/notes', 'file:///bucket-a', {}),
      b.pairFor('/work', 'file:///bucket-b', { profile: 'safe' }),
    ]);
    expect([x.created, y.created]).toEqual([true, true]);
    const config = await onDisk(root);
    expect(config.pairs.map((p) => [p.id, p.local]).sort()).toEqual(
      [
        [x.pair.id, '/notes'],
        [y.pair.id, '/work'],
      ].sort(),
    );
    expect(config.pairs.find((p) => p.id === y.pair.id)?.profile).toBe('safe');
    // A third command that opened before both still finds each, and adds none.
    const again = await a.pairFor('/work', 'file:///bucket-b', {});
    expect([again.created, again.pair.id]).toEqual([false, y.pair.id]);
  });

  it('gives a new state dir made by two commands at once one client id', async () => {
    const root = join(base, 'fresh');
    const opened = await Promise.all([1, 2, 3, 4].map(() => StateDir.open(root)));
    const ids = new Set(opened.map((s) => s.config.clientId));
    expect(ids.size).toBe(1);
    expect((await onDisk(root)).clientId).toBe([...ids][0]);
  });

  it('is not rewritten by a command that only reads it', async () => {
    const root = join(base, 'state');
    const state = await StateDir.open(root, 'laptop');
    await state.pairFor('/notes', 'file:///bucket', {});
    const before = await readFile(join(root, 'config.json'), 'utf8');
    await writeFile(join(root, 'config.json'), `${before.trimEnd()}\n\n`);
    await StateDir.open(root);
    expect(await readFile(join(root, 'config.json'), 'utf8')).toBe(`${before.trimEnd()}\n\n`);
  });
});

describe('a pair session', () => {
  /** A remembered pair of real folders, and its config as a journal restore would leave it. */
  async function pairThenConfig(change: (config: StateConfig, pairId: string) => void) {
    const root = join(base, 'state');
    const local = join(base, 'notes');
    const bucket = join(base, 'bucket');
    await mkdir(local);
    await mkdir(bucket);
    const state = await StateDir.open(root, 'laptop');
    const { pair, created } = await state.pairFor(local, pathToFileURL(bucket).href, {});
    const config = await onDisk(root);
    change(config, pair.id);
    await writeFile(join(root, 'config.json'), JSON.stringify(config));
    let ran = false;
    // A command writes nothing before its journal is open (a sync observes both sides
    // meanwhile, and journals what it saw first).
    const session = withPairSession(pair, state, created, async ({ journal }) => {
      await journal;
      ran = true;
    });
    return { session, ran: () => ran };
  }

  it('stops (exit 5) when a journal restore put the restored pair in its place while it waited', async () => {
    const { session, ran } = await pairThenConfig((config, id) => {
      config.pairs = config.pairs.map((p) => (p.id === id ? { ...p, id: 'pair-restored' } : p));
    });
    const error = await session.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PairLockedError);
    expect((error as Error).message).toMatch(
      /a journal restore brought back the pair for .* with its baseline, in place of pair-[0-9a-f]+\. Nothing was changed\. Run it again\./,
    );
    expect(ran()).toBe(false);
  });

  it('stops when its pair was removed from the config while it waited', async () => {
    const { session, ran } = await pairThenConfig((config) => {
      config.pairs = [];
    });
    await expect(session).rejects.toThrow(/was removed from the state dir's config/);
    expect(ran()).toBe(false);
  });
});

describe('borrowing the journal (a read-only command)', () => {
  it('waits while another process holds the journal and opens it once free; gives up with exit 5', async () => {
    const state = await StateDir.open(join(base, 'state'), 'laptop');
    await (await borrowStateJournal(state)).close();
    const held = await lockJournalDir(state.journalDir, 'A watch');
    const requests = async () =>
      (await readdir(state.root)).filter((n) => n.startsWith('journal.borrow.'));
    // Given up after the wait, saying why, and leaving no request behind.
    const refused = await borrowStateJournal(state, { waitMs: 300 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PairLockedError);
    expect((refused as Error).message).toMatch(
      /open in another process .*A running syncjournal watch lends it between two syncs; it was not free within 0\.3 s/,
    );
    expect(await requests()).toEqual([]);
    // Asked for while held (the request is there, and said once), opened once released.
    const waits: string[] = [];
    const borrowing = borrowStateJournal(state, { waitMs: 10_000, onWait: (m) => waits.push(m) });
    for (let i = 0; i < 100 && (await requests()).length === 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(await requests()).toHaveLength(1);
    expect(waits).toEqual([
      expect.stringMatching(
        /^the journal is open in another syncjournal process; waiting up to 10 s/,
      ),
    ]);
    await held.release();
    const journal = await borrowing;
    expect(await journal.events({ limit: 1 })).toEqual([]);
    await journal.close();
    expect(await requests()).toEqual([]);
  });

  it('tells a live request from a dead one, and drops an unreadable one only once it stays so', async () => {
    const state = await StateDir.open(join(base, 'state'), 'laptop');
    const request = (name: string) => join(state.root, `journal.borrow.${name}`);
    const here = { host: hostname(), since: new Date().toISOString() };
    await writeFile(request('dead'), JSON.stringify({ ...here, pid: 2 ** 22 + 17 }));
    expect(await borrowRequested(state)).toBe(false);
    expect(existsSync(request('dead'))).toBe(false);
    // Empty: being written in place. Left alone while fresh, removed once old.
    await writeFile(request('writing'), '');
    expect(await borrowRequested(state)).toBe(false);
    expect(existsSync(request('writing'))).toBe(true);
    const old = new Date(Date.now() - 60_000);
    await utimes(request('writing'), old, old);
    expect(await borrowRequested(state)).toBe(false);
    expect(existsSync(request('writing'))).toBe(false);
    // Another live process (this one's parent).
    await writeFile(request('live'), JSON.stringify({ ...here, pid: process.ppid }));
    expect(await borrowRequested(state)).toBe(true);
    expect(existsSync(request('live'))).toBe(true);
  });
});
