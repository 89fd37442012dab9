import fc from 'fast-check';
import { afterAll, describe, it } from 'vitest';
import { DEFAULT_MODEL_RUNS, runs, seed } from './budget.js';
import { memoryAdapters } from './model/adapters.js';
import { commandsArbitrary, runModel, setupArbitrary } from './model/commands.js';
import { coverage } from './model/world.js';

/**
 * The sync model on the in-memory adapters: 1–4 clients, each with its own tree and
 * journal, on one bucket; random user edits, teammate writes, syncs with store faults
 * and crashes at any port call, lost journals and filter changes. After every step no
 * write is lost; at the end the clients converge, a further sync moves nothing, every
 * plan replays, projections rebuild and no delete came from a side not fully seen.
 */
describe('sync model on memory adapters', () => {
  afterAll(() => {
    console.log(`sync model on memory adapters reached: ${coverage.summary()}`);
  });
  for (const store of [
    { versioning: false, conditionalWrites: true },
    { versioning: true, conditionalWrites: true },
    { versioning: false, conditionalWrites: true, snapshots: true },
    { versioning: false, conditionalWrites: false },
  ]) {
    // About 15 ms a case; a bigger --runs gets a proportionally longer limit.
    const timeout = Math.max(300_000, runs(DEFAULT_MODEL_RUNS) * 200);
    it(`never loses a write (${memoryAdapters(store).name})`, { timeout }, async () => {
      await fc.assert(
        fc.asyncProperty(
          setupArbitrary(4).chain((setup) =>
            fc.tuple(
              fc.constant(setup),
              commandsArbitrary(setup.clients, 30, { races: store.conditionalWrites }),
            ),
          ),
          async ([setup, commands]) => {
            await runModel(memoryAdapters(store), setup, commands);
          },
        ),
        { numRuns: runs(DEFAULT_MODEL_RUNS), ...seed(), verbose: 1 },
      );
    });
  }
});
