import type { RunStatus } from '@syncjournal/core';

/** The CLI's exit codes: a stable interface for scripts. */
export const EXIT = {
  inSync: 0,
  failed: 1,
  usage: 2,
  conflicts: 3,
  blocked: 4,
  locked: 5,
} as const;

/** The exit code for a run's status. */
export function exitCodeFor(status: RunStatus): number {
  switch (status) {
    case 'in-sync':
      return EXIT.inSync;
    case 'conflicts':
      return EXIT.conflicts;
    case 'blocked':
      return EXIT.blocked;
    case 'failed':
      return EXIT.failed;
  }
}

/** The worst of several runs' statuses, for a sync of many pairs. */
export function worstStatus(statuses: readonly RunStatus[]): RunStatus {
  const order: RunStatus[] = ['failed', 'blocked', 'conflicts', 'in-sync'];
  return order.find((s) => statuses.includes(s)) ?? 'in-sync';
}
