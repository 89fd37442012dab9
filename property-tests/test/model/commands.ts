import fc from 'fast-check';
import type { Adapters } from './adapter-types.js';
import { POLICIES, type Scenario, type Step, type StepOptions, stepArbitrary } from './steps.js';
import { World } from './world.js';

/** One step as a fast-check command: the world is the real system; the oracle lives in it. */
class StepCommand implements fc.AsyncCommand<object, World> {
  constructor(readonly step: Step) {}
  check(): boolean {
    return true;
  }
  async run(_model: object, world: World): Promise<void> {
    await world.apply(this.step);
    await world.checkNoLostWrite(JSON.stringify(this.step));
  }
  toString(): string {
    return JSON.stringify(this.step);
  }
}

/** The setup of a case: the clients and their conflict policies. */
export const setupArbitrary = (maxClients: number) =>
  fc.integer({ min: 1, max: maxClients }).chain((clients) =>
    fc.record({
      clients: fc.constant(clients),
      policies: fc.array(fc.constantFrom(...POLICIES), { minLength: clients, maxLength: clients }),
    }),
  );

/** Random interleavings of steps for `clients` clients. */
export function commandsArbitrary(clients: number, maxCommands: number, options: StepOptions = {}) {
  return fc.commands([stepArbitrary(clients, options).map((s) => new StepCommand(s))], {
    maxCommands,
  });
}

/**
 * The model property: the steps run with invariant 1 after each, then the quiet
 * rounds (invariants 2 and 3) and the journal checks (4, 5, 6).
 */
export async function runModel(
  adapters: Adapters,
  setup: Pick<Scenario, 'clients' | 'policies'>,
  commands: Iterable<fc.AsyncCommand<object, World>>,
): Promise<World> {
  const world = await World.create(adapters, setup);
  try {
    await fc.asyncModelRun(() => ({ model: {}, real: world }), commands);
    await world.settle();
    await world.checkJournalPoints();
    await world.checkJournals();
    return world;
  } finally {
    await adapters.dispose();
  }
}

/** Replays a printed counterexample (its setup and steps) through the same checks. */
export function replay(adapters: Adapters, scenario: Scenario): Promise<World> {
  return runModel(
    adapters,
    scenario,
    scenario.steps.map((s) => new StepCommand(s)),
  );
}
