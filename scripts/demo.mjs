// npm run demo: a real sync on the embedded default — a PGlite journal and a folder
// acting as the bucket — over a sample folder this script creates under .demo/.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(process.cwd(), '.demo');
const notes = join(root, 'notes');
const bucket = join(root, 'bucket');
const state = join(root, 'state');
const sample = {
  'README.md': '# My notes\n\nSynced by syncjournal.\n',
  'ideas/sync.md': '- a journal of every sync\n- conflicts keep both versions\n',
  'ideas/écriture.md': 'Unicode names sync too.\n',
  'daily/2026-11-21.md': `Written ${new Date().toISOString()}\n`,
};
for (const [path, text] of Object.entries(sample)) {
  mkdirSync(join(notes, path, '..'), { recursive: true });
  writeFileSync(join(notes, path), text);
}
const bin = join(process.cwd(), 'node-adapter', 'bin', 'syncjournal.js');
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
