// The side-by-side comparison: syncjournal, rclone bisync and unison on identical copies of
// reproducible trees (notes-like at several sizes, and media-like), each scenario in the same
// run: initial sync, no-op sync (twice), 1% changed on each side; plus watch-mode save-to-bucket
// latency, journal growth per no-op run, and CPU profiles of syncjournal's slowest runs.
//
// Usage: node bench/compare.mjs [--out results.json]. Progress goes to stderr; the results
// (one JSON object) go to --out, or to stdout's last line.
// Env: BENCH_SIZES (notes trees, default 1000,10000,100000), BENCH_REPEATS (repeats of trees
// below 100k files, default 3; larger trees run once), BENCH_MEDIA_FILES (default 200; 0 skips),
// BENCH_MEDIA_MAX_MIB (default 50), BENCH_S3_MAX_FILES (largest tree also synced to the S3 test
// server, default 10000; 0 skips S3), BENCH_WATCH_FILES (the tree watch mode runs on, default
// 10000), BENCH_WATCH_EDITS (default 5), BENCH_NOOP_SERIES (no-op runs for journal growth,
// default 40), BENCH_WARM_NOOPS (no-ops timed in a running `watch`, default 7), BENCH_PROFILE
// (0 skips profiles), BENCH_PROFILE_DIR (keep the .cpuprofile files).
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { makeMediaTree, makeNotesTree, touchPercent } from './notes-tree.mjs';
import {
  bin,
  bytesWritten,
  checkPrerequisites,
  du,
  fileIndex,
  isolatedEnv,
  measure,
  repoRoot,
  startS3Server,
  tools,
} from './peers.mjs';
import { summariseProfile } from './profile.mjs';

const num = (name, fallback) => Number(process.env[name] ?? fallback);
const SIZES = (process.env.BENCH_SIZES ?? '1000,10000,100000')
  .split(',')
  .filter(Boolean)
  .map(Number);
const REPEATS = num('BENCH_REPEATS', 3);
const BIG = 100_000;
const MEDIA_FILES = num('BENCH_MEDIA_FILES', 200);
const MEDIA_MAX_MIB = num('BENCH_MEDIA_MAX_MIB', 50);
const S3_MAX_FILES = num('BENCH_S3_MAX_FILES', 10_000);
const WATCH_FILES = num('BENCH_WATCH_FILES', 10_000);
const WATCH_EDITS = num('BENCH_WATCH_EDITS', 5);
const NOOP_SERIES = num('BENCH_NOOP_SERIES', 40);
const WARM_NOOPS = num('BENCH_WARM_NOOPS', 7);
const PROFILE = process.env.BENCH_PROFILE !== '0';
const outArg = process.argv.indexOf('--out');
const OUT = outArg > 0 ? process.argv[outArg + 1] : undefined;

const log = (...args) => console.error('[compare]', ...args);
checkPrerequisites();

// Nothing is deleted until the end: on this machine (ext4 without a journal) creating files
// within minutes of deleting tens of thousands is slow for any tool (the inode allocator skips
// recently freed inodes), which made each repeat slower than the one before.
const root = mkdtempSync(join(tmpdir(), 'syncjournal-compare-'));
const scratch = join(root, 'scratch');
mkdirSync(scratch);
const env = isolatedEnv(join(root, 'home'));
const s3 = S3_MAX_FILES > 0 ? await startS3Server(scratch) : undefined;
const toolList = tools(env, scratch, s3);

const median = (values) => {
  const sorted = values.filter((v) => v !== undefined && v !== null).sort((a, b) => a - b);
  return sorted.length === 0 ? null : sorted[sorted.length >> 1];
};
const KEYS = ['wallMs', 'cpuMs', 'userMs', 'sysMs', 'peakRssMB', 'diskWrittenMB', 'bytesMoved'];
const summarise = (runs) =>
  Object.fromEntries([
    ...KEYS.map((k) => [k, median(runs.map((r) => r[k]))]),
    ['journalBytes', median(runs.map((r) => r.journalBytes))],
    ['durationMs', median(runs.map((r) => r.report?.durationMs))],
    ['runs', runs.length],
  ]);

/** One run of a tool, with bytes moved from its report or from the files it wrote. */
function timedSync(pair, options) {
  const before = pair.remote ? [fileIndex(pair.local), fileIndex(pair.remote)] : undefined;
  const m = pair.sync(options);
  if (m.bytesMoved === undefined && before) {
    m.bytesMoved =
      bytesWritten(before[0], fileIndex(pair.local)) +
      bytesWritten(before[1], fileIndex(pair.remote));
  }
  if (pair.journalBytes) m.journalBytes = pair.journalBytes();
  const { stdout, stderr, ...rest } = m;
  return rest;
}

