import {
  comparePaths,
  eventHash,
  type Hasher,
  InvalidEventError,
  type JournalEventInput,
  JournalTooNewError,
} from '@syncjournal/core';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MIGRATION_TABLE } from '../migrations.js';
import { openPostgresJournal, type PostgresJournal } from '../postgres-journal.js';
import { emptyReport, hex, runStart, sampleRun, scanEntry } from './fixtures.js';

/** Opens a fresh, empty journal for one test, and disposes of it afterwards. */
export interface JournalTestSetup {
  /** The hasher the journals use (the tests forge a chain with it). */
  hasher: Hasher;
  open(): Promise<PostgresJournal>;
  /** Called after each test with the journal it opened (closed or not). */
  dispose?(journal: PostgresJournal): Promise<void>;
}

/**
 * The journal's test body. Every database the journal runs on runs it: PGlite in
 * memory and on disk, a PostgreSQL server, PGlite in a browser.
 */
export function runJournalTests(name: string, setup: JournalTestSetup): void {
  describe(`journal on ${name}`, () => {
    let journal: PostgresJournal;

    beforeEach(async () => {
      journal = await setup.open();
    });
    afterEach(async () => {
      await journal.close();
      await setup.dispose?.(journal);
    });

    const count = async () =>
      Number(
        (await sql<{ n: number }>`select count(*)::int as n from events`.execute(journal.db))
          .rows[0]!.n,
      );
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
      const before = { events: await count(), dump: await journal.dump() };
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
      expect(await journal.dump()).toEqual(before.dump);
    });

    it('rolls back a transaction that fails half-way through its writes', async () => {
      const run = await syncRun();
      const before = { events: await count(), dump: await journal.dump() };
      // The events insert and the listing upsert succeed; the manifest write then fails.
      await sql
        .raw(`create function poison() returns trigger language plpgsql as $$
              begin if new.path = 'poison.md' then raise exception 'disk full'; end if; return new; end $$`)
        .execute(journal.db);
      await sql
        .raw(
          'create trigger poison before insert on manifest for each row execute function poison()',
        )
        .execute(journal.db);
      await expect(
        journal.append([
          { kind: 'listing.added', run, path: 'l.md', payload: { size: 1, etag: '"l"' } },
          { kind: 'scan.added', run, path: 'poison.md', payload: scanEntry(5) },
        ]),
      ).rejects.toThrow(/disk full/);
      expect(await count()).toBe(before.events);
      expect(await journal.dump()).toEqual(before.dump);
      await sql.raw('drop trigger poison on manifest').execute(journal.db);
      await journal.append([{ kind: 'scan.added', run, path: 'after.md', payload: scanEntry(6) }]);
      expect(await journal.verify()).toMatchObject({ ok: true, events: before.events + 1 });
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

    describe('tamper evidence', () => {
      const tamper = async (statement: string) => {
        await sql.raw('alter table events disable trigger events_append_only').execute(journal.db);
        await sql.raw(statement).execute(journal.db);
        await sql.raw('alter table events enable trigger events_append_only').execute(journal.db);
      };

      it('refuses UPDATE and DELETE on events while the guard trigger is on', async () => {
        await syncRun();
        await expect(
          sql.raw('delete from events where seq = 3').execute(journal.db),
        ).rejects.toThrow(/append-only/);
        await expect(
          sql.raw(`update events set kind = 'x' where seq = 3`).execute(journal.db),
        ).rejects.toThrow(/append-only/);
      });

      it('names an event whose payload was edited', async () => {
        await syncRun();
        await tamper(
          `update events set payload = jsonb_set(payload, '{size}', '999') where seq = 4`,
        );
        expect(await journal.verify()).toEqual({
          ok: false,
          events: 3,
          firstBad: {
            seq: 4,
            reason: 'hash-mismatch',
            detail: expect.stringContaining('scan.added'),
          },
        });
      });

      it('names an event whose path or time was edited', async () => {
        await syncRun();
        await tamper(`update events set path = 'elsewhere.md' where seq = 3`);
        expect(await journal.verify()).toMatchObject({ ok: false, firstBad: { seq: 3 } });
        await tamper(`update events set path = 'notes/b.md' where seq = 3`);
        expect(await journal.verify()).toMatchObject({ ok: true });
        await tamper(`update events set at = at + interval '1 second' where seq = 2`);
        expect(await journal.verify()).toMatchObject({ ok: false, firstBad: { seq: 2 } });
      });

      it('names a deleted event', async () => {
        await syncRun();
        await tamper('delete from events where seq = 6');
        expect(await journal.verify()).toEqual({
          ok: false,
          events: 5,
          firstBad: { seq: 6, reason: 'missing-event', detail: expect.any(String) },
        });
      });

      it('notices when the last event was deleted', async () => {
        await syncRun();
        const last = await count();
        await tamper(`delete from events where seq = ${last}`);
        expect(await journal.verify()).toMatchObject({
          ok: false,
          firstBad: { seq: last, reason: 'head-mismatch' },
        });
      });

      it('names the event after one forged with a recomputed hash', async () => {
        await syncRun();
        // A careful forger rewrites event 4 and its hash; event 5 still links to the original.
        const [original] = await journal.events({ afterSeq: 3, limit: 1 });
        const payload = { ...scanEntry(1), size: 5 };
        const forged = eventHash(setup.hasher, original!.prevHash, { ...original!, payload });
        await tamper(
          `update events set payload = '${JSON.stringify(payload)}', hash = '${forged}' where seq = 4`,
        );
        expect(await journal.verify()).toEqual({
          ok: false,
          events: 4,
          firstBad: { seq: 5, reason: 'broken-link', detail: expect.stringContaining('event 4') },
        });
      });
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
      const live = await journal.dump();
      const result = await journal.rebuild();
      expect(result.matched).toBe(true);
      expect(result.events).toBe(await count());
      expect(result.tables.manifest).toEqual({ rowsBefore: 2, rowsAfter: 2, matched: true });
      expect(await journal.dump()).toEqual(live);
    });

    it('rebuild() repairs projections damaged outside the journal, and says so', async () => {
      await syncRun();
      const live = await journal.dump();
      await sql.raw(`delete from manifest where path = 'z.md'`).execute(journal.db);
      await sql.raw(`update baseline set hash = 'bogus'`).execute(journal.db);
      const result = await journal.rebuild();
      expect(result.matched).toBe(false);
      expect(result.tables.manifest).toEqual({ rowsBefore: 2, rowsAfter: 3, matched: false });
      expect(result.tables.baseline.matched).toBe(false);
      expect(result.tables.listing.matched).toBe(true);
      expect(await journal.dump()).toEqual(live);
    });

    it('refuses a journal written by a newer version and changes nothing', async () => {
      await syncRun();
      const events = await count();
      await sql
        .raw(`update journal_meta set value = '2' where key = 'schema_version'`)
        .execute(journal.db);
      const error = await openPostgresJournal(journal.db, { hasher: fakeHasherGuard }).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(JournalTooNewError);
      expect((error as JournalTooNewError).message).toMatch(
        /newer syncjournal.*Nothing was changed/s,
      );
      const meta = await sql<{ value: string }>`
        select value from journal_meta where key = 'schema_version'`.execute(journal.db);
      expect(meta.rows[0]?.value).toBe('2');
      expect(await count()).toBe(events);

      await sql
        .raw(`update journal_meta set value = '1' where key = 'schema_version'`)
        .execute(journal.db);
      await sql`insert into ${sql.table(MIGRATION_TABLE)} (name, timestamp) values ('0099_future', now()::text)`.execute(
        journal.db,
      );
      await expect(
        openPostgresJournal(journal.db, { hasher: fakeHasherGuard }),
      ).rejects.toMatchObject({
        code: 'journal-too-new',
        data: { unknownMigrations: ['0099_future'] },
      });
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

/** Never called: a too-new journal is refused before any hashing. */
const fakeHasherGuard = {
  create(): never {
    throw new Error('the hasher must not be used while refusing a newer journal');
  },
};
