import { InvalidEventError, type JournalEventInput, type RunStatus } from '@syncjournal/core';
import { openPostgresJournal, type PostgresJournal } from '@syncjournal/journal-schema';
import { emptyReport, hex, scanEntry } from '@syncjournal/journal-schema/testing';
import { nodeHasher, openJournal } from '@syncjournal/node';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runs, seed } from './budget.js';

/**
 * For random sequences of event batches — runs that start and complete, deltas,
 * plans, ops, conflicts, and batches the journal must refuse — rebuild() equals the
 * live projections and verify() passes.
 */

const PATHS = ['a.md', 'dir/b.md', 'dir/sub/c.md', 'é.md', '\u{1F600}.md', 'z'];
const KINDS = [
  'scan.added',
  'scan.changed',
  'scan.removed',
  'listing.added',
  'listing.changed',
  'listing.removed',
  'plan.op',
  'op.started',
  'op.applied',
  'op.failed',
  'op.skipped',
  'conflict.recorded',
  'conflict.resolved',
  'scan.completed',
  'listing.completed',
  'plan.completed',
] as const;

type EventSpec = { kind: (typeof KINDS)[number]; path: number; seed: number };
type Step =
  | { t: 'start'; pair: number; client: number }
  | { t: 'batch'; pick: number; events: EventSpec[] }
  | { t: 'complete'; pick: number; status: RunStatus }
  | { t: 'refused'; pick: number; events: EventSpec[] };

const eventSpec = fc.record({
  kind: fc.constantFrom(...KINDS),
  path: fc.nat(PATHS.length - 1),
  seed: fc.nat(1000),
});
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({ t: fc.constant('start' as const), pair: fc.nat(2), client: fc.nat(1) }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant('batch' as const),
      pick: fc.nat(),
      events: fc.array(eventSpec, { minLength: 1, maxLength: 12 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('complete' as const),
      pick: fc.nat(),
      status: fc.constantFrom<RunStatus>('in-sync', 'conflicts', 'blocked', 'failed'),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('refused' as const),
      pick: fc.nat(),
      events: fc.array(eventSpec, { maxLength: 5 }),
    }),
  },
);

/** Turns a spec into a concrete event of `run`; `conflicts` are ids recorded so far. */
function toEvent(spec: EventSpec, run: number, conflicts: number[]): JournalEventInput {
  const path = PATHS[spec.path]!;
  const s = spec.seed;
  const op = { index: s % 7, action: (['upload', 'download', 'delete-local'] as const)[s % 3]! };
  switch (spec.kind) {
    case 'scan.added':
    case 'scan.changed':
      return { kind: spec.kind, run, path, payload: scanEntry(s, { racy: s % 5 === 0 }) };
    case 'scan.removed':
    case 'listing.removed':
      return { kind: spec.kind, run, path, payload: {} };
    case 'listing.added':
    case 'listing.changed':
      return {
        kind: spec.kind,
        run,
        path,
        payload: { size: s, etag: `"${s}"`, versionId: s % 2 ? `v${s}` : null, sha256: hex(s) },
      };
    case 'plan.op':
      return {
        kind: 'plan.op',
        run,
        path,
        payload: { ...op, row: 'local-changed', why: `seed ${s}` },
      };
    case 'op.started':
      return { kind: 'op.started', run, path, payload: op };
    case 'op.applied':
      return {
        kind: 'op.applied',
        run,
        path,
        payload: {
          ...op,
          ...(s % 3 === 0
            ? {}
            : { baseline: s % 3 === 1 ? null : { hash: hex(s), size: s, etag: `"${s}"` } }),
          ...(s % 4 === 0
            ? { tombstone: { side: 'local' as const, hash: hex(s), trash: `trash/${s}` } }
            : {}),
        },
      };
    case 'op.failed':
      return {
        kind: 'op.failed',
        run,
        path,
        payload: { ...op, error: { code: 'x', message: `boom ${s}` } },
      };
    case 'op.skipped':
      return { kind: 'op.skipped', run, path, payload: { ...op, reason: 'changed since planned' } };
    case 'conflict.recorded':
      return {
        kind: 'conflict.recorded',
        run,
        path,
        payload: {
          kind: 'both-changed',
          kept: [{ side: 'local', path: `${path}.conflict-${s}`, hash: hex(s) }],
        },
      };
    case 'conflict.resolved':
      return {
        kind: 'conflict.resolved',
        run,
        path,
        payload: {
          conflict: conflicts.length ? conflicts[s % conflicts.length]! : s,
          resolution: 'keep-local',
          kept: [],
        },
      };
    case 'scan.completed':
      return {
        kind: 'scan.completed',
        run,
        payload: { complete: s % 2 === 0, count: s, digest: hex(s), hashed: 0, errors: [] },
      };
    case 'listing.completed':
      return {
        kind: 'listing.completed',
        run,
        payload: { complete: true, pages: 1, count: s, digest: hex(s), snapshot: null, errors: [] },
      };
    case 'plan.completed':
      return {
        kind: 'plan.completed',
        run,
        payload: { ops: s, counts: { upload: s }, guards: [], blocked: null, digest: hex(s) },
      };
  }
}

async function count(journal: PostgresJournal): Promise<number> {
  const [last] = await journal.events({ afterSeq: 0 }).then((e) => e.slice(-1));
  return last?.seq ?? 0;
}

