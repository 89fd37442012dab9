import type { LocalTree, TrashOptions, WalkItem, WriteOptions } from '@syncjournal/core';
import { runTreeConformance } from '@syncjournal/core/testing';
import { type Remote, wrap } from 'comlink';
import { afterAll, expect, it } from 'vitest';
import '../src/comlink-errors.js';
import type { RemoteTree, TreeWorker } from './fixtures/tree-worker.js';

/**
 * The tree conformance suite again, on an OpfsTree living in a dedicated worker — the
 * only place OPFS sync access handles exist, and where the sync API runs it — so the
 * write path the app uses is the one tested. The page side only forwards calls.
 */
const worker = new Worker(new URL('./fixtures/tree-worker.ts', import.meta.url), {
  type: 'module',
});
const remote = wrap<TreeWorker>(worker);
afterAll(() => worker.terminate());
/** The worker hands back a comlink proxy (typed as the plain object it stands for). */
const openRemote = async (id: string) =>
  (await remote.open(`${id}/root`, `${id}/trash`)) as unknown as Remote<RemoteTree>;

class WorkerTree implements LocalTree {
  readonly caseInsensitive = false;
  readonly timestampGranularityMs = 1;
  constructor(readonly inner: Remote<RemoteTree>) {}

  async *walk(): AsyncIterable<WalkItem> {
    for (const item of (await this.inner.walk()) as WalkItem[]) yield item;
  }
  stat(path: string) {
    return this.inner.stat(path);
  }
  async *read(path: string): AsyncIterable<Uint8Array> {
    yield await this.inner.read(path);
  }
  async write(
    path: string,
    data: Uint8Array | AsyncIterable<Uint8Array>,
    options: WriteOptions = {},
  ) {
    if (data instanceof Uint8Array) return this.inner.write(path, data, undefined, options);
    const chunks: Uint8Array[] = [];
    let failure: unknown;
    try {
      for await (const chunk of data) chunks.push(chunk.slice());
    } catch (error) {
      failure = error;
    }
    const written = this.inner.write(path, chunks, failure ? String(failure) : undefined, options);
    if (failure === undefined) return written;
    // The worker's write saw the same failure part-way; the caller gets the original.
    await written.catch(() => {});
    throw failure;
  }
  trash(path: string, options: TrashOptions = {}) {
    return this.inner.trash(path, options);
  }
  restore(trashLocation: string, path: string) {
    return this.inner.restore(trashLocation, path);
  }
  statTrash(trashLocation: string) {
    return this.inner.statTrash(trashLocation);
  }
  mkdir(path: string) {
    return this.inner.mkdir(path);
  }
}

let trees = 0;

it('writes through sync access handles in the worker (and cannot on the page)', async () => {
  const tree = await openRemote(`sah-probe-${Date.now()}`);
  expect(await tree.usesSyncAccessHandles()).toBe(true);
  expect('createSyncAccessHandle' in FileSystemFileHandle.prototype).toBe(false);
});

runTreeConformance('OpfsTree in a dedicated worker (sync access handles)', {
  caseInsensitive: false,
  create: async () => {
    const id = `worker-conformance-${Date.now()}-${trees++}`;
    const tree = new WorkerTree(await openRemote(id));
    return {
      tree,
      teardown: async () => {
        const opfs = await navigator.storage.getDirectory();
        await opfs.removeEntry(id, { recursive: true });
      },
    };
  },
});
