// Sync benchmark: a 10k-file notes tree synced to a folder bucket by syncjournal and, side by
// side on identical copies, to a plain folder by rclone bisync. Every sync is its own child
// process under /usr/bin/time, so wall, CPU (user+sys) and peak RSS are that process's own.
// Usage: node bench/sync.mjs. Progress goes to stderr; the last stdout line is one JSON object.
// Env: BENCH_REPEATS (default 3), BENCH_SYNC_FILES (default 10000), BENCH_SYNC_SEED (default 1),
// BENCH_SYNC_NOOP_SERIES (untimed no-ops for journal growth; default 10),
// BENCH_PROFILE_DIR (keep the .cpuprofile files there; default: a temp dir, deleted).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { listFiles, makeNotesTree } from './notes-tree.mjs';

const here = new URL('.', import.meta.url).pathname;
const repoRoot = join(here, '..');
const bin = join(repoRoot, 'node-adapter', 'bin', 'syncjournal.js');
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const FILES = Number(process.env.BENCH_SYNC_FILES ?? 10_000);
const SEED = Number(process.env.BENCH_SYNC_SEED ?? 1);
const NOOP_SERIES = Number(process.env.BENCH_SYNC_NOOP_SERIES ?? 10);
const TIME = '/usr/bin/time';

const log = (...args) => console.error('[sync bench]', ...args);

if (!existsSync(TIME)) {
  throw new Error(
    `${TIME} (GNU time) is needed for CPU time and peak RSS: apt-get install -y time`,
  );
}
if (spawnSync('rclone', ['--config', '/dev/null', 'version']).status !== 0) {
  throw new Error('rclone is needed for the side-by-side run: apt-get install -y rclone');
}

// Nothing is deleted until the end: on ext4 without a journal (as on this machine) creating
// a file right after tens of thousands were deleted is slow, because the inode allocator skips
// inodes freed in the last minutes (ext4 recently_deleted); deleting between repeats made
// every later repeat of both tools slower than the one before (rclone 4.5 s → 9 s).
const root = mkdtempSync(join(tmpdir(), 'syncjournal-sync-bench-'));
// Both tools run with HOME and XDG dirs inside the bench dir, and rclone with --config
// /dev/null, so nothing reads or writes the user's ~/.config, ~/.cache or ~/.syncjournal.
const seedTree = join(root, 'seed-tree');
const home = join(root, 'home');
mkdirSync(home);
const env = {
  ...process.env,
  HOME: home,
  XDG_CONFIG_HOME: join(home, '.config'),
  XDG_CACHE_HOME: join(home, '.cache'),
  RCLONE_CONFIG: '/dev/null',
};
delete env.SYNCJOURNAL_HOME;
const rcloneBase = ['--config', '/dev/null'];

/** Runs one command under GNU time: wall (ms, from here), CPU user+sys and peak RSS. */
function measure(cmd, args, { allow = [0] } = {}) {
  const timeFile = join(root, 'time.out');
  const t0 = performance.now();
  const child = spawnSync(TIME, ['-f', '%e %U %S %M', '-o', timeFile, cmd, ...args], {
    env,
    encoding: 'utf8',
    maxBuffer: 256 * 2 ** 20,
  });
  const wallMs = performance.now() - t0;
  if (!allow.includes(child.status)) {
    throw new Error(
      `${cmd} ${args.join(' ')} exited with ${child.status}\n${child.stderr}\n${child.stdout}`,
    );
  }
  // GNU time writes "Command exited with non-zero status n" above the line on failure.
  const [, user, sys, rssKB] = readFileSync(timeFile, 'utf8').trim().split('\n').pop().split(' ');
  return {
    wallMs: Math.round(wallMs),
    cpuMs: Math.round((Number(user) + Number(sys)) * 1000),
    userMs: Math.round(Number(user) * 1000),
    sysMs: Math.round(Number(sys) * 1000),
    peakRssMB: Math.round(Number(rssKB) / 1024),
    status: child.status,
    stdout: child.stdout,
    stderr: child.stderr,
  };
}

/** du of a folder: apparent bytes (du -sb) and allocated KiB (du -sk). */
function du(dir) {
  const bytes = Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);
  const kib = Number(execFileSync('du', ['-sk', dir], { encoding: 'utf8' }).split('\t')[0]);
  return { bytes, kib };
}

