/**
 * The worker thread behind {@link NodeTree.walk} on the real filesystem: it walks the
 * tree with the same code, blocking on each `lstat` and `readdir`, and posts the items
 * in batches, so the walk runs on another core while the main thread reads the journal.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { WalkItem } from '@syncjournal/core';
import { NodeTree } from './node-tree.js';

/** What the worker posts: a batch of items (the last with `done`), or why it stopped. */
export type WalkMessage = { items: WalkItem[]; done: boolean } | { error: string };

const BATCH = 2000;
const { root, trashDir } = workerData as { root: string; trashDir: string };
const port = parentPort!;
try {
  const tree = new NodeTree({ root, trashDir, walkInWorker: false });
  let items: WalkItem[] = [];
  for await (const item of tree.walk()) {
    items.push(item);
    if (items.length >= BATCH) {
      port.postMessage({ items, done: false } satisfies WalkMessage);
      items = [];
    }
  }
  port.postMessage({ items, done: true } satisfies WalkMessage);
} catch (error) {
  port.postMessage({ error: String((error as Error)?.message ?? error) } satisfies WalkMessage);
}
