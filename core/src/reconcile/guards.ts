import type { GuardVerdict } from '../report.js';
import type { Plan } from './reconcile.js';

/** How many deletes a run may apply before it stops and asks (`--force` overrides). */
export const SAFETY_PROFILES = {
  safe: { maxDelete: 10, maxDeleteShare: 0.1 },
  balanced: { maxDelete: 25, maxDeleteShare: 0.25 },
  fast: { maxDelete: 50, maxDeleteShare: 0.5 },
} as const;

/** A safety profile's name. */
export type SafetyProfile = keyof typeof SAFETY_PROFILES;

/** Below this many deletes the share limit does not apply (deleting 2 of 4 files is normal). */
export const SHARE_LIMIT_FLOOR = 5;

/** What the guards look at besides the plan. */
export interface GuardInput {
  plan: Plan;
  /** Files in the baseline (what both sides last agreed on). */
  baseCount: number;
  localCount: number;
  remoteCount: number;
  scanComplete: boolean;
  listingComplete: boolean;
  /** Folders the scan could not read, for the message. */
  unreadable: readonly string[];
  profile: SafetyProfile;
  /**
   * The user's own limit for this run (`--max-delete`): up to this many deletes pass,
   * whatever their share of the baseline. It replaces both of the profile's limits.
   */
  maxDelete?: number;
  /** Lets deletes above the limits through. Never an emptied side, never incomplete scans. */
  force?: boolean;
  /**
   * The user emptied a side on purpose: a plan that deletes, on the other side, what
   * the emptied one held is applied, its deletes above the limits included. A separate
   * choice from `force`, so that a run forced past the limits is still stopped by an
   * unmounted drive.
   */
  allowEmpty?: boolean;
}

/** The guards' verdicts; `blocked` set means the run must apply nothing. */
export interface GuardResult {
  verdicts: GuardVerdict[];
  blocked: { guard: string; reason: string } | null;
}

/**
 * The safety guards, in a fixed order. Each returns a verdict; the first that blocks
 * names the run's `blocked` reason. Pure, like the reconciler.
 */
export function checkGuards(input: GuardInput): GuardResult {
  const { plan } = input;
  const deleteRemote = plan.ops.filter((o) => o.action === 'delete-remote');
  const deleteLocal = plan.ops.filter((o) => o.action === 'delete-local');
  const deletes = deleteRemote.length + deleteLocal.length;
  const verdicts: GuardVerdict[] = [];

  if (!input.scanComplete && deleteRemote.length > 0) {
    verdicts.push({
      guard: 'incomplete-scan',
      verdict: 'blocked',
      reason:
        `The local scan did not complete (could not read: ${input.unreadable.slice(0, 3).join(', ')}${input.unreadable.length > 3 ? ', …' : ''}), ` +
        `so the ${deleteRemote.length} remote delete(s) it implies may be wrong. Nothing was applied. ` +
        'Make those folders readable (or exclude them) and sync again.',
      paths: deleteRemote.map((o) => o.path),
    });
  } else {
    verdicts.push(incompleteVerdict('incomplete-scan', input.scanComplete, plan, 'local-unknown'));
  }

  if (!input.listingComplete && deleteLocal.length > 0) {
    verdicts.push({
      guard: 'incomplete-listing',
      verdict: 'blocked',
      reason:
        `The remote listing did not complete, so the ${deleteLocal.length} local delete(s) it implies may be wrong. ` +
        'Nothing was applied. Sync again when the store answers.',
      paths: deleteLocal.map((o) => o.path),
    });
  } else {
    verdicts.push(
      incompleteVerdict('incomplete-listing', input.listingComplete, plan, 'remote-unknown'),
    );
  }

  const emptyLocal = input.scanComplete && input.localCount === 0 && deleteRemote.length > 0;
  const emptyRemote = input.listingComplete && input.remoteCount === 0 && deleteLocal.length > 0;
  const emptied = input.baseCount > 0 && (emptyLocal || emptyRemote);
  if (emptied && !input.allowEmpty) {
    const side = emptyLocal ? 'local folder' : 'remote';
    verdicts.push({
      guard: 'empty-side',
      verdict: 'blocked',
      reason:
        `The ${side} is empty, but ${input.baseCount} file(s) were in sync before: an unmounted drive or a wrong ` +
        `${emptyLocal ? 'path' : 'bucket or prefix'} looks like this. Nothing was applied. ` +
        'Check the location; if you really emptied it, sync again with --allow-empty.',
    });
  } else {
    verdicts.push({ guard: 'empty-side', verdict: 'pass' });
  }

  const limits = SAFETY_PROFILES[input.profile];
  // A count the user gave is a decision about this run: the profile's share limit would
  // otherwise still block it, and no --max-delete could ever let those deletes through.
  const userLimit = input.maxDelete;
  const maxDelete = userLimit ?? limits.maxDelete;
  const share = input.baseCount > 0 ? deletes / input.baseCount : 0;
  const overCount = deletes > maxDelete;
  const overShare =
    userLimit === undefined && deletes >= SHARE_LIMIT_FLOOR && share > limits.maxDeleteShare;
  if ((overCount || overShare) && !input.force && !(emptied && input.allowEmpty)) {
    const limit =
      userLimit === undefined
        ? `the ${input.profile} limit of ${maxDelete} and ${Math.round(limits.maxDeleteShare * 100)}%`
        : `--max-delete ${userLimit}`;
    verdicts.push({
      guard: 'delete-limit',
      verdict: 'blocked',
      reason:
        `This sync would delete ${deletes} file(s) (${Math.round(share * 100)}% of ${input.baseCount}), above ${limit}. ` +
        'Nothing was applied. Review the plan with --dry-run; to apply it, sync again with --force or a higher --max-delete.',
    });
  } else {
    verdicts.push({ guard: 'delete-limit', verdict: 'pass' });
  }

  verdicts.push(
    plan.excludedWithBase.length > 0
      ? {
          guard: 'filter-change',
          verdict: 'limited',
          reason: `${plan.excludedWithBase.length} synced file(s) are now excluded by the filters; they are left as they are on both sides, never deleted.`,
          paths: plan.excludedWithBase,
        }
      : { guard: 'filter-change', verdict: 'pass' },
  );

  const unsafe = plan.ops.filter((o) => o.row === 'unsafe-key' || o.row === 'local-left-out');
  verdicts.push(
    unsafe.length > 0
      ? {
          guard: 'unsafe-keys',
          verdict: 'limited',
          reason: `${unsafe.length} path(s) cannot be synced safely here and were skipped (each plan op says why).`,
          paths: unsafe.map((o) => o.path),
        }
      : { guard: 'unsafe-keys', verdict: 'pass' },
  );

  const first = verdicts.find((v) => v.verdict === 'blocked');
  return {
    verdicts,
    blocked: first ? { guard: first.guard, reason: first.reason ?? first.guard } : null,
  };
}

function incompleteVerdict(
  guard: string,
  complete: boolean,
  plan: Plan,
  row: 'local-unknown' | 'remote-unknown',
): GuardVerdict {
  if (complete) return { guard, verdict: 'pass' };
  const skipped = plan.ops.filter((o) => o.row === row).map((o) => o.path);
  return {
    guard,
    verdict: 'limited',
    reason: `${guard === 'incomplete-scan' ? 'The scan' : 'The listing'} did not complete: no delete was derived from it${skipped.length ? `, and ${skipped.length} path(s) it could not see were skipped` : ''}.`,
    ...(skipped.length ? { paths: skipped } : {}),
  };
}
