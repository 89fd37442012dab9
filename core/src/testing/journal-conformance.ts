import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidEventError } from '../errors.js';
import type { JournalEventInput } from '../journal/events.js';
import type { ProjectionRows, ProjectionTable } from '../journal/projections.js';
import { comparePaths } from '../paths.js';
import type { Hasher } from '../ports/hasher.js';
import type { Journal } from '../ports/journal.js';
import { emptyReport, hex, runStart, sampleRun, scanEntry } from './journal-fixtures.js';

/** Opens a fresh, empty journal for one test, and disposes of it afterwards. */
export interface JournalSetup<J extends Journal = Journal> {
  /** The hasher the journals use. */
  hasher: Hasher;
  open(): Promise<J>;
  /** Called after each test with the journal it opened (already closed). */
  dispose?(journal: J): Promise<void>;
}

/**
 * Every projection as the port reads it, for the pairs the journal has runs of:
 * what "equal" means for two journals, or for a journal before and after a rebuild.
 */
export async function readProjections(
  journal: Journal,
): Promise<{ [T in ProjectionTable]: ProjectionRows[T][] }> {
  const runs = (await journal.runs()).sort((a, b) => a.run - b.run);
  const pairs = [...new Set(runs.map((r) => r.pairId))].sort(comparePaths);
  const out = {
    runs,
    manifest: [],
    listing: [],
    baseline: [],
    tombstones: [],
    conflicts: [],
    reports: [],
  } as {
    [T in ProjectionTable]: ProjectionRows[T][];
  };
  for (const pair of pairs) {
    out.manifest.push(...(await journal.manifest(pair)));
    out.listing.push(...(await journal.listing(pair)));
    out.baseline.push(...(await journal.baseline(pair)));
    out.tombstones.push(...(await journal.tombstones(pair)));
    out.conflicts.push(...(await journal.conflicts(pair)));
  }
  for (const run of runs) {
    const report = await journal.report(run.run);
    if (report) out.reports.push(report);
  }
  return out;
}

/**
 * The Journal port's conformance suite. Every implementation runs it: Postgres on
 * PGlite (memory, data directory, browser) and on a PostgreSQL server.
 */