const copyTree = (to) => execFileSync('cp', ['-a', seedTree, to]); // keeps mtimes: identical copies

function syncjournal(dir, extraNodeArgs = []) {
  const local = join(dir, 'sj-local');
  const bucket = join(dir, 'sj-bucket');
  const state = join(dir, 'sj-state');
  const args = [...extraNodeArgs, bin, '--state-dir', state, '--json', 'sync', local, bucket];
  const run = () => {
    const m = measure(process.execPath, args);
    const report = JSON.parse(m.stdout.trim().split('\n').pop());
    delete m.stdout;
    return { ...m, report };
  };
  return { local, bucket, state, journal: join(state, 'journal'), run };
}

function syncjournalPass(dir) {
  const sj = syncjournal(dir);
  copyTree(sj.local);
  mkdirSync(sj.bucket);
  const initial = sj.run();
  if (initial.report.status !== 'in-sync' || initial.report.uploaded !== FILES) {
    throw new Error(`syncjournal initial sync: ${JSON.stringify(initial.report)}`);
  }
  const bucketFiles = listFiles(sj.bucket).length; // objects plus the store's own files
  const before = du(sj.journal);
  const noop = sj.run();
  const after = du(sj.journal);
  if (noop.report.status !== 'in-sync' || noop.report.uploaded + noop.report.downloaded !== 0) {
    throw new Error(`syncjournal no-op sync did work: ${JSON.stringify(noop.report)}`);
  }
  // Fixed costs for context: starting the CLI, and opening the journal (status).
  const start = measure(process.execPath, [bin, '--version']);
  const status = measure(process.execPath, [bin, '--state-dir', sj.state, '--json', 'status']);
  const fresh = join(dir, 'sj-fresh-state'); // status on a new state dir creates the journal
  const create = measure(process.execPath, [bin, '--state-dir', fresh, '--json', 'status']);
  return {
    initial: strip(initial),
    noop: strip(noop),
    bucketFiles,
    journal: {
      afterInitialBytes: before.bytes,
      afterInitialKiB: before.kib,
      growthBytes: after.bytes - before.bytes,
      growthKiB: after.kib - before.kib,
    },
    startWallMs: start.wallMs,
    statusWallMs: status.wallMs,
    statusPeakRssMB: status.peakRssMB,
    createWallMs: create.wallMs,
    createPeakRssMB: create.peakRssMB,
  };
}

function rclonePass(dir) {
  const local = join(dir, 'rc-local');
  const remote = join(dir, 'rc-remote');
  const workdir = join(dir, 'rc-work');
  copyTree(local);
  mkdirSync(remote);
  const bisync = (...flags) =>
    strip(
      measure('rclone', [...rcloneBase, 'bisync', local, remote, '--workdir', workdir, ...flags]),
    );
  const initial = bisync('--resync');
  if (listFiles(remote).length !== FILES)
    throw new Error('rclone --resync did not copy every file');
  const noop = bisync();
  if (listFiles(remote).length !== FILES) throw new Error('rclone no-op bisync changed the tree');
  return { initial, noop };
}

function strip(m) {
  const { stdout, stderr, report, ...rest } = m;
  return { ...rest, ...(report ? { durationMs: report.durationMs } : {}) };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
};

