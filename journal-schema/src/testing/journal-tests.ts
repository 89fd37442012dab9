import {
  comparePaths,
  eventHash,
  type JournalEventInput,
  JournalTooNewError,
  type RunStatus,
} from '@syncjournal/core';
import {
  emptyReport,
  type JournalSetup,
  runJournalConformance,
  runStart,
  sampleRun,
  scanEntry,
} from '@syncjournal/core/testing';
import { sql } from 'kysely';
import { Migrator } from 'kysely/migration';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  MIGRATION_LOCK_TABLE,
  MIGRATION_TABLE,
  migrationProvider,
  SCHEMA_VERSION,
} from '../migrations.js';
import { openPostgresJournal, type PostgresJournal } from '../postgres-journal.js';
import {
  CACHED_PROJECTIONS,
  type CachedProjection,
  copyName,
  type ProjectionCache,
} from '../projection-cache.js';

/** Opens a fresh, empty journal for one test, and disposes of it afterwards. */
export interface JournalTestSetup extends JournalSetup<PostgresJournal> {
  /** Whether its journals vacuum their own tables: PGlite yes, a server (autovacuum) no. */
  upkeep: boolean;
}

/**
 * The journal's test body: the Journal port's conformance suite, and what only a SQL
 * journal can show — tamper evidence, a transaction failing half-way, a schema from
 * a newer version. Every database the journal runs on runs it: PGlite in memory and
 * on disk, a PostgreSQL server, PGlite in a browser.
 */
