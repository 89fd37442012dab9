// Reconciliation alone: a 100k-path tree with 1% changed on each side.
// Prints one JSON line: median plan time over repeats, heap used by inputs + plan.
import { performance } from 'node:perf_hooks';
import { checkGuards, comparePaths, reconcile } from '@syncjournal/core';

const N = Number(process.env.BENCH_PATHS ?? 100_000);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
const hex = (i) => (i >>> 0).toString(16).padStart(8, '0').repeat(8);

global.gc?.();
const heapBefore = process.memoryUsage().heapUsed;
const paths = Array.from({ length: N }, (_, i) => `notes/d${i % 100}/s${i % 7}/note-${i}.md`).sort(
  comparePaths,
);
const base = paths.map((path, i) => ({
  path,
  hash: hex(i),
  size: 200 + (i % 3900),
  etag: `"e${i}"`,
  versionId: null,
}));
// 1% changed locally (every 100th), 1% changed remotely (every 100th, offset by 50).
const local = paths.map((path, i) => ({
  path,
  hash: i % 100 === 0 ? hex(i + N) : hex(i),
  size: 200 + (i % 3900),
  mtimeMs: 1.76e12 + i,
  ino: String(i),
}));
const remote = paths.map((path, i) => ({
  path,
  size: 200 + (i % 3900),
  etag: i % 100 === 50 ? `"r${i}"` : `"e${i}"`,
  versionId: null,
  sha256: i % 100 === 50 ? hex(i + 2 * N) : hex(i),
}));
const input = {
  base,
  local,
  remote,
  localUnknown: [],
  caseInsensitive: false,
  clientId: 'bench',
  planTimeMs: 0,
};

const times = [];
let plan;
for (let r = 0; r < REPEATS; r++) {
  const t0 = performance.now();
  plan = reconcile(input);
  checkGuards({
    plan,
    baseCount: N,
    localCount: N,
    remoteCount: N,
    scanComplete: true,
    listingComplete: true,
    unreadable: [],
    profile: 'balanced',
  });
  times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
const heapAfter = process.memoryUsage().heapUsed;
console.log(
  JSON.stringify({
    scenario: 'plan',
    paths: N,
    ops: plan.ops.length,
    ms: times[times.length >> 1],
    heapMB: Math.round((heapAfter - heapBefore) / 2 ** 20),
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
  }),
);
