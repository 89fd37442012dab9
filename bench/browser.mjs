// npm run bench:browser: the browser benchmarks in Debian's Chromium (vitest browser
// mode); writes their section of docs/benchmarks.md.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const run = spawnSync('npx', ['vitest', 'run', '--project', 'browser-bench'], {
  cwd: root,
  encoding: 'utf8',
  env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
  maxBuffer: 64 * 1024 * 1024,
});
const results = Object.fromEntries(
  [...`${run.stdout}\n${run.stderr}`.matchAll(/BENCH (\{.*\})/g)].map((m) => {
    const r = JSON.parse(m[1]);
    return [r.name, r];
  }),
);
if (run.status !== 0 || Object.keys(results).length < 5) {
  console.error(run.stdout, run.stderr);
  throw new Error('the browser benchmarks did not all run');
}
const fmt = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`);
const {
  'journal-open': open,
  hashing,
  'sync-1000': sync,
  'opfs-write-1000': writes,
  's3-sync-1000': s3,
} = results;
const chromium = spawnSync('/usr/bin/chromium', ['--version'], { encoding: 'utf8' }).stdout.trim();
const section = [
  '<!-- bench-browser:start -->',
  `## In the browser (${chromium}, headless; medians of 3; \`npm run bench:browser\`, ${new Date().toISOString().slice(0, 10)})`,
  '',
  '| Scenario | Result |',
  '|---|---|',
  `| Journal open, first time (PGlite creates its database in IndexedDB) | ${fmt(open.firstMs)} |`,
  `| Journal reopen (IndexedDB) | ${fmt(open.reopenMs)} |`,
  `| SHA-256, hash-wasm streaming (64 KiB chunks) | ${hashing.wasmMBps} MB/s |`,
  `| SHA-256, WebCrypto one-shot | ${hashing.webCryptoMBps} MB/s (${(hashing.webCryptoMBps / hashing.wasmMBps).toFixed(1)}× hash-wasm) |`,
  `| First sync of 1,000 notes (OPFS → memory bucket, PGlite in memory) | ${fmt(sync.initialMs)} |`,
  `| No-op sync of the same 1,000 notes | ${fmt(sync.noopMs)} |`,
  `| Dry run (scan, list, plan) of the same 1,000 notes | ${fmt(sync.dryRunMs)} |`,
  `| Writing 1,000 notes into OPFS in a worker, sync access handles | ${fmt(writes.syncAccessHandleMs)} |`,
  `| Writing the same with \`createWritable\` (what the page must use) | ${fmt(writes.createWritableMs)} (${(writes.createWritableMs / writes.syncAccessHandleMs).toFixed(1)}× the time) |`,
  `| First sync of 1,000 notes through the worker API to the S3 test server (IndexedDB journal) | ${fmt(s3.initialMs)} |`,
  `| No-op sync of the same, to the S3 test server | ${fmt(s3.noopMs)} |`,
  '<!-- bench-browser:end -->',
].join('\n');
const doc = join(root, 'docs/benchmarks.md');
const text = readFileSync(doc, 'utf8');
const marked = /<!-- bench-browser:start -->[\s\S]*<!-- bench-browser:end -->/;
writeFileSync(
  doc,
  marked.test(text) ? text.replace(marked, section) : `${text.trimEnd()}\n\n${section}\n`,
);
console.log(section);
