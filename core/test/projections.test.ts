import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type ConflictRow,
  foldEvent,
  InvalidEventError,
  type JournalEvent,
  ProjectionBatch,
  type ProjectionChange,
  type RunRow,
} from '../src/index.js';

const runRow: RunRow = {
  run: 1,
  pairId: 'p',
  clientId: 'c',
  mode: 'sync',
  local: '/l',
  remote: 's3://b',
  startedAt: '2026-01-01T00:00:00.000Z',
  completedAt: null,
  status: 'running',
  startedSeq: 1,
};

const conflict = (id: number, kind: string): ConflictRow => ({
  id,
  pairId: 'p',
  path: `f${id}`,
  run: 1,
  kind,
  status: 'open',
  kept: [],
  resolution: null,
  resolvedKept: null,
  resolvedRun: null,
});

const changeArb: fc.Arbitrary<ProjectionChange> = fc.oneof(
  fc
    .tuple(fc.integer({ min: 1, max: 4 }), fc.constantFrom('a', 'b', 'c'))
    .map(([id, kind]) => ({ table: 'conflicts', op: 'put', row: conflict(id, kind) }) as const),
  fc
    .integer({ min: 1, max: 4 })
    .map((id) => ({ table: 'conflicts', op: 'delete', key: [id] }) as const),
  fc
    .tuple(fc.integer({ min: 1, max: 4 }), fc.constantFrom('keep-local', 'keep-remote'), fc.nat(5))
    .map(
      ([id, resolution, run]) =>
        ({
          table: 'conflicts',
          op: 'patch',
          key: [id],
          set:
            run % 2
              ? { resolution }
              : { resolution, resolvedRun: run, status: 'resolved' as const },
        }) as const,
    ),
);

describe('ProjectionBatch', () => {
  it('has the same net effect as applying every change in order', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: 4 }), { maxLength: 4 }),
        fc.array(changeArb, { maxLength: 30 }),
        (existingIds, changes) => {
          const initial = new Map(existingIds.map((id) => [id, conflict(id, 'existing')]));

          // The model: apply each change in turn.
          const model = new Map(initial);
          for (const c of changes) {
            if (c.table !== 'conflicts') continue;
            const id = c.op === 'put' ? c.row.id : Number(c.key[0]);
            if (c.op === 'put') model.set(id, c.row);
            else if (c.op === 'delete') model.delete(id);
            else if (model.has(id)) model.set(id, { ...model.get(id)!, ...c.set });
          }

          // The batch: deletes, then puts, then patches of rows it did not put.
          const batch = new ProjectionBatch();
          for (const c of changes) batch.apply(c);
          const actual = new Map(initial);
          for (const key of batch.deletes('conflicts')) actual.delete(Number(key[0]));
          for (const row of batch.puts('conflicts')) actual.set(row.id, row);
          for (const { key, set } of batch.patches('conflicts')) {
            const id = Number(key[0]);
            if (actual.has(id)) actual.set(id, { ...actual.get(id)!, ...set });
          }
          expect(actual).toEqual(model);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('sees runs started earlier in the same batch', () => {
    const batch = new ProjectionBatch();
    batch.add(event({ seq: 1, kind: 'run.started', payload: { ...runRow, run: 1 } }));
    batch.add(event({ seq: 2, kind: 'scan.removed', path: 'a', payload: {} }));
    expect(batch.run(1)?.pairId).toBe('p');
    expect(batch.deletes('manifest')).toEqual([['p', 'a']]);
  });
});

describe('foldEvent', () => {
  const context = { run: (n: number) => (n === 1 ? runRow : undefined) };

  it('refuses events of a run that never started or already completed', () => {
    expect(() =>
      foldEvent(event({ run: 2, kind: 'scan.removed', path: 'a', payload: {} }), context),
    ).toThrow(InvalidEventError);
    const done = { run: () => ({ ...runRow, status: 'in-sync' as const }) };
    expect(() => foldEvent(event({ kind: 'scan.removed', path: 'a', payload: {} }), done)).toThrow(
      /already completed/,
    );
  });

  it('refuses a path event without a path', () => {
    expect(() =>
      foldEvent(event({ kind: 'op.started', payload: { index: 0, action: 'upload' } }), context),
    ).toThrow(/needs a path/);
  });

  it('stamps tombstones with the run’s client and the event’s seq', () => {
    const changes = foldEvent(
      event({
        seq: 9,
        kind: 'op.applied',
        path: 'gone.md',
        payload: {
          index: 0,
          action: 'delete-remote',
          baseline: null,
          tombstone: { side: 'remote', etag: '"e"' },
        },
      }),
      context,
    );
    expect(changes).toEqual([
      { table: 'baseline', op: 'delete', key: ['p', 'gone.md'] },
      {
        table: 'tombstones',
        op: 'put',
        row: {
          seq: 9,
          pairId: 'p',
          path: 'gone.md',
          side: 'remote',
          run: 1,
          clientId: 'c',
          hash: null,
          etag: '"e"',
          versionId: null,
          trash: null,
        },
      },
    ]);
  });

  it('leaves the baseline alone when op.applied carries none', () => {
    expect(
      foldEvent(
        event({ kind: 'op.applied', path: 'a', payload: { index: 0, action: 'upload' } }),
        context,
      ),
    ).toEqual([]);
  });
});

function event(partial: {
  seq?: number;
  run?: number;
  kind: string;
  path?: string;
  payload: unknown;
}): JournalEvent {
  return {
    seq: partial.seq ?? 2,
    run: partial.run ?? 1,
    at: '2026-01-01T00:00:00.000Z',
    kind: partial.kind,
    path: partial.path ?? null,
    payload: partial.payload,
    prevHash: '0'.repeat(64),
    hash: '1'.repeat(64),
  } as JournalEvent;
}
