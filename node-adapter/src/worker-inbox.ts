import { isMainThread, Worker } from 'node:worker_threads';

/** What a worker's inbox gives when the worker failed or exited without saying why. */
export interface WorkerFailure {
  error: string;
}

/**
 * The URL of a worker script beside the module at `from` (its `import.meta.url`), when
 * that module runs as built JavaScript on the main thread; under vitest the sources are
 * TypeScript, which a worker cannot load, and a worker starts no workers of its own.
 */
export function builtWorker(script: string, from: string): URL | undefined {
  return isMainThread && from.endsWith('.js') ? new URL(script, from) : undefined;
}

/**
 * Starts a worker that never keeps the process alive (work nobody reads just ends) and
 * queues what it posts, in order, for `next()`; an error or exit arrives as one more
 * message, `{ error }`, naming the worker as `name`.
 */
export function startWorker<M>(
  url: URL,
  workerData: unknown,
  name: string,
): { worker: Worker; next(): Promise<M | WorkerFailure> } {
  const worker = new Worker(url, { workerData });
  worker.unref();
  const inbox: (M | WorkerFailure)[] = [];
  let wake: (() => void) | undefined;
  const deliver = (message: M | WorkerFailure) => {
    inbox.push(message);
    wake?.();
  };
  worker.on('message', deliver);
  worker.on('error', (error) => deliver({ error: error.message }));
  worker.on('exit', (code) => deliver({ error: `${name} exited (${code})` }));
  return {
    worker,
    async next() {
      while (inbox.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
      return inbox.shift()!;
    },
  };
}