export function runJournalConformance<J extends Journal>(
  name: string,
  setup: JournalSetup<J>,
): void {
  describe(`Journal conformance: ${name}`, () => {
    let journal: J;

    beforeEach(async () => {
      journal = await setup.open();
    });
    afterEach(async () => {
      await journal.close();
      await setup.dispose?.(journal);
    });

    const count = async () => (await journal.events()).length;
    const syncRun = async (pairId = 'pair-1') => {
      const run = await journal.startRun(runStart(pairId));
      await journal.append(sampleRun(run));
      return run;
    };

    it('allocates run numbers journal-wide and records each run', async () => {
      const first = await journal.startRun(runStart('pair-1', 'client-a'));
      const second = await journal.startRun(runStart('pair-2', 'client-b'));
      expect([first, second]).toEqual([1, 2]);
      const runs = await journal.runs();
      expect(runs.map((r) => [r.run, r.pairId, r.clientId, r.status])).toEqual([
        [2, 'pair-2', 'client-b', 'running'],
        [1, 'pair-1', 'client-a', 'running'],
      ]);
      expect((await journal.runs({ pairId: 'pair-1' })).map((r) => r.run)).toEqual([1]);
      expect((await journal.runs({ clientId: 'client-b' })).map((r) => r.run)).toEqual([2]);
      expect(await journal.runs({ limit: 1 })).toHaveLength(1);
    });

    it('folds a run into manifest, listing and baseline in one append', async () => {
      const run = await syncRun();
      const manifest = await journal.manifest('pair-1');
      expect(manifest.map((r) => r.path)).toEqual(['notes/a.md', 'notes/b.md', 'z.md']);
      expect(manifest[0]).toEqual({
        pairId: 'pair-1',
        path: 'notes/a.md',
        run,
        racy: false,
        ...scanEntry(1),
      });
      expect(await journal.listing('pair-1')).toEqual([
        {
          pairId: 'pair-1',
          path: 'notes/b.md',
          size: 102,
          etag: '"e-b"',
          versionId: null,
          sha256: hex(2),
          lastModified: null,
          run,
        },
      ]);
      const baseline = await journal.baseline('pair-1');
      expect(baseline.map((b) => [b.path, b.hash, b.etag, b.versionId])).toEqual([
        ['notes/a.md', hex(1), '"e-a"', 'v1'],
        ['notes/b.md', hex(2), '"e-b"', null],
      ]);
      expect(await journal.manifest('another-pair')).toEqual([]);
      expect(await journal.report(run)).toBeUndefined();
    });

    it('keeps path rows in code point order, whatever the characters', async () => {
      const run = await journal.startRun(runStart('pair-1'));
      const paths = ['a', 'B', 'é.md', '\u{1F600}.md', '\uFFFD.md', 'a/b', 'a-b', 'A b', 'Z'];
      await journal.append(
        paths.map((path, i) => ({ kind: 'scan.added', run, path, payload: scanEntry(i) })),
      );
      const sorted = [...paths].sort(comparePaths);
      expect((await journal.manifest('pair-1')).map((r) => r.path)).toEqual(sorted);
    });

    it('applies deltas: changed and removed entries, dropped baselines, tombstones', async () => {
      await syncRun();
      const run = await journal.startRun(runStart('pair-1', 'client-b'));
      await journal.append([
        { kind: 'scan.changed', run, path: 'notes/a.md', payload: scanEntry(7, { racy: true }) },
        { kind: 'scan.removed', run, path: 'z.md', payload: {} },
        { kind: 'listing.removed', run, path: 'notes/b.md', payload: {} },
        {
          kind: 'op.applied',
          run,
          path: 'notes/b.md',
          payload: {
            index: 0,
            action: 'delete-local',
            baseline: null,
            tombstone: { side: 'local', hash: hex(2), trash: 'trash/1/notes/b.md' },
          },
        },
      ]);
      const manifest = await journal.manifest('pair-1');
      expect(manifest.map((r) => [r.path, r.hash, r.racy, r.run])).toEqual([
        ['notes/a.md', hex(7), true, run],
        ['notes/b.md', hex(2), false, 1],
      ]);
      expect(await journal.listing('pair-1')).toEqual([]);
      expect((await journal.baseline('pair-1')).map((b) => b.path)).toEqual(['notes/a.md']);
      const tombstones = await journal.tombstones('pair-1', 'notes/b.md');
      expect(tombstones).toHaveLength(1);
      expect(tombstones[0]).toMatchObject({
        side: 'local',
        run,
        clientId: 'client-b',
        hash: hex(2),
        trash: 'trash/1/notes/b.md',
        etag: null,
      });
      expect(await journal.tombstones('pair-1', 'notes/a.md')).toEqual([]);
    });

    it('records a conflict with where each version lives, then resolves it', async () => {
      const run = await journal.startRun(runStart('pair-1'));
      const kept = [
        { side: 'remote' as const, path: 'a.md', hash: hex(1), etag: '"r"' },
        { side: 'local' as const, path: 'a.conflict-client-a-20260101T000000.md', hash: hex(2) },
      ];
      const { lastSeq } = await journal.append([
        { kind: 'conflict.recorded', run, path: 'a.md', payload: { kind: 'both-changed', kept } },
      ]);
      const [open] = await journal.conflicts('pair-1', 'open');
      expect(open).toMatchObject({ id: lastSeq, path: 'a.md', status: 'open', kept, run });
      const later = await journal.startRun(runStart('pair-1'));
      await journal.append([
        {
          kind: 'conflict.resolved',
          run: later,
          path: 'a.md',
          payload: { conflict: lastSeq, resolution: 'keep-local', kept: [kept[1]!] },
        },
      ]);
      expect(await journal.conflicts('pair-1', 'open')).toEqual([]);
      const [resolved] = await journal.conflicts('pair-1');
      expect(resolved).toMatchObject({
        id: lastSeq,
        status: 'resolved',
        resolution: 'keep-local',
        resolvedRun: later,
        resolvedKept: [kept[1]],
      });
    });

    it('writes the report on completion and refuses events for a completed run', async () => {
      const run = await syncRun();
      await journal.append([{ kind: 'run.completed', run, payload: emptyReport(run) }]);
      expect(await journal.report(run)).toEqual({
        run,
        pairId: 'pair-1',
        status: 'in-sync',
        report: emptyReport(run),
      });
      const [row] = await journal.runs();
      expect(row?.status).toBe('in-sync');
      expect(row?.completedAt).not.toBeNull();
      const before = await count();
      await expect(
        journal.append([{ kind: 'scan.removed', run, path: 'z.md', payload: {} }]),
      ).rejects.toThrow(InvalidEventError);
      expect(await count()).toBe(before);
    });

    it('refuses an invalid batch as a whole: nothing of it is written', async () => {
      const run = await syncRun();
      const before = { events: await count(), dump: await readProjections(journal) };
      const batch: JournalEventInput[] = [
        { kind: 'scan.removed', run, path: 'z.md', payload: {} },
        { kind: 'scan.added', run, path: 'new.md', payload: scanEntry(9) },
        { kind: 'scan.added', run: run + 40, path: 'x.md', payload: scanEntry(10) },
      ];
      const error = await journal.append(batch).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidEventError);
      expect((error as InvalidEventError).code).toBe('journal-invalid-event');
      await expect(
        journal.append([
          { kind: 'plan.op', run, payload: { index: 0, action: 'upload', row: 'x', why: 'y' } },
        ]),
      ).rejects.toThrow(/needs a path/);
      await expect(
        journal.append([{ kind: 'run.started', run, payload: { ...runStart('p'), run } }]),
      ).rejects.toThrow(/startRun/);
      await expect(
        journal.append([{ kind: 'scan.added', run, path: 'nul\u0000.md', payload: scanEntry(1) }]),
      ).rejects.toThrow(/NUL/);
      expect(await count()).toBe(before.events);
      expect(await readProjections(journal)).toEqual(before.dump);
    });

    it('verify() passes on an untouched journal', async () => {
      await syncRun();
      await syncRun('pair-2');
      const result = await journal.verify();
      const events = await count();
      expect(result).toEqual({ ok: true, events, head: { seq: events, hash: expect.any(String) } });
      const last = await journal.events({ afterSeq: events - 1 });
      expect(result.ok && result.head.hash).toBe(last[0]!.hash);
    });

    it('rebuild() refolds projections equal to the live tables', async () => {
      await syncRun();
      const second = await journal.startRun(runStart('pair-1', 'client-b'));
      await journal.append([
        { kind: 'scan.removed', run: second, path: 'z.md', payload: {} },
        {
          kind: 'op.applied',
          run: second,
          path: 'z.md',
          payload: {
            index: 0,
            action: 'delete-remote',
            baseline: null,
            tombstone: { side: 'remote' },
          },
        },
        {
          kind: 'conflict.recorded',
          run: second,
          path: 'notes/a.md',
          payload: { kind: 'both-changed', kept: [{ side: 'local', path: 'notes/a.conflict.md' }] },
        },
        { kind: 'run.completed', run: second, payload: emptyReport(second, 'conflicts') },
      ]);
      const live = await readProjections(journal);
      const result = await journal.rebuild();
      expect(result.matched).toBe(true);
      expect(result.events).toBe(await count());
      expect(result.tables.manifest).toEqual({ rowsBefore: 2, rowsAfter: 2, matched: true });
      expect(await readProjections(journal)).toEqual(live);
    });

    it('reads events by run, by path and by kind', async () => {
      const first = await syncRun();
      const second = await syncRun('pair-2');
      const ofFirst = await journal.events({ run: first });
      expect(ofFirst.map((e) => e.kind)).toEqual([
        'run.started',
        ...sampleRun(first).map((e) => e.kind),
      ]);
      expect(ofFirst.map((e) => e.seq)).toEqual(ofFirst.map((_, i) => i + 1));
      const ofPath = await journal.events({ pairId: 'pair-2', path: 'notes/a.md' });
      expect(ofPath.every((e) => e.run === second && e.path === 'notes/a.md')).toBe(true);
      expect(ofPath.map((e) => e.kind)).toEqual([
        'scan.added',
        'plan.op',
        'op.started',
        'op.applied',
      ]);
      const plans = await journal.events({ kinds: ['plan.completed'] });
      expect(plans.map((e) => e.run)).toEqual([first, second]);
      expect(await journal.events({ afterSeq: 1, limit: 2 })).toHaveLength(2);
    });

    it('serialises concurrent appends into one gapless chain', async () => {
      const runs = await Promise.all(
        [1, 2, 3, 4].map((i) => journal.startRun(runStart(`pair-${i}`))),
      );
      expect([...runs].sort()).toEqual([1, 2, 3, 4]);
      await Promise.all(runs.map((run) => journal.append(sampleRun(run))));
      const result = await journal.verify();
      expect(result).toMatchObject({ ok: true, events: 4 + 4 * sampleRun(1).length });
      expect((await journal.rebuild()).matched).toBe(true);
    });

    it('treats an empty batch as a no-op', async () => {
      await syncRun();
      const events = await count();
      const result = await journal.append([]);
      expect(result.lastSeq).toBe(events);
      expect(await count()).toBe(events);
    });
  });
}
