import type { Scenario } from './steps.js';

/**
 * A counterexample the OPFS model in Chromium found (seed -1747119815, crash point 15):
 * client 0's run is killed right after its delete of d/c.md moved the file into the
 * local trash, so no journal entry says where. Where a crash point falls depends on the
 * adapters' port calls, so the regressions replay it over a range of them.
 */
export function killedAfterLocalTrash(at: number): Scenario {
  return {
    clients: 2,
    policies: ['prefer-remote', 'prefer-remote'],
    steps: [
      { t: 'write', client: 1, path: 0, grow: false, keepMtime: false },
      { t: 'write', client: 0, path: 2, grow: false, keepMtime: false },
      { t: 'sync', client: 0, faults: [], crash: null },
      { t: 'write', client: 1, path: 1, grow: false, keepMtime: false },
      { t: 'teammate-delete', pick: 0 },
      { t: 'sync', client: 1, faults: [], crash: null },
      { t: 'sync', client: 0, faults: [], crash: { at, after: true } },
    ],
  };
}
