// Summarises a V8 .cpuprofile (node --cpu-prof) into self time per function and per area
// of syncjournal (journal, folder bucket, local tree, core), for docs/benchmarks.md.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { originalPositionFor, TraceMap } from '@jridgewell/trace-mapping';

const repoRoot = join(new URL('.', import.meta.url).pathname, '..');
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
export function summariseProfile(file) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const unbundle = unbundler();
  for (const n of p.nodes) n.callFrame = unbundle(n.callFrame);
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

/**
 * Maps a frame in the CLI's bundle (node-adapter/dist/bundle/, see rolldown.config.mjs)
 * back to the module it came from, through the bundle's source map, so a profile of the
 * CLI reads "node-adapter/dist/node-tree.js" and "kysely/…" as it would unbundled.
 */
function unbundler() {
  const maps = new Map();
  const mapOf = (url) => {
    if (!maps.has(url)) {
      const path = fileURLToPath(url);
      maps.set(
        url,
        existsSync(`${path}.map`)
          ? { dir: dirname(path), map: new TraceMap(readFileSync(`${path}.map`, 'utf8')) }
          : undefined,
      );
    }
    return maps.get(url);
  };
  return (cf) => {
    if (!/\/dist\/bundle\/[^/]+\.js$/.test(cf.url) || !cf.url.startsWith('file:')) return cf;
    const found = mapOf(cf.url);
    if (!found) return cf;
    const at = originalPositionFor(found.map, {
      line: cf.lineNumber + 1,
      column: Math.max(cf.columnNumber, 0),
    });
    if (!at.source || at.line == null) return cf;
    return {
      ...cf,
      url: pathToFileURL(resolve(found.dir, at.source)).href,
      lineNumber: at.line - 1,
      columnNumber: at.column ?? 0,
    };
  };
}