// --- CPU profile of one syncjournal child -----------------------------------------------
const PROJECT_DIRS = ['core/dist/', 'journal-schema/dist/', 'node-adapter/dist/'];
const inProject = (url) => PROJECT_DIRS.some((d) => url.includes(`/${d}`));
const shortUrl = (url) =>
  url
    .replace(/^wasm:\/\/.*/, 'PGlite WASM')
    .replace(/^file:\/\//, '')
    .replace(/^.*\/node_modules\//, '')
    .replace(`${repoRoot.replace(/\/$/, '')}/`, '');

/**
 * Self time per function from a .cpuprofile. Native frames (fs bindings, which carry no
 * URL) are named after the nearest project or library frame that called them, so "lstat"
 * reads "lstat ← lstatOrUndefined (node-tree.js)". Also sums self time into areas by the
 * innermost project/library frame on the stack.
 */
function summariseProfile(file) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map();
  for (let i = 0; i < p.samples.length; i++) {
    const d = p.timeDeltas[i + 1] ?? 0;
    selfUs.set(p.samples[i], (selfUs.get(p.samples[i]) ?? 0) + d);
  }
  const frameName = (cf) =>
    `${cf.functionName || '(anonymous)'} (${shortUrl(cf.url)}:${cf.lineNumber + 1})`;
  const nearest = (id, test) => {
    for (let q = id; q !== undefined; q = parent.get(q)) {
      const cf = byId.get(q).callFrame;
      if (test(cf.url)) return cf;
    }
    return undefined;
  };
  const area = (id) => {
    const name = byId.get(id).callFrame.functionName;
    if (name === '(idle)') return 'idle: main thread waiting (file I/O on the libuv threadpool)';
    if (name === '(garbage collector)') return 'garbage collection';
    if (name === '(program)') return 'V8/native, outside JS';
    const cf = nearest(
      id,
      (u) => u.startsWith('wasm://') || u.includes('/pglite/') || inProject(u),
    );
    if (!cf) {
      return nearest(id, (u) => u.startsWith('node:internal/modules'))
        ? 'startup: loading and compiling modules'
        : 'other (Node internals, libraries)';
    }
    if (cf.url.startsWith('wasm://') || cf.url.includes('/pglite/')) {
      return 'journal: PGlite (Postgres in WASM) and its file I/O';
    }
    const u = shortUrl(cf.url);
    if (u.startsWith('journal-schema/'))
      return 'journal: events, SQL, projections (journal-schema)';
    if (u.includes('folder-store')) return 'folder bucket: list, sidecars, locks, durable writes';
    if (u.includes('node-tree') || u.includes('node-hasher')) {
      return 'local tree: walk, lstat, read, hash';
    }
    if (u.startsWith('core/')) return 'core: scan, plan, engine';
    return `node-adapter: ${u.split('/').pop()}`;
  };
  const fns = new Map();
  const areas = new Map();
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    totalUs += us;
    const cf = byId.get(id).callFrame;
    let name;
    if (cf.functionName.startsWith('(')) name = cf.functionName;
    else if (cf.url) name = frameName(cf);
    else {
      const caller = nearest(parent.get(id), (u) => u && !u.startsWith('node:'));
      name = `${cf.functionName || '(native)'} ← ${caller ? frameName(caller) : 'Node internals'}`;
    }
    fns.set(name, (fns.get(name) ?? 0) + us);
    const a = area(id);
    areas.set(a, (areas.get(a) ?? 0) + us);
  }
  const top = (m, n) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({
        name,
        ms: Math.round(us / 1000),
        pct: Math.round((1000 * us) / totalUs) / 10,
      }));
  return { totalMs: Math.round(totalUs / 1000), functions: top(fns, 12), areas: top(areas, 10) };
}

function profilePass(dir, profileDir) {
  const sj = syncjournal(dir);
  copyTree(sj.local);
  mkdirSync(sj.bucket);
  const profiled = (name) => {
    const out = join(profileDir, name);
    const { run } = syncjournal(dir, ['--cpu-prof', '--cpu-prof-dir', out]);
    const m = run();
    // Names start with CPU.<date>.<time>, so the last one is this run's.
    const file = readdirSync(out)
      .filter((f) => f.endsWith('.cpuprofile'))
      .sort()
      .at(-1);
    return { wallMs: m.wallMs, ...summariseProfile(join(out, file)) };
  };
  const initial = profiled('initial');
  const noop = profiled('noop');
  return { initial, noop, series: noopSeries(sj) };
}

/**
 * Journal growth over a series of no-op runs (untimed): one no-op adds a few KB of rows,
 * below what du can see in pages and WAL segments Postgres has already allocated.
 */
function noopSeries(sj) {
  const before = { all: du(sj.journal), base: du(join(sj.journal, 'base')) };
  for (let i = 0; i < NOOP_SERIES; i++) {
    const { report } = sj.run();
    if (report.uploaded + report.downloaded !== 0) throw new Error('a no-op run did work');
  }
  const after = { all: du(sj.journal), base: du(join(sj.journal, 'base')) };
  return {
    runs: NOOP_SERIES,
    growthBytes: after.all.bytes - before.all.bytes,
    growthKiB: after.all.kib - before.all.kib,
    tablesGrowthBytes: after.base.bytes - before.base.bytes,
  };
}

