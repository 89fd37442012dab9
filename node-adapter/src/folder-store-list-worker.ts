/**
 * The worker thread behind a folder bucket's read-ahead listing ({@link ListAhead}): it
 * lists the bucket from `cursor` on with the same code as the main thread, blocking on
 * each `readdir` and `lstat`, and posts page after page, at most `ahead` pages before
 * the main thread has taken them.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { type ListMessage, type ListWorkerData, listPage } from './folder-store-list.js';
import { DirCache } from './folder-store-walk.js';

const { root, pageSize, ahead, cursor: start } = workerData as ListWorkerData;
const port = parentPort!;
let posted = 0;
let taken = 0;
let wake: (() => void) | undefined;
port.on('message', () => {
  taken++;
  wake?.();
});

try {
  const cache = new DirCache();
  let cursor = start;
  for (;;) {
    const page = await listPage(fsp, root, cursor, pageSize, cache, fs);
    port.postMessage({ page } satisfies ListMessage);
    posted++;
    if (page.next === null) break;
    cursor = page.next;
    while (posted - taken >= ahead) await new Promise<void>((resolve) => (wake = resolve));
    wake = undefined;
  }
} catch (error) {
  port.postMessage({ error: String((error as Error)?.message ?? error) } satisfies ListMessage);
}
port.close();
