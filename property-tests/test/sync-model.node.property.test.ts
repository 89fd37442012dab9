import type { Journal } from '@syncjournal/core';
import { readProjections } from '@syncjournal/core/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runs, seed } from './budget.js';
import { nodeAdapters, openSharedJournal } from './model/adapters.js';
import { commandsArbitrary, runModel, setupArbitrary } from './model/commands.js';
import { coverage } from './model/world.js';

/**
 * The same sync model on the real Node adapters: NodeTree on memfs, the folder bucket
 * on a temp dir, and a PGlite journal (shared by the clients, one pair each). Fewer
 * cases: each sync here is real I/O and real SQL.
 */
describe('sync model on Node adapters', () => {
  let journal: Journal;
  beforeAll(async () => {
    journal = await openSharedJournal();
  });
  // Invariant 5 for the journal every case shared: checked once, after them all.
  afterAll(async () => {
    console.log(`sync model on Node adapters reached: ${coverage.summary()}`);
    try {
      const live = await readProjections(journal);
      expect(await journal.verify()).toMatchObject({ ok: true });
      expect((await journal.rebuild()).matched).toBe(true);
      expect(await readProjections(journal)).toEqual(live);
    } finally {
      await journal?.close();
    }
  });

  const cases = runs(150);
  // About a second a case here; a bigger --runs gets a proportionally longer limit.
  it('never loses a write (NodeTree on memfs, folder bucket, PGlite)', {
    timeout: Math.max(300_000, cases * 10_000),
  }, async () => {
    await fc.assert(
      fc.asyncProperty(
        setupArbitrary(3).chain((setup) =>
          fc.tuple(fc.constant(setup), commandsArbitrary(setup.clients, 15)),
        ),
        async ([setup, commands]) => {
          await runModel(await nodeAdapters({ journal }), setup, commands);
        },
      ),
      { numRuns: cases, ...seed(), verbose: 1 },
    );
  });
});