/** Every tool through initial, no-op and 1%-changed syncs of copies of `seed`. */
function runTree(tree, seed, repeats) {
  const results = {};
  const pairs = {};
  for (let r = 0; r < repeats; r++) {
    const dir = join(root, `${tree.name}-${r}`);
    mkdirSync(dir);
    // Rotate which tool goes first, so none always gets the warmest cache.
    const order = toolList.map((_, i) => toolList[(i + r) % toolList.length]);
    for (const tool of order) {
      if (tool.remoteKind === 's3' && (tree.kind !== 'notes' || tree.files > S3_MAX_FILES))
        continue;
      const pair = tool.prepare(dir);
      execFileSync('cp', ['-a', seed, pair.local]); // keeps mtimes: identical copies
      results[tool.name] ??= { initial: [], noop: [], noopAgain: [], change: [] };
      const runs = results[tool.name];
      runs.initial.push(timedSync(pair));
      // Two no-ops: the first after a sync that changed everything, and one more, as a
      // sync on a timer runs (syncjournal's first reads its journal's tables and leaves
      // copies of them that the second reads; see docs/journal.md).
      runs.noop.push(timedSync(pair));
      runs.noopAgain.push(timedSync(pair));
      // 1% changed on each side, the same files for every tool; the remote's edits leave out
      // the local ones, so no run has a conflict to settle. S3 remotes: local edits only.
      const edited = touchPercent(pair.local, 1, 2 + r);
      if (pair.remote) touchPercent(pair.remote, 1, 100 + r, edited);
      runs.change.push(timedSync(pair));
      if (r === 0) pairs[tool.name] = pair;
      log(
        `${tree.name} #${r + 1} ${tool.name}: initial ${runs.initial.at(-1).wallMs} ms, ` +
          `no-op ${runs.noop.at(-1).wallMs} ms, again ${runs.noopAgain.at(-1).wallMs} ms, ` +
          `1% changed ${runs.change.at(-1).wallMs} ms`,
      );
    }
  }
  const scenarios = {};
  for (const [tool, runs] of Object.entries(results)) {
    for (const [scenario, list] of Object.entries(runs)) {
      scenarios[scenario] ??= {};
      scenarios[scenario][tool] = summarise(list);
    }
  }
  return { scenarios, pairs };
}

/** Stops a watching child as Ctrl-C would, and waits for it to exit. */
async function stop(child) {
  child.kill('SIGINT');
  if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
}

/**
 * Save-to-bucket latency in watch mode: the time from writing a new file in the local folder
 * to its bytes being in the remote folder, polled every 5 ms. One warm-up edit first (the
 * watcher's first sync), then `WATCH_EDITS` timed ones, a second apart.
 */
