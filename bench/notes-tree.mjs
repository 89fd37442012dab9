// A reproducible notes-like tree for the sync benchmarks: the same seed gives the same
// paths and the same bytes on every machine (a seeded PRNG, never Math.random).
import { appendFileSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** mulberry32: a small, fast, seedable 32-bit PRNG; returns floats in [0, 1). */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  'project meeting notes idea draft todo review plan journal reading research design ' +
  'budget travel recipe garden book film music health workout sleep family friends work ' +
  'release bug feature sketch outline summary question answer archive inbox weekly daily ' +
  'monthly quarter goal habit lesson course paper talk client invoice contract call'
).split(' ');
const TOPICS = ['work', 'personal', 'projects', 'reading', 'archive', 'journal'];
const FILES_PER_FOLDER = 20;

const int = (rand, lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = (rand, list) => list[Math.floor(rand() * list.length)];

function text(rand, size) {
  let out = `# ${pick(rand, WORDS)} ${pick(rand, WORDS)}\n\n`;
  while (out.length < size) {
    const line = [];
    for (let i = int(rand, 6, 14); i > 0; i--) line.push(pick(rand, WORDS));
    out += rand() < 0.2 ? `- ${line.join(' ')}\n` : `${line.join(' ')}.\n`;
  }
  return `${out.slice(0, size - 1)}\n`;
}

/**
 * Writes `n` text files of 200 B–4 KB into `dir`, ~20 per folder, folders 3–5 levels
 * deep (topic/yyyy/word-k/…). Returns { files, folders, bytes }. mtimes are fixed from the
 * seed too, so copies made with `cp -a` are identical for every tool that compares them.
 */
export function makeNotesTree(dir, n, seed = 1) {
  const rand = prng(seed);
  const folders = new Set();
  let bytes = 0;
  let written = 0;
  const base = 1.7e9; // seconds: late 2023
  for (let f = 0; written < n; f++) {
    const depth = int(rand, 3, 5);
    const parts = [pick(rand, TOPICS), String(2019 + int(rand, 0, 6))];
    while (parts.length < depth) parts.push(`${pick(rand, WORDS)}-${int(rand, 1, 9)}`);
    parts[parts.length - 1] += `-${f}`; // each leaf folder is new, so ~20 files per folder
    const folder = join(dir, ...parts);
    mkdirSync(folder, { recursive: true });
    folders.add(folder);
    const count = Math.min(n - written, int(rand, FILES_PER_FOLDER - 5, FILES_PER_FOLDER + 5));
    for (let i = 0; i < count; i++) {
      const name = `${pick(rand, WORDS)}-${pick(rand, WORDS)}-${written}.md`;
      const body = text(rand, int(rand, 200, 4096));
      const file = join(folder, name);
      writeFileSync(file, body);
      const t = base + Math.floor(rand() * 3e7);
      utimesSync(file, t, t);
      bytes += body.length;
      written++;
    }
  }
  return { files: written, folders: folders.size, bytes };
}

/**
 * Writes `n` media-like files (photos, audio, video: 1 MiB to `maxMiB` MiB, sizes spread
 * log-uniformly, so most are small and a few are large) into `dir`, a few per folder.
 * Bytes come from a seeded pool (incompressible, like media), each file from its own
 * offsets, so the same seed gives the same tree. Returns { files, folders, bytes }.
 */
export function makeMediaTree(dir, n, seed = 1, maxMiB = 50) {
  const rand = prng(seed);
  const MiB = 2 ** 20;
  const pool = new Uint8Array(64 * MiB);
  const words = new Uint32Array(pool.buffer);
  for (let i = 0; i < words.length; i++) words[i] = Math.floor(rand() * 2 ** 32);
  const kinds = [
    ['photos', '.jpg'],
    ['audio', '.flac'],
    ['video', '.mp4'],
  ];
  const folders = new Set();
  let bytes = 0;
  const base = 1.7e9;
  for (let f = 0; f < n; f++) {
    const [kind, ext] = kinds[f % kinds.length];
    const folder = join(dir, kind, String(2019 + (f % 6)), `album-${Math.floor(f / 8)}`);
    mkdirSync(folder, { recursive: true });
    folders.add(folder);
    const size = Math.round(MiB * Math.exp(rand() * Math.log(maxMiB)));
    const file = join(folder, `${kind}-${f}${ext}`);
    const chunks = [];
    for (let left = size; left > 0; ) {
      const take = Math.min(left, MiB);
      const at = Math.floor(rand() * (pool.length - take));
      chunks.push(pool.subarray(at, at + take));
      left -= take;
    }
    writeFileSync(file, Buffer.concat(chunks));
    const t = base + Math.floor(rand() * 3e7);
    utimesSync(file, t, t);
    bytes += size;
  }
  return { files: n, folders: folders.size, bytes };
}

/** Every file under `dir`, as sorted paths relative to it; a folder bucket's own `.syncjournal` is left out. */
export function listFiles(dir) {
  const out = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name === '.syncjournal') continue;
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.isFile()) out.push(relative(dir, join(d, e.name)));
    }
  };
  walk(dir);
  return out.sort();
}

/**
 * Edits `pct` percent of the files under `dir` (leaving out the paths in `exclude`), chosen
 * by `seed`: appends a line and sets a newer mtime. Returns the touched paths (relative, sorted).
 */
export function touchPercent(dir, pct, seed = 2, exclude = []) {
  const rand = prng(seed);
  const skip = new Set(exclude);
  const files = listFiles(dir).filter((path) => !skip.has(path));
  const count = Math.round((files.length * pct) / 100);
  // Partial Fisher–Yates: the first `count` entries become a seeded sample.
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(rand() * (files.length - i));
    [files[i], files[j]] = [files[j], files[i]];
  }
  const touched = files.slice(0, count).sort();
  const now = Date.now() / 1000;
  for (const path of touched) {
    const file = join(dir, path);
    appendFileSync(file, `\n- ${pick(rand, WORDS)} ${pick(rand, WORDS)} (edited)\n`);
    utimesSync(file, now, now);
  }
  return touched;
}

// node bench/notes-tree.mjs <dir> [n] [seed]: writes a tree and prints its summary.
if (import.meta.url === `file://${process.argv[1]}`) {
  const [dir, n = '10000', seed = '1'] = process.argv.slice(2);
  if (!dir) throw new Error('usage: node bench/notes-tree.mjs <dir> [n] [seed]');
  console.log(JSON.stringify(makeNotesTree(dir, Number(n), Number(seed))));
}