/** Where the property's journal comes from: the current one, and a new one in its place. */
interface JournalSource {
  journal(): PostgresJournal;
  renew(): Promise<void>;
}

/**
 * Scenarios that share one journal before the property moves to a new one. A rebuild
 * refolds every event of the journal, so on one journal for all of them the property
 * slowed down with each scenario (480 of them, `--runs 8000`, ran past 300 s, where 60
 * take ~18 s); a new journal every 60 keeps each as fast as the first 60.
 */
const SCENARIOS_PER_JOURNAL = 60;

function rebuildProperty(name: string, source: JournalSource, numRuns: number) {
  /**
   * The pairs' manifest, listing and baseline as `journal` reads them (rows it holds,
   * brought forward by its own appends) equal a read from the tables by a new object.
   */
  const heldMatchTables = async (journal: PostgresJournal, pairs: string[]) => {
    const tables = await openPostgresJournal(journal.db, { hasher: nodeHasher });
    for (const pair of pairs) {
      for (const read of ['manifest', 'listing', 'baseline'] as const) {
        expect(await journal[read](pair), `${read} of ${pair}`).toEqual(await tables[read](pair));
      }
    }
  };

  const timeout = Math.max(300_000, numRuns * 2_000);
  it(`rebuild() equals the live projections and verify() passes (${name})`, {
    timeout,
  }, async () => {
    let scenario = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), async (steps) => {
        if (scenario > 0 && scenario % SCENARIOS_PER_JOURNAL === 0) await source.renew();
        const journal = source.journal();
        const prefix = `s${++scenario}-${Math.random().toString(36).slice(2, 8)}`;
        const open: number[] = [];
        const completed: number[] = [];
        const conflicts: number[] = [];
        const pairs = [0, 1, 2].map((p) => `${prefix}-pair-${p}`);
        await heldMatchTables(journal, pairs);
        for (const s of steps) {
          await heldMatchTables(journal, pairs);
          if (s.t === 'start' || (open.length === 0 && s.t !== 'refused')) {
            const pair = s.t === 'start' ? s.pair : 0;
            const client = s.t === 'start' ? s.client : 0;
            open.push(
              await journal.startRun({
                pairId: `${prefix}-pair-${pair}`,
                clientId: `client-${client}`,
                mode: 'sync',
                local: `/home/${pair}`,
                remote: `s3://bucket/${pair}`,
              }),
            );
            if (s.t === 'start') continue;
          }
          if (s.t === 'batch') {
            const run = open[s.pick % open.length]!;
            const events = s.events.map((e) => toEvent(e, run, conflicts));
            const { firstSeq } = await journal.append(events);
            events.forEach((e, i) => {
              if (e.kind === 'conflict.recorded') conflicts.push(firstSeq + i);
            });
          } else if (s.t === 'complete') {
            const [run] = open.splice(s.pick % open.length, 1);
            await journal.append([
              { kind: 'run.completed', run: run!, payload: emptyReport(run!, s.status) },
            ]);
            completed.push(run!);
          } else if (s.t === 'refused') {
            // A batch that is valid up to its last event, which names a completed or unknown run.
            const good = open.length ? open[s.pick % open.length]! : 0;
            const bad = completed.length ? completed[s.pick % completed.length]! : 1_000_000;
            const events = [
              ...(good ? s.events.map((e) => toEvent(e, good, conflicts)) : []),
              { kind: 'scan.removed', run: bad, path: 'a.md', payload: {} },
            ] satisfies JournalEventInput[];
            const before = await count(journal);
            const live = await journal.dump();
            await expect(journal.append(events)).rejects.toBeInstanceOf(InvalidEventError);
            expect(await count(journal)).toBe(before);
            expect(await journal.dump()).toEqual(live);
          }
        }
        await heldMatchTables(journal, pairs);
        const live = await journal.dump();
        const result = await journal.rebuild();
        expect(result.matched).toBe(true);
        expect(await journal.dump()).toEqual(live);
        expect(await journal.verify()).toMatchObject({ ok: true });
      }),
      { numRuns, ...seed() },
    );
  });
}

describe('journal rebuild property', () => {
  let pglite: PostgresJournal;
  let server: PostgresJournal;
  const admin = new pg.Pool({ connectionString: inject('postgresUrl'), max: 1 });
  const database = `syncjournal_property_${process.pid}`;

  const openServer = async () => {
    await admin.query(`drop database if exists ${database} with (force)`);
    await admin.query(`create database ${database}`);
    const url = new URL(inject('postgresUrl'));
    url.pathname = `/${database}`;
    server = await openJournal(url.toString());
  };

  beforeAll(async () => {
    pglite = await openJournal('memory://', { hasher: nodeHasher });
    await openServer();
  });
  afterAll(async () => {
    await pglite?.close();
    await server?.close();
    await admin.query(`drop database if exists ${database} with (force)`);
    await admin.end();
  });

  rebuildProperty(
    'PGlite',
    {
      journal: () => pglite,
      renew: async () => {
        await pglite.close();
        pglite = await openJournal('memory://', { hasher: nodeHasher });
      },
    },
    runs(60),
  );
  rebuildProperty(
    'PostgreSQL server',
    {
      journal: () => server,
      renew: async () => {
        await server.close();
        await openServer();
      },
    },
    runs(60),
  );
});
