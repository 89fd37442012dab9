import { setFlagsFromString } from 'node:v8';

/**
 * Keeps WebAssembly (PGlite's Postgres) at V8's baseline compiler, Liftoff, for a
 * command that lives seconds. By default V8 also recompiles the hot functions of a
 * module with its optimizing compiler, TurboFan, on background threads: for
 * Postgres' largest functions that costs more CPU than a short run gains back, and
 * on two cores it takes the CPU from the walk and the listing. Measured here
 * (docs/benchmarks.md): a no-op sync of 10k files 2.2 -> 1.55 s, of 100k 5.56 -> 5.06 s,
 * with less memory; heavy journal work runs ~15% slower (append or rebuild of 100k
 * events), so `watch`, which lives long, keeps the optimizing tier.
 *
 * Must run before PGlite compiles its module. SYNCJOURNAL_WASM_OPTIMIZE=1 leaves V8's
 * default.
 */
export function baselineWasmOnly(): void {
  if (process.env.SYNCJOURNAL_WASM_OPTIMIZE === '1') return;
  setFlagsFromString('--liftoff-only');
}
