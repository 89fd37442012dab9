import { createSyncEngine, MemoryStore } from '@syncjournal/core';
import { openPGliteJournal } from '@syncjournal/journal-schema';
import { wrap } from 'comlink';
import { inject, it } from 'vitest';
import { openSyncWorker } from '../src/client.js';
import { OpfsTree } from '../src/opfs-tree.js';
import { createWebHasher } from '../src/web-hasher.js';

/**
 * Browser benchmarks, run by `npm run bench:browser` in Debian's Chromium: each result
 * is printed as one `BENCH {json}` line for bench/browser.mjs to collect. Medians of
 * three; compare ratios, the machine is shared.
 */
const hasher = await createWebHasher();
const report = (name: string, values: Record<string, number | string>) =>
  console.log(`BENCH ${JSON.stringify({ name, ...values })}`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const time = async (fn: () => Promise<unknown>) => {
  const t = performance.now();
  await fn();
  return performance.now() - t;
};

it('journal open: first (creates the database) and reopen', { timeout: 300_000 }, async () => {
  const first: number[] = [];
  const reopen: number[] = [];
  for (let i = 0; i < 3; i++) {
    const dataDir = `idb://syncjournal-bench-${Date.now()}-${i}`;
    first.push(await time(async () => (await openPGliteJournal({ hasher, dataDir })).close()));
    reopen.push(await time(async () => (await openPGliteJournal({ hasher, dataDir })).close()));
  }
  report('journal-open', { firstMs: median(first), reopenMs: median(reopen) });
});

it('hashing throughput: hash-wasm streaming and WebCrypto', { timeout: 300_000 }, async () => {
  const size = 64 * 1024 * 1024;
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i += 4096) data[i] = i & 0xff;
  const wasm: number[] = [];
  const subtle: number[] = [];
  for (let i = 0; i < 3; i++) {
    wasm.push(
      await time(async () => {
        const state = hasher.create();
        for (let at = 0; at < size; at += 65_536) state.update(data.subarray(at, at + 65_536));
        state.digest();
      }),
    );
    subtle.push(await time(() => hasher.digestBytes!(data)));
  }
  const mbps = (ms: number) => Math.round(size / 1024 / 1024 / (ms / 1000));
  report('hashing', { wasmMBps: mbps(median(wasm)), webCryptoMBps: mbps(median(subtle)) });
});

it('scan and sync of 1,000 notes (OPFS, PGlite in memory, memory bucket)', {
  timeout: 300_000,
}, async () => {
  const initial: number[] = [];
  const noop: number[] = [];
  const scanOnly: number[] = [];
  for (let round = 0; round < 3; round++) {
    const id = `bench-${Date.now()}-${round}`;
    const tree = await OpfsTree.open({ root: `${id}/root`, trash: `${id}/trash` });
    let seed = 7 + round;
    for (let i = 0; i < 1000; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const size = 200 + (seed % 3800);
      const body = new Uint8Array(size).fill(97 + (i % 26));
      await tree.write(`notes/d${i % 25}/n${i}.md`, body);
    }
    const journal = await openPGliteJournal({ hasher, dataDir: 'memory://' });
    const store = new MemoryStore({ hasher });
    const engine = createSyncEngine({
      tree,
      store,
      journal,
      hasher,
      pair: { id: 'bench', local: 'opfs://bench', remote: 'memory://bench' },
      clientId: 'bench',
    });
    initial.push(await time(() => engine.sync()));
    await new Promise((r) => setTimeout(r, 20));
    noop.push(await time(() => engine.sync()));
    scanOnly.push(await time(() => engine.sync({ dryRun: true })));
    await journal.close();
    await (await navigator.storage.getDirectory()).removeEntry(id, { recursive: true });
  }
  report('sync-1000', {
    initialMs: median(initial),
    noopMs: median(noop),
    dryRunMs: median(scanOnly),
  });
});

it('OPFS writes in a worker: sync access handles vs createWritable', {
  timeout: 300_000,
}, async () => {
  const worker = new Worker(new URL('./opfs-write.worker.ts', import.meta.url), { type: 'module' });
  const bench = wrap<{
    writeNotes(id: string, count: number, syncAccessHandles: boolean): Promise<number>;
  }>(worker);
  const sah: number[] = [];
  const writable: number[] = [];
  for (let round = 0; round < 3; round++) {
    sah.push(await bench.writeNotes(`bench-sah-${Date.now()}`, 1000, true));
    writable.push(await bench.writeNotes(`bench-writable-${Date.now()}`, 1000, false));
  }
  worker.terminate();
  report('opfs-write-1000', {
    syncAccessHandleMs: median(sah),
    createWritableMs: median(writable),
  });
});

it('1,000 notes through the worker API to the S3 test server (IndexedDB journal)', {
  timeout: 300_000,
}, async () => {
  const initial: number[] = [];
  const noop: number[] = [];
  for (let round = 0; round < 3; round++) {
    const id = `bench-s3-${Date.now()}-${round}`;
    const worker = new Worker(new URL('../src/worker.ts', import.meta.url), { type: 'module' });
    const api = await openSyncWorker(worker, {
      root: id,
      journal: `idb://${id}`,
      clientId: 'bench',
      store: {
        kind: 's3',
        url: `s3://browser/${id}/`,
        endpoint: inject('s3Endpoint'),
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
      },
    });
    let seed = 5 + round;
    for (let i = 0; i < 1000; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      await api.writeFile(`notes/d${i % 25}/n${i}.md`, 'x'.repeat(200 + (seed % 3800)));
    }
    initial.push(await time(() => api.sync()));
    await new Promise((r) => setTimeout(r, 20));
    noop.push(await time(() => api.sync()));
    await api.close();
    worker.terminate();
  }
  report('s3-sync-1000', { initialMs: median(initial), noopMs: median(noop) });
});
