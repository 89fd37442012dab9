import { proxy, type Remote, wrap } from 'comlink';
import './comlink-errors.js';
import type { ProgressEvent } from '@syncjournal/core';
import type { SyncApi, SyncApiOptions } from './sync-api.js';
import type { SyncWorker } from './worker.js';

export { FolderLockedError } from './folder-lock.js';

/**
 * Opens the sync API in a dedicated worker (the one place OPFS sync access handles and
 * the journal's PGlite live) and returns its comlink proxy. Pass the worker so the
 * bundler can see it: `new Worker(new URL('@syncjournal/web/worker', import.meta.url), { type: 'module' })`.
 */
export async function openSyncWorker(
  worker: Worker,
  options: SyncApiOptions,
): Promise<Remote<SyncApi>> {
  const factory = wrap<SyncWorker>(worker);
  return (await factory.open(options)) as unknown as Remote<SyncApi>;
}

/** Wraps a progress callback so the worker can call it across the boundary. */
export function progressListener(
  fn: (event: ProgressEvent) => void,
): (event: ProgressEvent) => void {
  return proxy(fn);
}
