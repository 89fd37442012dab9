#!/usr/bin/env node
// Shows the property suite has teeth: breaks the engine on purpose, one mutation at
// a time, runs the in-memory sync model against it, and records which invariant
// caught it. Every source file is restored afterwards, whatever happens.
//
//   node scripts/mutations.mjs [--runs N] [--write]
//
// --write puts the table into docs/testing.md between the mutations markers.

import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1]) || 1000;
const write = args.includes('--write');

const EXECUTOR = 'core/src/engine/executor.ts';

/** Each mutation: what it breaks, and the exact source replacements that break it. */
const MUTATIONS = [
  {
    name: 'Turn off If-Match / If-None-Match on remote writes and deletes',
    edits: [
      [EXECUTOR, "    ...(remote ? { ifMatch: remote.etag! } : { ifNoneMatch: '*' }),\n", ''],
      [
        EXECUTOR,
        'await ctx.store.delete(op.path, { ifMatch: remote.etag! });',
        'await ctx.store.delete(op.path);',
      ],
    ],
  },
  {
    name: 'Download over a locally changed file (no re-hash, no expect check)',
    edits: [
      [EXECUTOR, '  if (local) await readVerified(ctx, path, local.hash!);\n', ''],
      [EXECUTOR, '    expect: local ? statOf(local) : null,\n', ''],
    ],
  },
  {
    name: 'Treat a failed listing page as the empty end of the listing',
    edits: [
      [
        'core/src/scan/lister.ts',
        '      });\n      break;\n    }\n    pages++;',
        '      });\n      page = { objects: [], next: null };\n    }\n    pages++;',
      ],
    ],
  },
  {
    name: 'Forget the racy-timestamp rule',
    edits: [
      [
        'core/src/scan/scanner.ts',
        '  return changed > clock.now() - Math.max(tree.timestampGranularityMs, 1);',
        '  return changed < 0 && clock.now() < 0 && tree.caseInsensitive;',
      ],
    ],
  },
  {
    name: 'prefer-remote replaces the local version without keeping it',
    edits: [
      [
        EXECUTOR,
        '  remote: SideState,\n): Promise<Effect> {\n  // The scan',
        '  remote: SideState,\n  keep = true,\n): Promise<Effect> {\n  // The scan',
      ],
      [EXECUTOR, '    keepPrevious: local !== null,', '    keepPrevious: local !== null && keep,'],
      [
        EXECUTOR,
        '    const effect = await download(ctx, op.path, op.local!, op.remote!);',
        '    const effect = await download(ctx, op.path, op.local!, op.remote!, false);',
      ],
    ],
  },
  {
    name: 'prefer-local replaces the remote version without keeping it',
    edits: [
      [
        EXECUTOR,
        '  remote: SideState | null,\n): Promise<Effect> {\n  const hash = local.hash!;',
        '  remote: SideState | null,\n  keep = true,\n): Promise<Effect> {\n  const hash = local.hash!;',
      ],
      [
        EXECUTOR,
        '  const replaced = remote ? await keepRemoteVersion(ctx, path, remote) : undefined;',
        '  const replaced = remote && keep ? await keepRemoteVersion(ctx, path, remote) : undefined;',
      ],
      [
        EXECUTOR,
        '    const effect = await upload(ctx, op.path, op.local!, op.remote!);',
        '    const effect = await upload(ctx, op.path, op.local!, op.remote!, false);',
      ],
    ],
  },
  {
    name: 'Keep-both conflict without writing the conflict copy',
    edits: [
      [
        EXECUTOR,
        '    copyStat = (await ctx.tree.write(copyPath, bytes, { expect: null })).stat;',
        '    copyStat = { size: bytes.length, mtimeMs: 0 };',
      ],
      [
        EXECUTOR,
        "    copyObject = await ctx.store.put(copyPath, bytes, { sha256: hash, ifNoneMatch: '*' });",
        '    copyObject = { key: copyPath, size: bytes.length, etag: \'"none"\' };',
      ],
    ],
  },
];

const originals = new Map();
function restore() {
  for (const [file, text] of originals) writeFileSync(join(root, file), text);
  originals.clear();
}
process.on('SIGINT', () => {
  restore();
  process.exit(130);
});

function apply(mutation) {
  for (const [file, find, replace] of mutation.edits) {
    const path = join(root, file);
    if (!originals.has(file)) originals.set(file, readFileSync(path, 'utf8'));
    const text = readFileSync(path, 'utf8');
    const count = text.split(find).length - 1;
    if (count !== 1)
      throw new Error(`${mutation.name}: expected one match in ${file}, found ${count}:\n${find}`);
    writeFileSync(path, text.replace(find, replace));
  }
}

const results = [];
for (const mutation of MUTATIONS) {
  const started = Date.now();
  let output;
  try {
    apply(mutation);
    const run = spawnSync(
      'npx',
      [
        'vitest',
        'run',
        '--project',
        'property',
        'property-tests/test/sync-model.memory.property.test.ts',
      ],
      {
        cwd: root,
        encoding: 'utf8',
        env: {
          ...process.env,
          SYNCJOURNAL_PROPERTY_RUNS: String(runs),
          FORCE_COLOR: '0',
          NO_COLOR: '1',
        },
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    output = `${run.stdout}\n${run.stderr}`;
  } finally {
    restore();
  }
  // "Caused by: InvariantError: [no-lost-write] …" — one per failing store configuration.
  const caught = [...output.matchAll(/InvariantError: \[([a-z-]+)\] ([^\n]*)/g)].map((m) => ({
    invariant: m[1],
    detail: m[2].slice(0, 200),
  }));
  const failed = [...output.matchAll(/Property failed after (\d+) tests/g)].map((m) =>
    Number(m[1]),
  );
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  results.push({ name: mutation.name, caught, failed, seconds });
  const verdict = caught.length
    ? `caught by ${[...new Set(caught.map((c) => c.invariant))].join(', ')}`
    : 'NOT CAUGHT';
  console.log(
    `${mutation.name}: ${verdict} (cases until failure: ${failed.join(', ') || '-'}; ${seconds} s)`,
  );
  for (const c of caught) console.log(`    [${c.invariant}] ${c.detail}`);
}

const table = [
  '| Mutation | Caught by (per store configuration that failed) | Cases until the first failure |',
  '|---|---|---|',
  ...results.map(
    (r) =>
      `| ${r.name} | ${r.caught.length ? r.caught.map((c) => c.invariant).join(', ') : '**not caught**'} | ${r.failed.join(', ') || '-'} |`,
  ),
].join('\n');
console.log(`\n${table}`);

if (write) {
  const doc = join(root, 'docs/testing.md');
  const text = readFileSync(doc, 'utf8');
  const start = '<!-- mutations:start -->';
  const end = '<!-- mutations:end -->';
  const stamp = `Run: \`node scripts/mutations.mjs --runs ${runs} --write\` on ${new Date().toISOString().slice(0, 10)}; the three store configurations (plain, versioned, without conditional writes) each stop at their first failure.`;
  const body = `${start}\n${stamp}\n\n${table}\n${end}`;
  writeFileSync(doc, text.replace(new RegExp(`${start}[\\s\\S]*${end}`), body));
}

process.exit(results.every((r) => r.caught.length > 0) ? 0 : 1);
