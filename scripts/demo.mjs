// npm run demo [-- <dir>]: a real sync on the embedded default — a PGlite journal and a
// folder acting as the bucket — over a sample folder this script creates under <dir>
// (default: .demo/ in the working directory).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(process.argv[2] ?? '.demo');
const notes = join(root, 'notes');
const bucket = join(root, 'bucket');
const state = join(root, 'state');
const sample = {
  'README.md': '# My notes\n\nSynced by syncjournal.\n',
  'ideas/sync.md': '- a journal of every sync\n- conflicts keep both versions\n',
  'ideas/écriture.md': 'Unicode names sync too.\n',
  'daily/2026-11-21.md': `Written ${new Date().toISOString()}\n`,
};
// Only missing files are written: an edit made between two demo runs is what the next
// run syncs, so it must not be overwritten here.
for (const [path, text] of Object.entries(sample)) {
  const file = join(notes, path);
  if (existsSync(file)) continue;
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, text);
}
const bin = fileURLToPath(new URL('../node-adapter/bin/syncjournal.js', import.meta.url));
const run = (...args) => {
  console.log(`\n$ syncjournal ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [bin, '--state-dir', state, ...args], { stdio: 'inherit' });
  return r.status ?? 1;
};
const code = run('sync', notes, bucket);
run('status');
console.log(`\nThe bucket is the folder ${bucket}; the journal, trash and config are in ${state}.`);
console.log('Edit files in either folder and run `npm run demo` again to see them sync.');
process.exit(code === 3 ? 0 : code);