// --- run ---------------------------------------------------------------------------------
const results = { files: FILES, seed: SEED, repeats: REPEATS, loadavgBefore: loadavg() };
try {
  const t0 = performance.now();
  Object.assign(results, { tree: makeNotesTree(seedTree, FILES, SEED) });
  log(
    `tree: ${FILES} files, ${results.tree.folders} folders, ${(results.tree.bytes / 2 ** 20).toFixed(1)} MiB in ${Math.round(performance.now() - t0)} ms`,
  );
  results.versions = {
    syncjournal: execFileSync(process.execPath, [bin, '--version'], {
      env,
      encoding: 'utf8',
    }).trim(),
    rclone: execFileSync('rclone', [...rcloneBase, 'version'], { env, encoding: 'utf8' })
      .split('\n')[0]
      .trim(),
    node: process.version,
    pglite: JSON.parse(
      readFileSync(join(repoRoot, 'node_modules/@electric-sql/pglite/package.json'), 'utf8'),
    ).version,
  };
  const sj = [];
  const rc = [];
  for (let r = 0; r < REPEATS; r++) {
    const dir = join(root, `repeat-${r}`);
    mkdirSync(dir);
    // Alternate which tool goes first, so neither always gets the warmer cache.
    const order = r % 2 === 0 ? ['syncjournal', 'rclone'] : ['rclone', 'syncjournal'];
    for (const tool of order) {
      if (tool === 'syncjournal') sj.push(syncjournalPass(dir));
      else rc.push(rclonePass(dir));
    }
    const s = sj.at(-1);
    const c = rc.at(-1);
    log(
      `repeat ${r + 1}/${REPEATS}: initial sj ${s.initial.wallMs} ms / rclone ${c.initial.wallMs} ms; ` +
        `no-op sj ${s.noop.wallMs} ms / rclone ${c.noop.wallMs} ms`,
    );
  }
  const med = (runs, key) => median(runs.map((r) => r[key]));
  const scenario = (pick) => {
    const out = {};
    for (const key of ['wallMs', 'cpuMs', 'userMs', 'sysMs', 'peakRssMB']) {
      const a = med(sj.map(pick), key);
      const b = med(rc.map(pick), key);
      out[key] = { syncjournal: a, rclone: b, ratio: Math.round((100 * a) / b) / 100 };
    }
    return out;
  };
  results.initial = scenario((x) => x.initial);
  results.noop = scenario((x) => x.noop);
  results.syncjournal = {
    reportedDurationMs: {
      initial: median(sj.map((x) => x.initial.durationMs)),
      noop: median(sj.map((x) => x.noop.durationMs)),
    },
    journalAfterInitialBytes: median(sj.map((x) => x.journal.afterInitialBytes)),
    journalGrowthPerNoopBytes: sj.map((x) => x.journal.growthBytes),
    journalGrowthPerNoopKiB: sj.map((x) => x.journal.growthKiB),
    bucketFiles: median(sj.map((x) => x.bucketFiles)),
    startWallMs: median(sj.map((x) => x.startWallMs)),
    statusWallMs: median(sj.map((x) => x.statusWallMs)),
    statusPeakRssMB: median(sj.map((x) => x.statusPeakRssMB)),
    createWallMs: median(sj.map((x) => x.createWallMs)),
    createPeakRssMB: median(sj.map((x) => x.createPeakRssMB)),
  };
  results.runs = { syncjournal: sj, rclone: rc };

  const profileDir = process.env.BENCH_PROFILE_DIR ?? join(root, 'profiles');
  mkdirSync(profileDir, { recursive: true });
  const dir = join(root, 'profile');
  mkdirSync(dir);
  results.profile = profilePass(dir, profileDir);
  results.loadavgAfter = loadavg();

  for (const name of ['initial', 'noop']) {
    const s = results[name];
    log(
      `${name}: wall ${s.wallMs.syncjournal} / ${s.wallMs.rclone} ms = ${s.wallMs.ratio}×, ` +
        `CPU ${s.cpuMs.syncjournal} / ${s.cpuMs.rclone} ms = ${s.cpuMs.ratio}×, ` +
        `peak RSS ${s.peakRssMB.syncjournal} / ${s.peakRssMB.rclone} MB = ${s.peakRssMB.ratio}× (syncjournal / rclone)`,
    );
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
console.log(JSON.stringify(results));