async function watchLatency(label, command, args, wEnv, pair) {
  const child = spawn(command, args, { env: wEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => {
    output += d;
  });
  child.stderr.on('data', (d) => {
    output += d;
  });
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const edit = async (name) => {
    const path = `watch-bench/${name}.md`;
    const text = `# ${name}\n\nsaved at ${new Date().toISOString()}\n`;
    mkdirSync(join(pair.local, 'watch-bench'), { recursive: true });
    const t0 = performance.now();
    writeFileSync(join(pair.local, path), text);
    for (;;) {
      try {
        if (readFileSync(join(pair.remote, path), 'utf8') === text) break;
      } catch {
        // not there yet
      }
      if (child.exitCode !== null || performance.now() - t0 > 120_000) {
        child.kill('SIGKILL');
        throw new Error(
          `${label}: ${path} did not reach the remote (exit code ${child.exitCode})\n${output}`,
        );
      }
      await sleep(5);
    }
    return Math.round(performance.now() - t0);
  };
  try {
    await edit('warm-up');
    const latencies = [];
    for (let i = 0; i < WATCH_EDITS; i++) {
      await sleep(1000);
      latencies.push(await edit(`edit-${i}`));
    }
    return { latenciesMs: latencies, medianMs: median(latencies), maxMs: Math.max(...latencies) };
  } finally {
    await stop(child);
  }
}

/**
 * No-op syncs in a process whose journal is already open, as an app that embeds the
 * engine (or `syncjournal watch`) runs them: `watch --interval 1` syncs the pair every
 * second, and each report after its first (the one that opened the journal) is a no-op
 * timed by the engine itself (`durationMs`: walk, listing, plan and the five events).
 */
async function warmNoops(pair, count) {
  const child = spawn(process.execPath, [bin, ...pair.watchArgs, '--interval', '1'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let errors = '';
  const reports = [];
  child.stdout.on('data', (d) => {
    output += d;
    for (let nl = output.indexOf('\n'); nl >= 0; nl = output.indexOf('\n')) {
      const line = output.slice(0, nl);
      output = output.slice(nl + 1);
      if (line.startsWith('{')) reports.push(JSON.parse(line));
    }
  });
  child.stderr.on('data', (d) => {
    errors += d;
  });
  const started = performance.now();
  try {
    while (reports.length < count + 1) {
      if (child.exitCode !== null || performance.now() - started > 30_000 + count * 5_000) {
        throw new Error(
          `watch gave ${reports.length} reports (exit code ${child.exitCode})\n${errors}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    await stop(child);
  }
  const timed = reports.slice(1, count + 1);
  for (const r of timed) {
    if (
      r.status !== 'in-sync' ||
      r.uploaded + r.downloaded + r.deletedLocal + r.deletedRemote !== 0
    )
      throw new Error(`a watch sync of the settled pair was not a no-op: ${JSON.stringify(r)}`);
  }
  const durationsMs = timed.map((r) => r.durationMs);
  return { firstMs: reports[0].durationMs, durationsMs, medianMs: median(durationsMs) };
}

/**
 * Journal growth over a series of untimed no-op runs. The folder grows in steps (8 KiB
 * pages, a table's first free-space map, 16 MiB WAL segments until PGlite keeps
 * min_wal_size of them), so the tables and their indexes are measured too, and the
 * bytes of the rows the series appended, which have no steps.
 */
async function journalGrowth(pair) {
  const dir = join(pair.state, 'journal');
  const before = du(dir);
  const tablesBefore = await journalTables(dir);
  for (let i = 0; i < NOOP_SERIES; i++) {
    const { report } = pair.sync();
    if (report.uploaded + report.downloaded !== 0) throw new Error('a no-op run did work');
  }
  const after = du(dir);
  const tablesAfter = await journalTables(dir, tablesBefore.lastRun);
  const perRun = (bytes) => bytes / NOOP_SERIES;
  return {
    runs: NOOP_SERIES,
    bytes: after - before,
    perRunBytes: perRun(after - before),
    tablesPerRunBytes: perRun(tablesAfter.bytes - tablesBefore.bytes),
    rowsPerRunBytes: perRun(tablesAfter.rowsAfterRun),
    eventsPerRun: tablesAfter.eventsAfterRun / NOOP_SERIES,
  };
}

/** The journal's tables with their indexes, and the rows of the runs after `afterRun` (if any). */
async function journalTables(dir, afterRun = null) {
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create(dir);
  try {
    const { rows } = await db.query(
      `select (select sum(pg_total_relation_size(c.oid))::bigint from pg_class c
                join pg_namespace n on n.oid = c.relnamespace
               where n.nspname = 'public' and c.relkind = 'r') as bytes,
              (select max(run) from runs) as last_run,
              (select coalesce(sum(pg_column_size(e.*)), 0)::bigint from events e
                where run > $1::int) as event_bytes,
              (select count(*)::int from events where run > $1::int) as events,
              (select coalesce(sum(pg_column_size(r.*)), 0)::bigint from runs r
                where run > $1::int) as run_bytes`,
      [afterRun],
    );
    const r = rows[0];
    return {
      bytes: Number(r.bytes),
      lastRun: Number(r.last_run),
      rowsAfterRun: Number(r.event_bytes) + Number(r.run_bytes),
      eventsAfterRun: Number(r.events),
    };
  } finally {
    await db.close();
  }
}

function profiled(pair, name, profileDir) {
  const out = join(profileDir, name);
  const m = pair.sync({ nodeArgs: ['--cpu-prof', '--cpu-prof-dir', out] });
  // One profile per thread: CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile, the
  // main thread being thread 0, the local walk's worker the next one, and the folder
  // bucket's listing worker (a bucket of more than 16 pages) the one after.
  const files = readdirSync(out).filter((f) => f.endsWith('.cpuprofile'));
  const thread = (f) => Number(f.split('.')[4]);
  const main = files.find((f) => thread(f) === 0);
  const [worker, listWorker] = files
    .filter((f) => thread(f) !== 0)
    .sort((a, b) => thread(a) - thread(b));
  return {
    wallMs: m.wallMs,
    durationMs: m.report.durationMs,
    ...summariseProfile(join(out, main)),
    ...(worker ? { worker: summariseProfile(join(out, worker)) } : {}),
    ...(listWorker ? { listWorker: summariseProfile(join(out, listWorker)) } : {}),
  };
}

const results = {
  date: new Date().toISOString().slice(0, 10),
  loadavgBefore: loadavg(),
  sizes: SIZES,
  repeats: REPEATS,
  trees: [],
};
try {
  results.versions = {
    syncjournal: execFileSync(process.execPath, [bin, '--version'], {
      env,
      encoding: 'utf8',
    }).trim(),
    rclone: execFileSync('rclone', ['--config', '/dev/null', 'version'], { env, encoding: 'utf8' })
      .split('\n')[0]
      .trim(),
    unison: execFileSync('unison', ['-version'], { env, encoding: 'utf8' }).trim(),
    node: process.version,
    pglite: JSON.parse(
      readFileSync(join(repoRoot, 'node_modules/@electric-sql/pglite/package.json'), 'utf8'),
    ).version,
  };
  // The first journal on a machine runs initdb and keeps a template for later ones: make
  // that happen before anything is timed, so every timed first sync starts the same way
  // (the cost of the very first journal is measured on its own below).
  measure(env, scratch, process.execPath, [bin, '--state-dir', join(root, 'warm-state'), 'status']);
  const profileDir = process.env.BENCH_PROFILE_DIR ?? join(root, 'profiles');
  mkdirSync(profileDir, { recursive: true });
  const trees = [
    ...SIZES.map((n) => ({ name: `notes-${n}`, kind: 'notes', files: n })),
    ...(MEDIA_FILES > 0
      ? [{ name: 'media', kind: 'media', files: MEDIA_FILES, maxMiB: MEDIA_MAX_MIB }]
      : []),
  ];
  for (const tree of trees) {
    const seed = join(root, `${tree.name}-seed`);
    const t0 = performance.now();
    const shape =
      tree.kind === 'notes'
        ? makeNotesTree(seed, tree.files, 1)
        : makeMediaTree(seed, tree.files, 1, MEDIA_MAX_MIB);
    log(
      `${tree.name}: ${shape.files} files, ${(shape.bytes / 2 ** 20).toFixed(1)} MiB in ${shape.folders} folders (${Math.round(performance.now() - t0)} ms)`,
    );
    const repeats = tree.kind === 'notes' && tree.files < BIG ? REPEATS : 1;
    const { scenarios, pairs } = runTree(tree, seed, repeats);
    const entry = { ...tree, ...shape, repeats, scenarios };
    if (tree.kind === 'notes' && tree.files === WATCH_FILES) {
      entry.watch = {
        syncjournal: await watchLatency(
          'syncjournal watch',
          process.execPath,
          [bin, ...pairs.syncjournal.watchArgs],
          env,
          pairs.syncjournal,
        ),
        unison: await watchLatency('unison -repeat 1', ...pairs.unison.watchCommand, pairs.unison),
      };
      log(`watch: ${JSON.stringify(entry.watch)}`);
      entry.journalGrowth = await journalGrowth(pairs.syncjournal);
      entry.warmNoop = await warmNoops(pairs.syncjournal, WARM_NOOPS);
      log(`no-ops with the journal open: ${JSON.stringify(entry.warmNoop)}`);
      // Fixed costs: starting the CLI; opening the journal (status); creating one.
      const sj = pairs.syncjournal;
      const args = (state) => [bin, '--state-dir', state, '--json', 'status'];
      // Medians of 3: one start of a process is noisy on a shared machine.
      const thrice = (fn) => median([0, 1, 2].map((i) => fn(i).wallMs));
      entry.fixed = {
        start: thrice(() => measure(env, scratch, process.execPath, [bin, '--version'])),
        open: thrice(() => measure(env, scratch, process.execPath, args(sj.state))),
        create: thrice((i) =>
          measure(env, scratch, process.execPath, args(join(root, `fresh-state-${i}`))),
        ),
        createByInitdb: thrice((i) =>
          measure(
            { ...env, SYNCJOURNAL_JOURNAL_TEMPLATE: '0' },
            scratch,
            process.execPath,
            args(join(root, `initdb-state-${i}`)),
          ),
        ),
      };
    }
    if (PROFILE && tree.kind === 'notes' && tree.files === Math.max(...SIZES)) {
      entry.profileNoop = profiled(pairs.syncjournal, `noop-${tree.files}`, profileDir);
    }
    if (PROFILE && tree.kind === 'notes' && tree.files === WATCH_FILES) {
      // The initial sync is where syncjournal is furthest behind: profile it on a fresh copy.
      const dir = join(root, `${tree.name}-profile`);
      mkdirSync(dir);
      const pair = toolList[0].prepare(dir);
      execFileSync('cp', ['-a', seed, pair.local]);
      entry.profileInitial = profiled(pair, `initial-${tree.files}`, profileDir);
    }
    results.trees.push(entry);
  }
  results.loadavgAfter = loadavg();
} finally {
  s3?.stop();
  rmSync(root, { recursive: true, force: true });
}
const json = JSON.stringify(results);
if (OUT) writeFileSync(OUT, `${json}\n`);
else console.log(json);
