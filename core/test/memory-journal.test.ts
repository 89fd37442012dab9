import { describe, expect, it } from 'vitest';
import { MemoryJournal } from '../src/index.js';
import { runJournalConformance } from '../src/testing/index.js';
import { runStart, sampleRun } from '../src/testing/journal-fixtures.js';
import { sha256 } from './node-sha256.js';

runJournalConformance('MemoryJournal', {
  hasher: sha256,
  open: async () => new MemoryJournal({ hasher: sha256 }),
});

describe('MemoryJournal', () => {
  it('hands out copies: changing a row read back changes nothing in the journal', async () => {
    const journal = new MemoryJournal({ hasher: sha256 });
    const run = await journal.startRun(runStart('pair-1'));
    await journal.append(sampleRun(run));
    const [row] = await journal.manifest('pair-1');
    row!.hash = 'edited';
    const [event] = await journal.events({ run, kinds: ['scan.added'] });
    (event!.payload as { hash: string }).hash = 'edited';
    expect((await journal.manifest('pair-1'))[0]!.hash).not.toBe('edited');
    expect(await journal.verify()).toMatchObject({ ok: true });
  });
});