export function runJournalTests(name: string, setup: JournalTestSetup): void {
  runJournalConformance(name, setup);
  describe(`journal SQL on ${name}`, () => {
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

    it('reads a projection larger than one page whole, in path order, values intact', async () => {
      // More rows than one page of the paged projection read (20,000),
      // with paths whose byte order differs from a naive order (a/ before a-, upper before
      // lower case) and paths holding what the read's text format escapes (backslash, tab,
      // newline, carriage return, \\N, control characters) or SQL quotes (').
      const run = await journal.startRun(runStart('pair-big'));
      const shapes = (i: number) => [
        `a/${i}.md`,
        `a-${i}.md`,
        `Z/${i}\\N\t.md`,
        `é/${i}\n\\.md`,
        `z ${i}.md`,
        `q/it's ${i}\r\b\f\v.md`,
      ];
      const paths = Array.from({ length: 20_050 }, (_, i) => shapes(i)[i % 6]!);
      await journal.append(
        paths.map(
          (path, i) =>
            ({
              kind: 'scan.added',
              run,
              path,
              payload: scanEntry(i, { racy: i % 7 === 0 }),
            }) as const,
        ),
      );
      const manifest = await journal.manifest('pair-big');
      expect(manifest.map((row) => row.path)).toEqual([...paths].sort(comparePaths));
      const index = paths.indexOf('a-20047.md');
      expect(manifest.find((row) => row.path === 'a-20047.md')).toMatchObject({
        size: 100 + index,
        mtimeMs: 1_760_000_000_000 + index * 1000.5,
        hash: scanEntry(index).hash,
        ino: String(1000 + index),
        racy: index % 7 === 0,
        run,
      });
      // Every value as the row-by-row reader of dump() gives it.
      const dumped = (await journal.dump()).manifest.filter((row) => row.pairId === 'pair-big');
      expect(manifest).toEqual(dumped);
    });

    it('stores a large append with characters of every UTF-8 length as they were', async () => {
      // Large enough that PGlite is handed the rows' JSON as UTF-8 bytes (pglite-journal.ts).
      const run = await journal.startRun(runStart('pair-utf8'));
      const names = ['é', '日本語', '😀', 'a\\b"c', 'plain'];
      const paths = Array.from(
        { length: 300 },
        (_, i) => `${names[i % 5]}/${i}-${names[(i + 2) % 5]}.md`,
      );
      await journal.append(
        paths.map((path, i) => ({ kind: 'scan.added', run, path, payload: scanEntry(i) }) as const),
      );
      expect((await journal.manifest('pair-utf8')).map((row) => row.path)).toEqual(
        [...paths].sort(comparePaths),
      );
      const added = (await journal.events({ run, kinds: ['scan.added'] })).map((e) => [
        e.path,
        e.payload,
      ]);
      expect(added).toEqual(paths.map((path, i) => [path, scanEntry(i)]));
      expect(await journal.verify()).toMatchObject({ ok: true });
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

      it('notices an event inserted outside the chain, below it or past its head', async () => {
        await syncRun();
        const [first] = await journal.events({ limit: 1 });
        const copy = (seq: number) =>
          tamper(
            `insert into events (seq, run, at, kind, path, payload, prev_hash, hash) select ${seq}, run, at, kind, path, payload, prev_hash, hash from events where seq = ${first!.seq}`,
          );
        await copy(0);
        expect(await journal.verify()).toMatchObject({
          ok: false,
          firstBad: { seq: 0, reason: 'bad-seq' },
        });
        await tamper('delete from events where seq = 0');
        expect(await journal.verify()).toMatchObject({ ok: true });
        const last = await count();
        await copy(last + 1);
        expect(await journal.verify()).toMatchObject({
          ok: false,
          firstBad: { seq: last + 1, reason: 'head-mismatch' },
        });
      });

      it('verifies while appends land: what they add after its start is not a break', async () => {
        await syncRun();
        const run = await journal.startRun({
          pairId: 'p-concurrent',
          clientId: 'c',
          mode: 'sync',
          local: '/l',
          remote: 'file:///r',
        });
        let n = 0;
        const scan = () => ({
          kind: 'scan.added' as const,
          run,
          path: `f${n++}`,
          payload: scanEntry(1),
        });
        await journal.append(Array.from({ length: 1500 }, scan));
        for (let i = 0; i < 3; i++) {
          const [verdict] = await Promise.all([journal.verify(), journal.append([scan()])]);
          expect(verdict.ok).toBe(true);
        }
      });

      it('names the event after one forged with a recomputed hash', async () => {
        await syncRun();
        // A careful forger rewrites event 4 and its hash; event 5 still links to the original.
        const [original] = await journal.events({ afterSeq: 3, limit: 1 });
        const payload = { ...scanEntry(1), size: 5 };
        const forged = eventHash(setup.hasher, original!.prevHash, { ...original!, payload });
        await tamper(
          `update events set payload = '${JSON.stringify(payload)}', hash = decode('${forged}', 'hex') where seq = 4`,
        );
        expect(await journal.verify()).toEqual({
          ok: false,
          events: 4,
          firstBad: { seq: 5, reason: 'broken-link', detail: expect.stringContaining('event 4') },
        });
      });
    });

    it('rebuild() that fails half-way leaves every projection as it was', async () => {
      await completedRun();
      const live = await journal.dump();
      await sql
        .raw(`create function refuse() returns trigger language plpgsql as $$
              begin raise exception 'disk full'; end $$`)
        .execute(journal.db);
      await sql
        .raw(
          'create trigger refuse before insert on baseline for each row execute function refuse()',
        )
        .execute(journal.db);
      await expect(journal.rebuild()).rejects.toThrow(/disk full/);
      await sql.raw('drop trigger refuse on baseline').execute(journal.db);
      expect(await journal.dump()).toEqual(live);
    });

    it('rebuild() leaves tables no larger than a rebuild before it (no dead rows)', async () => {
      const run = await journal.startRun(runStart('pair-big'));
      await journal.append(
        Array.from({ length: 2000 }, (_, i) => ({
          kind: 'scan.added' as const,
          run,
          path: `notes/${i}.md`,
          payload: scanEntry(i),
        })),
      );
      const size = async () =>
        Number(
          (
            await sql<{ bytes: string }>`
              select pg_relation_size('manifest') as bytes`.execute(journal.db)
          ).rows[0]!.bytes,
        );
      await journal.rebuild();
      const once = await size();
      await journal.rebuild();
      await journal.rebuild();
      expect(await size()).toBe(once);
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

    const completedEvent = (run: number, status: RunStatus): JournalEventInput => ({
      kind: 'run.completed',
      run,
      payload: emptyReport(run, status),
    });
    const completedRun = async (pairId = 'pair-1', status: RunStatus = 'in-sync') => {
      const run = await syncRun(pairId);
      await journal.append([completedEvent(run, status)]);
      return run;
    };

    /** A completed run that adds `files` scan rows to the manifest, from `from` on. */
    const scanRun = async (files: number, from = 0, pairId = 'pair-big') => {
      const run = await journal.startRun(runStart(pairId));
      await journal.append(
        Array.from({ length: files }, (_, i) => ({
          kind: 'scan.added' as const,
          run,
          path: `notes/${String(from + i).padStart(6, '0')}.md`,
          payload: scanEntry(from + i),
        })),
      );
      await journal.append([completedEvent(run, 'in-sync')]);
    };
    const tableStats = async (table: string) =>
      (
        await sql<{ rows: number; visible: number }>`
          select reltuples::float8 as rows, relallvisible::int as visible
          from pg_class where relname = ${table}`.execute(journal.db)
      ).rows[0]!;
    const counted = async (table: string) =>
      (
        await sql<{ value: string }>`
          select value from journal_meta where key = ${`changes_since_vacuum.${table}`}`.execute(
          journal.db,
        )
      ).rows[0]?.value;

    if (setup.upkeep) {
      it('vacuums and analyzes a projection once runs changed more than 50 rows + 10% of it', async () => {
        expect(journal.upkeep).toBe(true);
        await scanRun(40);
        // Never analyzed and not empty: vacuumed and analyzed as the run completed.
        expect(await counted('manifest')).toBe('0');
        expect(await tableStats('manifest')).toMatchObject({ rows: 40 });
        expect((await tableStats('manifest')).visible).toBeGreaterThan(0);
        // 40 changed rows: under 50 + 4, counted and not vacuumed yet.
        await scanRun(40, 40);
        expect(await counted('manifest')).toBe('40');
        expect(await tableStats('manifest')).toMatchObject({ rows: 40 });
        // 80: vacuumed and analyzed again; the count starts again.
        await scanRun(40, 80);
        expect(await counted('manifest')).toBe('0');
        expect(await tableStats('manifest')).toMatchObject({ rows: 120 });
      });

      it('vacuums a journal written before its upkeep began (never analyzed)', async () => {
        await scanRun(20);
        await sql`delete from journal_meta where key like 'changes_since_vacuum.%'`.execute(
          journal.db,
        );
        // As an older release left it: rows, and neither statistics nor counts.
        await sql`select pg_catalog.pg_clear_relation_stats('public', 'manifest')`.execute(
          journal.db,
        );
        expect((await tableStats('manifest')).rows).toBe(-1);
        await scanRun(1, 20);
        expect(await tableStats('manifest')).toMatchObject({ rows: 21 });
      });

      it('reads a page of a large projection through its index, without sorting the rest', async () => {
        await scanRun(3000);
        const { rows } = await sql<{ 'QUERY PLAN': string }>`
          explain select * from manifest where pair_id = 'pair-big' and path > 'notes/001000.md'
          order by path limit 1000`.execute(journal.db);
        const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
        expect(plan).toMatch(/Index Scan using manifest_pkey/);
        expect(plan).not.toMatch(/Sort/);
      });

      it('rebuild() leaves its projections vacuumed and analyzed', async () => {
        await scanRun(30);
        await scanRun(30, 30);
        expect(await counted('manifest')).toBe('30');
        await journal.rebuild();
        // The rebuild rewrote the 60 rows: 90 changes since the last vacuum, over 50 + 3.
        expect(await counted('manifest')).toBe('0');
        expect(await tableStats('manifest')).toMatchObject({ rows: 60 });
        expect((await tableStats('manifest')).visible).toBeGreaterThan(0);
      });
    } else {
      it("leaves vacuuming to the server's autovacuum and counts nothing", async () => {
        expect(journal.upkeep).toBe(false);
        await scanRun(200);
        await journal.rebuild();
        expect(await counted('manifest')).toBeUndefined();
        const keys = await sql<{ key: string }>`select key from journal_meta`.execute(journal.db);
        expect(keys.rows.map((r) => r.key)).not.toContainEqual(
          expect.stringMatching(/^changes_since_vacuum/),
        );
        expect(keys.rows.map((r) => r.key)).toContain('schema_version');
      });
    }

    describe('copies of the projections between processes (ProjectionCache)', () => {
      /** A cache in memory that logs what the journal asks of it. */
      const memoryCache = () => {
        const entries = new Map<string, Uint8Array>();
        const log: string[] = [];
        const cache = {
          entries,
          log,
          /** Runs before each read returns, to interleave an append. */
          beforeRead: undefined as (() => Promise<void>) | undefined,
          async read(name: string) {
            log.push(`read ${name}`);
            await cache.beforeRead?.();
            return entries.get(name)?.slice();
          },
          async write(name: string, chunks: readonly Uint8Array[]) {
            log.push(`write ${name}`);
            const data = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
            let at = 0;
            for (const chunk of chunks) {
              data.set(chunk, at);
              at += chunk.length;
            }
            entries.set(name, data);
          },
        };
        return cache;
      };
      const writes = (cache: { log: string[] }, table: CachedProjection) =>
        cache.log.filter((l) => l.startsWith(`write ${table}-`)).length;
      /** A second journal object on the same database, keeping copies in `cache`. */
      const withCopies = (cache: ProjectionCache) =>
        openPostgresJournal(journal.db, { hasher: setup.hasher, projectionCache: cache });
      const TABLES = CACHED_PROJECTIONS;
      /** The tables themselves, read without copies (the setup's journal may keep some). */
      const truth = async (pairId: string) =>
        read(await openPostgresJournal(journal.db, { hasher: setup.hasher }), pairId);
      const read = async (j: PostgresJournal, pairId: string) =>
        Promise.all(TABLES.map((t) => j[t](pairId)));
      const addFile = async (path: string, seed: number, pairId = 'pair-1') => {
        const run = await journal.startRun(runStart(pairId));
        await journal.append([{ kind: 'scan.added', run, path, payload: scanEntry(seed) }]);
      };

      it('reads a projection from its copy until an append changes it, then from the table', async () => {
        await completedRun();
        const cache = memoryCache();
        const copies = await withCopies(cache);
        const before = await truth('pair-1');
        expect(await read(copies, 'pair-1')).toEqual(before);
        expect(TABLES.map((t) => writes(cache, t))).toEqual([1, 1, 1]);
        // Served from the copy: a row changed behind the journal's back (which only a
        // test does; rebuild() repairs it) does not show through an unchanged stamp.
        await sql`update manifest set size = 1 where path = 'z.md'`.execute(journal.db);
        expect(await read(copies, 'pair-1')).toEqual(before);
        expect(TABLES.map((t) => writes(cache, t))).toEqual([1, 1, 1]);
        // An append that changes the manifest moves its stamp, and only its stamp.
        await addFile('new.md', 9);
        const after = await truth('pair-1');
        expect(after[0]!.map((r) => r.path)).toContain('new.md');
        expect(await read(copies, 'pair-1')).toEqual(after);
        expect(TABLES.map((t) => writes(cache, t))).toEqual([2, 1, 1]);
        // A run that changes nothing leaves every copy current.
        await journal.append([
          completedEvent(await journal.startRun(runStart('pair-1')), 'in-sync'),
        ]);
        expect(await read(copies, 'pair-1')).toEqual(after);
        expect(TABLES.map((t) => writes(cache, t))).toEqual([2, 1, 1]);
      });

      it('reads and copies a projection of several pages, in path order', async () => {
        await completedRun();
        const [before] = await truth('pair-1');
        // 45,000 more rows (three pages of reading) put in behind the journal's back, as
        // only a test does: the stamp stays, so the first read through copies takes them.
        await sql`insert into manifest
                    select pair_id, 'bulk/' || lpad(g::text, 5, '0') || '-é.md', kind, g, mtime_ms,
                           hash, ino, ctime_ms, racy, run
                    from manifest, generate_series(1, 45000) g
                    where pair_id = 'pair-1' and path = 'z.md'`.execute(journal.db);
        const cache = memoryCache();
        const copies = await withCopies(cache);
        const [manifest] = await truth('pair-1');
        const paths = manifest!.map((r) => r.path);
        expect(new Set(paths).size).toBe(before!.length + 45_000);
        expect(paths).toEqual([...paths].sort(comparePaths));
        expect(await copies.manifest('pair-1')).toEqual(manifest);
        // As the next process would: from the copy, not writing it again.
        expect(await (await withCopies(cache)).manifest('pair-1')).toEqual(manifest);
        expect(writes(cache, 'manifest')).toBe(1);
        expect(cache.log.filter((l) => l.startsWith('read manifest-'))).toHaveLength(2);
      });

      it('reads every projection from its table again after a rebuild', async () => {
        await completedRun();
        const cache = memoryCache();
        const copies = await withCopies(cache);
        await read(copies, 'pair-1');
        await sql`update baseline set hash = 'bogus'`.execute(journal.db);
        await journal.rebuild();
        expect(await read(copies, 'pair-1')).toEqual(await truth('pair-1'));
        expect((await copies.baseline('pair-1')).map((r) => r.hash)).not.toContain('bogus');
        expect(TABLES.map((t) => writes(cache, t))).toEqual([2, 2, 2]);
      });

      it('never uses a copy that is damaged, cut short, of another pair or of an older state', async () => {
        await completedRun('pair-1');
        await completedRun('pair-2');
        await addFile('only-2.md', 7, 'pair-2');
        const cache = memoryCache();
        const copies = await withCopies(cache);
        const [manifest1] = await truth('pair-1');
        await read(copies, 'pair-1');
        await read(copies, 'pair-2');
        const name1 = copyName(setup.hasher, 'manifest', 'pair-1');
        const name2 = copyName(setup.hasher, 'manifest', 'pair-2');
        expect([...cache.entries.keys()]).toEqual(expect.arrayContaining([name1, name2]));
        const good = cache.entries.get(name1)!;
        const damages: [string, Uint8Array][] = [
          ['a byte flipped', good.map((b, i) => (i === good.length - 3 ? b ^ 1 : b))],
          ['cut short', good.slice(0, good.length - 10)],
          ['empty', new Uint8Array()],
          ['not a copy', Uint8Array.from('notes/a.md\tfile\n', (c) => c.charCodeAt(0))],
          ["another pair's", cache.entries.get(name2)!],
        ];
        for (const [what, data] of damages) {
          cache.entries.set(name1, data);
          const written = writes(cache, 'manifest');
          // A new journal object each time, as a new process: one holds what it read.
          expect(await (await withCopies(cache)).manifest('pair-1'), what).toEqual(manifest1);
          expect(writes(cache, 'manifest'), what).toBe(written + 1);
        }
        // A copy of an older state put back (say, from a backup) after an append.
        const old = cache.entries.get(name1)!;
        await addFile('later.md', 8);
        cache.entries.set(name1, old);
        const later = await withCopies(cache);
        expect((await later.manifest('pair-1')).map((r) => r.path)).toContain('later.md');
      });

      it('keeps no copy of pages read while an append changed the table', async () => {
        await completedRun();
        const cache = memoryCache();
        const copies = await withCopies(cache);
        cache.beforeRead = async () => {
          cache.beforeRead = undefined;
          await addFile('meanwhile.md', 5);
        };
        const rows = await copies.manifest('pair-1');
        expect(rows.map((r) => r.path)).toContain('meanwhile.md');
        expect(writes(cache, 'manifest')).toBe(0);
        expect(await copies.manifest('pair-1')).toEqual(rows);
        expect(writes(cache, 'manifest')).toBe(1);
      });

      it('reads the tables when the cache fails to read or to write', async () => {
        await completedRun();
        const failing: ProjectionCache = {
          read: async () => {
            throw new Error('disk gone');
          },
          write: async () => {
            throw new Error('disk full');
          },
        };
        const copies = await withCopies(failing);
        expect(await read(copies, 'pair-1')).toEqual(await truth('pair-1'));
      });

      /**
       * A second journal object on the same database whose close() keeps the database
       * open (it is the test's), so that what close does can be checked.
       */
      const holder = (cache: ProjectionCache) =>
        openPostgresJournal(
          new Proxy(journal.db, {
            get(target, property) {
              if (property === 'destroy') return async () => {};
              const value = Reflect.get(target, property, target);
              return typeof value === 'function' ? value.bind(target) : value;
            },
          }),
          { hasher: setup.hasher, projectionCache: cache },
        );
      /** After a completed run, a {@link holder} that has read pair-1, and where its log stood. */
      const holdingPair1 = async () => {
        await completedRun();
        const cache = memoryCache();
        const copies = await holder(cache);
        await read(copies, 'pair-1');
        return { cache, copies, logged: cache.log.length };
      };

      it('brings the rows it read forward through its own appends, and leaves copies at close', async () => {
        const { cache, copies, logged } = await holdingPair1();
        // Its own appends: a run that adds a file, changes another and deletes a third.
        const run = await copies.startRun(runStart('pair-1'));
        await copies.append([
          { kind: 'scan.added', run, path: 'added.md', payload: scanEntry(21) },
          // What the copies' text form escapes: backslash, tab, newline, and a literal \N.
          { kind: 'scan.added', run, path: 'odd\\N\t\n\\é.md', payload: scanEntry(23) },
          { kind: 'scan.changed', run, path: 'z.md', payload: scanEntry(22) },
          {
            kind: 'listing.added',
            run,
            path: 'added.md',
            payload: { size: 5, etag: '"e5"', sha256: null, versionId: null },
          },
        ]);
        await copies.append([completedEvent(run, 'in-sync')]);
        const after = await truth('pair-1');
        expect(after[0]!.map((r) => r.path)).toContain('added.md');
        expect(await read(copies, 'pair-1')).toEqual(after);
        // Served from what it holds: neither the copies nor (so) the tables were read.
        expect(cache.log.slice(logged)).toEqual([]);
        // Rows it hands out are frozen: a caller cannot change the next read's.
        const [row] = await copies.manifest('pair-1');
        expect(() => {
          (row as { size: number }).size = -1;
        }).toThrow(TypeError);
        await copies.close();
        // Only the tables the appends changed are written, and the next process reads
        // them as they are now.
        expect(cache.log.slice(logged).sort()).toEqual(
          [
            `write ${copyName(setup.hasher, 'manifest', 'pair-1')}`,
            `write ${copyName(setup.hasher, 'listing', 'pair-1')}`,
          ].sort(),
        );
        const next = await withCopies(cache);
        expect(await read(next, 'pair-1')).toEqual(after);
        expect(TABLES.map((t) => writes(cache, t))).toEqual([2, 2, 1]);
      });

      it('leaves a copy at close, whether it read the tables or their copies, that the next process reads as the tables are', async () => {
        await completedRun();
        // Rows that stay as read, one with every character the text form escapes.
        await addFile('kept/odd\\N\t\n\\é.md', 31);
        await addFile('kept/plain.md', 32);
        await addFile('changed.md', 33);
        await addFile('removed.md', 34);
        for (const source of ['the tables', 'their copies'] as const) {
          const cache = memoryCache();
          if (source === 'their copies') {
            const first = await holder(cache);
            await read(first, 'pair-1');
            await first.close();
          }
          const copies = await holder(cache);
          const opened = cache.log.length;
          await read(copies, 'pair-1');
          const wrote = cache.log.slice(opened).filter((l) => l.startsWith('write')).length;
          expect(wrote).toBe(source === 'the tables' ? TABLES.length : 0);
          const run = await copies.startRun(runStart('pair-1'));
          await copies.append([
            { kind: 'scan.changed', run, path: 'changed.md', payload: scanEntry(35 + run) },
            { kind: 'scan.removed', run, path: 'removed.md', payload: {} },
            { kind: 'scan.added', run, path: 'removed.md', payload: scanEntry(36 + run) },
            { kind: 'scan.added', run, path: `new-${run}.md`, payload: scanEntry(37) },
          ]);
          await copies.append([completedEvent(run, 'in-sync')]);
          await copies.close();
          const next = await withCopies(cache);
          const reading = cache.log.length;
          expect(await read(next, 'pair-1')).toEqual(await truth('pair-1'));
          // Served from the copy close left: nothing was read from the table and copied.
          expect(cache.log.slice(reading).filter((l) => l.startsWith('write'))).toEqual([]);
        }
      });

      it('lets go of the rows it read once its appends have changed more than is worth holding', async () => {
        const { cache, copies, logged } = await holdingPair1();
        const run = await copies.startRun(runStart('pair-1'));
        const added = (from: number, count: number) =>
          Array.from({ length: count }, (_, i) => ({
            kind: 'scan.added' as const,
            run,
            path: `bulk/${String(from + i).padStart(5, '0')}.md`,
            payload: scanEntry(from + i),
          }));
        // Up to 1,000 changed rows (or a tenth of the rows read, if more), it serves them.
        await copies.append(added(0, 1_000));
        expect(await read(copies, 'pair-1')).toEqual(await truth('pair-1'));
        expect(cache.log.slice(logged)).toEqual([]);
        // One more, and the manifest is let go: read again (its copy is stale, so from the
        // table, leaving a copy); the listing and baseline are still served as held.
        await copies.append(added(1_000, 1));
        expect(await read(copies, 'pair-1')).toEqual(await truth('pair-1'));
        const manifestCopy = copyName(setup.hasher, 'manifest', 'pair-1');
        expect(cache.log.slice(logged)).toEqual([`read ${manifestCopy}`, `write ${manifestCopy}`]);
        await copies.close();
        expect(cache.log.slice(logged)).toHaveLength(2);

        // Let go and not read again (the end of a first sync): close copies the table, so
        // the next process reads the copy rather than the table.
        const again = await holder(cache);
        await read(again, 'pair-1');
        const run2 = await again.startRun(runStart('pair-1'));
        await again.append(
          Array.from({ length: 1_200 }, (_, i) => ({
            kind: 'scan.removed' as const,
            run: run2,
            path: `bulk/${String(i).padStart(5, '0')}.md`,
            payload: {},
          })),
        );
        const closing = cache.log.length;
        await again.close();
        expect(cache.log.slice(closing)).toEqual([`write ${manifestCopy}`]);
        const next = await withCopies(cache);
        const reading = cache.log.length;
        expect(await read(next, 'pair-1')).toEqual(await truth('pair-1'));
        expect(cache.log.slice(reading).filter((l) => l.startsWith('write'))).toEqual([]);
      });

      it('does not bring forward rows an append by another object changed first', async () => {
        await completedRun();
        const cache = memoryCache();
        const copies = await holder(cache);
        await read(copies, 'pair-1');
        await addFile('elsewhere.md', 3); // by the test's journal: moves the manifest's stamp
        const run = await copies.startRun(runStart('pair-1'));
        await copies.append([{ kind: 'scan.added', run, path: 'mine.md', payload: scanEntry(4) }]);
        const [manifest] = await read(copies, 'pair-1');
        expect(manifest!.map((r) => r.path)).toEqual(
          expect.arrayContaining(['elsewhere.md', 'mine.md']),
        );
        expect(await read(copies, 'pair-1')).toEqual(await truth('pair-1'));
      });

      for (const appender of ['another journal object', 'the reading object'] as const) {
        it(`agrees with the tables through a long mix of appends (by ${appender}), rebuilds and reads`, async () => {
          const cache = memoryCache();
          // `copies` lives through the mix, holding what it read; `writer` appends.
          const copies = await holder(cache);
          const writer = appender === 'the reading object' ? copies : journal;
          let seed = 12345;
          const random = (n: number) => {
            seed = (seed * 1103515245 + 12345) % 2 ** 31;
            return seed % n;
          };
          for (let step = 0; step < 40; step++) {
            const pairId = `pair-${1 + random(2)}`;
            const path = `f${random(6)}.md`;
            const choice = random(7);
            if (choice === 6) {
              await journal.rebuild();
            } else {
              const run = await writer.startRun(runStart(pairId));
              const kinds = [
                'scan.added',
                'scan.changed',
                'scan.removed',
                'listing.added',
                'listing.removed',
                'op.applied',
              ] as const;
              const kind = kinds[choice]!;
              const event: JournalEventInput =
                kind === 'scan.added' || kind === 'scan.changed'
                  ? { kind, run, path, payload: scanEntry(step) }
                  : kind === 'listing.added'
                    ? {
                        kind,
                        run,
                        path,
                        payload: { size: step, etag: `"e${step}"`, sha256: null, versionId: null },
                      }
                    : kind === 'op.applied'
                      ? {
                          kind,
                          run,
                          path,
                          payload: {
                            index: 0,
                            action: 'upload',
                            baseline: { hash: `${step}`.padStart(64, '0'), size: step, etag: null },
                            bytes: step,
                          },
                        }
                      : { kind, run, path, payload: {} };
              await writer.append([event]);
            }
            for (const p of ['pair-1', 'pair-2']) {
              const expected = await truth(p);
              expect(await read(copies, p), `step ${step}`).toEqual(expected);
              // And as a new process would read it, from the copies.
              expect(await read(await withCopies(cache), p), `step ${step}`).toEqual(expected);
            }
          }
          // What close() leaves is what the next process reads, from copies it does not
          // write again.
          await copies.close();
          const written = cache.log.filter((l) => l.startsWith('write ')).length;
          for (const p of ['pair-1', 'pair-2']) {
            expect(await read(await withCopies(cache), p)).toEqual(await truth(p));
          }
          expect(cache.log.filter((l) => l.startsWith('write ')).length).toBe(written);
          // Copies were used, not only written: most reads changed nothing.
          const reads = cache.log.filter((l) => l.startsWith('read ')).length;
          expect(written).toBeLessThan(reads);
        });
      }
    });

    it('reads reports from the run.completed events, and stores no second copy', async () => {
      const run = await completedRun();
      const [completed] = await journal.events({ run, kinds: ['run.completed'] });
      expect((await journal.report(run))?.report).toEqual(completed!.payload);
      const kinds = await sql<{ relkind: string }>`
        select relkind from pg_class where relname = 'reports'`.execute(journal.db);
      expect(kinds.rows).toEqual([{ relkind: 'v' }]);
      const stored = await sql<{ bytes: number }>`
        select octet_length(hash) as bytes from events where seq = 1`.execute(journal.db);
      expect(stored.rows[0]!.bytes).toBe(32);
    });

    it('upgrades a schema-1 journal (hex hashes, a reports table) without changing a hash', async () => {
      await completedRun();
      await completedRun('pair-2', 'conflicts');
      await syncRun('pair-3');
      const events = await journal.events();
      const live = await journal.dump();
      const migrator = new Migrator({
        db: journal.db,
        provider: migrationProvider,
        migrationTableName: MIGRATION_TABLE,
        migrationLockTableName: MIGRATION_LOCK_TABLE,
      });
      // Back to schema 1, as the previous release wrote it: hex text hashes and a
      // reports table holding a copy of each report.
      const down = await migrator.migrateTo('0001_journal');
      expect(down.error).toBeUndefined();
      const v1 = await sql<{ type: string; reports: number }>`
        select (select data_type from information_schema.columns
                where table_name = 'events' and column_name = 'hash') as type,
               (select count(*)::int from reports) as reports`.execute(journal.db);
      expect(v1.rows[0]).toEqual({ type: 'text', reports: 2 });

      const upgraded = await openPostgresJournal(journal.db, { hasher: setup.hasher });
      expect(await upgraded.events()).toEqual(events);
      expect(await upgraded.dump()).toEqual(live);
      expect(await upgraded.verify()).toMatchObject({ ok: true, events: events.length });
      const meta = await sql<{ value: string }>`
        select value from journal_meta where key = 'schema_version'`.execute(journal.db);
      expect(meta.rows[0]?.value).toBe(String(SCHEMA_VERSION));
      // The chain goes on from the upgraded head.
      const run = await upgraded.startRun(runStart('pair-1'));
      await upgraded.append([...sampleRun(run), completedEvent(run, 'blocked')]);
      expect(await upgraded.verify()).toMatchObject({ ok: true });
      expect(await upgraded.report(run)).toEqual({
        run,
        pairId: 'pair-1',
        status: 'blocked',
        report: emptyReport(run, 'blocked'),
      });
      expect((await upgraded.report(2))?.status).toBe('conflicts');
    });

    it('refuses a journal written by a newer version and changes nothing', async () => {
      await syncRun();
      const events = await count();
      const newer = String(SCHEMA_VERSION + 1);
      await sql
        .raw(`update journal_meta set value = '${newer}' where key = 'schema_version'`)
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
      expect(meta.rows[0]?.value).toBe(newer);
      expect(await count()).toBe(events);

      await sql
        .raw(`update journal_meta set value = '${SCHEMA_VERSION}' where key = 'schema_version'`)
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
  });
}

/** Never called: a too-new journal is refused before any hashing. */
const fakeHasherGuard = {
  create(): never {
    throw new Error('the hasher must not be used while refusing a newer journal');
  },
};
