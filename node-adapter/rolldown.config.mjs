// Bundles the CLI (bin/syncjournal.js) into dist/bundle/: one file for the CLI and its
// dependencies instead of ~400 modules, most of them Kysely's, which Node otherwise
// resolves, reads and links one by one on every start (~0.5 s here; docs/benchmarks.md).
// The library (dist/index.js) is not bundled. The walk and listing workers are entries
// of their own, so `new URL('./…-worker.js', import.meta.url)` finds them beside the
// chunk that starts them. PGlite (which loads its WebAssembly and data files beside its
// own module), the AWS SDK and pg (loaded only when used) stay in node_modules.
import { defineConfig } from 'rolldown';

const dist = new URL('./dist/', import.meta.url).pathname;

export default defineConfig({
  input: {
    main: `${dist}cli/main.js`,
    'node-tree-walk-worker': `${dist}node-tree-walk-worker.js`,
    'folder-store-list-worker': `${dist}folder-store-list-worker.js`,
  },
  platform: 'node',
  external: [/^node:/, /^@electric-sql\/pglite/, /^@aws-sdk\//, /^pg$/],
  output: {
    dir: `${dist}bundle`,
    format: 'esm',
    entryFileNames: '[name].js',
    cleanDir: true,
    // Read by bench/profile.mjs, which maps a profile's frames back to their modules.
    sourcemap: true,
  },
});
