// One journal benchmark scenario per process, so peak RSS is the scenario's own.
// Usage: node bench/journal.mjs <scenario> <dataDir>; prints one JSON line.
import { performance } from 'node:perf_hooks';
import { emptyRunReport as report } from '@syncjournal/core';
import { openJournal } from '@syncjournal/node';

const [scenario, dir] = process.argv.slice(2);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 100_000);
const BATCH = 5000;
const hash = (i) => (i >>> 0).toString(16).padStart(8, '0').repeat(8);

const start = {
  pairId: 'bench',
  clientId: 'bench',
  mode: 'sync',
  local: '/bench',
  remote: 'file:///bucket',
};

async function timed(fn) {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

async function sizeOf(journal) {
  const { rows } = await journal.db.executeQuery({
    sql: `select sum(pg_total_relation_size(c.oid))::bigint as bytes from pg_class c
          join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = 'public' and c.relkind = 'r'`,
    parameters: [],
    query: { kind: 'RawNode' },
  });
  return Number(rows[0].bytes);
}

const result = { scenario };
if (scenario === 'append') {
  const journal = await openJournal(dir);
  const run = await journal.startRun(start);
  const events = [];
  for (let i = 0; i < EVENTS; i++) {
    events.push({
      kind: 'scan.added',
      run,
      path: `notes/d${i % 100}/s${i % 7}/note-${i}.md`,
      payload: {
        kind: 'file',
        size: 200 + (i % 3900),
        mtimeMs: 1.76e12 + i * 1.5,
        hash: hash(i),
        ino: String(i),
      },
    });
  }
  const { ms } = await timed(async () => {
    for (let i = 0; i < events.length; i += BATCH) await journal.append(events.slice(i, i + BATCH));
  });
  await journal.append([
    {
      kind: 'scan.completed',
      run,
      payload: { complete: true, count: EVENTS, digest: hash(1), hashed: EVENTS, errors: [] },
    },
  ]);
  await journal.append([{ kind: 'run.completed', run, payload: report(run) }]);
  Object.assign(result, { ms, events: EVENTS, batch: BATCH });
  await journal.close();
} else if (scenario === 'reopen') {
  const { ms, value: journal } = await timed(() => openJournal(dir));
  Object.assign(result, { ms });
  await journal.close();
} else if (scenario === 'rebuild') {
  const journal = await openJournal(dir);
  const { ms, value } = await timed(() => journal.rebuild());
  Object.assign(result, { ms, events: value.events, matched: value.matched });
  await journal.close();
} else if (scenario === 'verify') {
  const journal = await openJournal(dir);
  const { ms, value } = await timed(() => journal.verify());
  Object.assign(result, { ms, events: value.events, ok: value.ok });
  await journal.close();
} else if (scenario === 'noop') {
  // What a sync that finds nothing changed appends: the run, the three "completed"
  // summaries (scan, listing, plan) and the report.
  const journal = await openJournal(dir);
  const before = { bytes: await sizeOf(journal), seq: (await journal.verify()).events };
  const times = [];
  const RUNS = 20;
  for (let i = 0; i < RUNS; i++) {
    const { ms } = await timed(async () => {
      const run = await journal.startRun(start);
      await journal.append([
        {
          kind: 'scan.completed',
          run,
          payload: { complete: true, count: EVENTS, digest: hash(1), hashed: 0, errors: [] },
        },
        {
          kind: 'listing.completed',
          run,
          payload: { complete: true, pages: 100, count: EVENTS, digest: hash(2), errors: [] },
        },
        {
          kind: 'plan.completed',
          run,
          payload: { ops: 0, counts: {}, guards: [], blocked: null, digest: hash(3) },
        },
      ]);
      await journal.append([{ kind: 'run.completed', run, payload: report(run) }]);
    });
    times.push(ms);
  }
  const after = { bytes: await sizeOf(journal), seq: (await journal.verify()).events };
  times.sort((a, b) => a - b);
  Object.assign(result, {
    ms: times[RUNS >> 1],
    eventsPerRun: (after.seq - before.seq) / RUNS,
    bytesPerRun: Math.round((after.bytes - before.bytes) / RUNS),
  });
  await journal.close();
} else {
  throw new Error(`unknown scenario ${scenario}`);
}
result.peakRssMB = Math.round(process.resourceUsage().maxRSS / 1024);
console.log(JSON.stringify(result));
