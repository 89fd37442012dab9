/// <reference lib="webworker" />
import { expose, proxy } from 'comlink';
import './comlink-errors.js';
import { lockFolder } from './folder-lock.js';
import { createSyncApi, type SyncApi, type SyncApiOptions } from './sync-api.js';

/** What the worker exposes: a factory, so the page says which folder, journal and bucket. */
export interface SyncWorker {
  open(options: SyncApiOptions): Promise<SyncApi>;
}

const worker: SyncWorker = {
  async open(options) {
    const release = await lockFolder(options.root);
    try {
      const api = await createSyncApi(options);
      return proxy({
        ...api,
        close: async () => {
          try {
            await api.close();
          } finally {
            release();
          }
        },
      });
    } catch (error) {
      release();
      throw error;
    }
  },
};

expose(worker);
