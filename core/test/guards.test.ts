import { describe, expect, it } from 'vitest';
import { checkGuards, type GuardInput, type PlanOp, SAFETY_PROFILES } from '../src/index.js';

const op = (path: string, action: PlanOp['action'], row = 'x'): PlanOp =>
  ({ index: 0, path, action, row, why: '' }) as PlanOp;
const deletes = (n: number, action: 'delete-local' | 'delete-remote' = 'delete-remote') =>
  Array.from({ length: n }, (_, i) => op(`f${i}`, action));

const guard = (partial: Partial<GuardInput>) =>
  checkGuards({
    plan: { ops: [], excludedWithBase: [] },
    baseCount: 1000,
    localCount: 1000,
    remoteCount: 1000,
    scanComplete: true,
    listingComplete: true,
    unreadable: [],
    profile: 'balanced',
    ...partial,
  });

describe('guards', () => {
  it('pass an ordinary plan, with a verdict from every guard', () => {
    const result = guard({
      plan: { ops: [op('a', 'upload'), ...deletes(3)], excludedWithBase: [] },
    });
    expect(result.blocked).toBeNull();
    expect(result.verdicts.map((v) => [v.guard, v.verdict])).toEqual([
      ['incomplete-scan', 'pass'],
      ['incomplete-listing', 'pass'],
      ['empty-side', 'pass'],
      ['delete-limit', 'pass'],
      ['filter-change', 'pass'],
      ['unsafe-keys', 'pass'],
    ]);
  });

  it('block remote deletes derived from an incomplete scan, even with --force', () => {
    const result = guard({
      plan: { ops: deletes(1), excludedWithBase: [] },
      scanComplete: false,
      unreadable: ['private'],
      force: true,
    });
    expect(result.blocked?.guard).toBe('incomplete-scan');
    expect(result.blocked?.reason).toMatch(/could not read: private.*Nothing was applied/s);
  });

  it('block local deletes derived from an incomplete listing', () => {
    const result = guard({
      plan: { ops: deletes(1, 'delete-local'), excludedWithBase: [] },
      listingComplete: false,
    });
    expect(result.blocked?.guard).toBe('incomplete-listing');
  });

  it('let an incomplete scan through when it implies no delete, and say so', () => {
    const result = guard({
      plan: { ops: [op('a', 'upload')], excludedWithBase: [] },
      scanComplete: false,
    });
    expect(result.blocked).toBeNull();
    expect(result.verdicts[0]).toMatchObject({ guard: 'incomplete-scan', verdict: 'limited' });
  });

  it('block a run against an empty side when the baseline holds files; only allowEmpty lets it through', () => {
    const emptyLocal = {
      plan: { ops: deletes(3), excludedWithBase: [] },
      baseCount: 3,
      localCount: 0,
      maxDelete: 100,
    };
    expect(guard(emptyLocal).blocked?.guard).toBe('empty-side');
    expect(guard(emptyLocal).blocked?.reason).toMatch(/local folder is empty.*unmounted/);
    const emptyRemote = {
      plan: { ops: deletes(3, 'delete-local'), excludedWithBase: [] },
      baseCount: 3,
      remoteCount: 0,
      maxDelete: 100,
    };
    expect(guard(emptyRemote).blocked?.reason).toMatch(/remote is empty.*bucket or prefix/);
    expect(guard({ ...emptyLocal, force: true }).blocked?.guard).toBe('empty-side');
    expect(guard({ ...emptyLocal, allowEmpty: true }).blocked).toBeNull();
    expect(guard({ ...emptyRemote, allowEmpty: true }).blocked).toBeNull();
    // Emptying a side deletes all it held: far above any limit, and meant.
    const all = {
      ...emptyLocal,
      maxDelete: undefined,
      plan: { ops: deletes(40), excludedWithBase: [] },
      baseCount: 40,
    };
    expect(guard(all).blocked?.guard).toBe('empty-side');
    expect(guard({ ...all, allowEmpty: true }).blocked).toBeNull();
    // allowEmpty is about an emptied side, not a licence for other deletes.
    const many = {
      plan: { ops: deletes(40), excludedWithBase: [] },
      baseCount: 50,
      localCount: 10,
    };
    expect(guard({ ...many, allowEmpty: true }).blocked?.guard).toBe('delete-limit');
  });

  it.each(Object.entries(SAFETY_PROFILES))(
    'limit deletes by count for the %s profile',
    (profile, limits) => {
      const at = guard({
        profile: profile as GuardInput['profile'],
        plan: { ops: deletes(limits.maxDelete), excludedWithBase: [] },
      });
      expect(at.blocked).toBeNull();
      const over = guard({
        profile: profile as GuardInput['profile'],
        plan: { ops: deletes(limits.maxDelete + 1), excludedWithBase: [] },
      });
      expect(over.blocked?.guard).toBe('delete-limit');
      expect(
        guard({
          profile: profile as GuardInput['profile'],
          plan: { ops: deletes(limits.maxDelete + 1), excludedWithBase: [] },
          force: true,
        }).blocked,
      ).toBeNull();
    },
  );

  it('limit deletes by share of the baseline, above a floor of five', () => {
    expect(
      guard({ baseCount: 10, plan: { ops: deletes(4), excludedWithBase: [] } }).blocked,
    ).toBeNull();
    expect(
      guard({ baseCount: 10, plan: { ops: deletes(5), excludedWithBase: [] } }).blocked?.reason,
    ).toMatch(/delete 5 file\(s\) \(50% of 10\)/);
    expect(
      guard({ baseCount: 10, maxDelete: 3, plan: { ops: deletes(4), excludedWithBase: [] } })
        .blocked?.reason,
    ).toMatch(/above --max-delete 3\./);
  });

  it('let a --max-delete the user gave through whatever share of the baseline it is', () => {
    const most = { baseCount: 24, plan: { ops: deletes(20), excludedWithBase: [] } };
    expect(guard(most).blocked?.reason).toMatch(/above the balanced limit of 25 and 25%/);
    expect(guard({ ...most, maxDelete: 20 }).blocked).toBeNull();
    expect(guard({ ...most, maxDelete: 19 }).blocked?.guard).toBe('delete-limit');
  });

  it('report newly excluded files and skipped unsafe keys without blocking', () => {
    const result = guard({
      plan: { ops: [op('../x', 'skip', 'unsafe-key')], excludedWithBase: ['build/a', 'build/b'] },
    });
    expect(result.blocked).toBeNull();
    expect(result.verdicts.find((v) => v.guard === 'filter-change')).toMatchObject({
      verdict: 'limited',
      paths: ['build/a', 'build/b'],
    });
    expect(result.verdicts.find((v) => v.guard === 'unsafe-keys')).toMatchObject({
      verdict: 'limited',
      paths: ['../x'],
    });
  });
});
