/// <reference lib="webworker" />
/** Benchmark worker: writes notes into OPFS with and without sync access handles. */
import { expose } from 'comlink';
import { OpfsTree } from '../src/opfs-tree.js';

expose({
  /** Writes `count` notes (200 B–4 KB) and returns the milliseconds it took. */
  async writeNotes(id: string, count: number, syncAccessHandles: boolean): Promise<number> {
    const tree = await OpfsTree.open({
      root: `${id}/root`,
      trash: `${id}/trash`,
      syncAccessHandles,
    });
    if (tree.usesSyncAccessHandles !== syncAccessHandles) throw new Error('wrong write path');
    const start = performance.now();
    let seed = 11;
    for (let i = 0; i < count; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      await tree.write(`notes/d${i % 25}/n${i}.md`, new Uint8Array(200 + (seed % 3800)).fill(97));
    }
    const ms = performance.now() - start;
    await (await navigator.storage.getDirectory()).removeEntry(id, { recursive: true });
    return ms;
  },
});
