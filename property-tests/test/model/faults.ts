import {
  type BodySource,
  type ListPage,
  type LocalTree,
  type ObjectStore,
  type PutOptions,
  RESERVED_PREFIX,
  type RemoteObject,
  type StoreCapabilities,
} from '@syncjournal/core';

/**
 * A simulated process: one sync's life. A crash point is the n-th call the engine
 * makes to any port (tree, store or journal) during the sync, taken either before the
 * call reaches the port (a journal transaction that never committed, a put that never
 * left) or after it returned (a put that landed, a transaction that committed, whose
 * answer the dead process never saw). From the crash on, every call fails: nothing
 * the dead process still had in flight can reach a port again.
 */
export class SimulatedProcess {
  calls = 0;
  dead = false;
  constructor(readonly crash?: { at: number; after: boolean }) {}

  /** Counts a call; throws if the process is (or now becomes) dead before it. */
  enter(what: string): void {
    if (this.dead) throw new SimulatedCrash(`${what} after the crash`);
    this.calls++;
    if (this.crash && !this.crash.after && this.calls === this.crash.at) {
      this.dead = true;
      throw new SimulatedCrash(`before ${what}`);
    }
  }

  /** After a call returned: the crash point may be here. */
  leave(what: string): void {
    if (this.dead) throw new SimulatedCrash(`${what} after the crash`);
    if (this.crash?.after && this.calls === this.crash.at) {
      this.dead = true;
      throw new SimulatedCrash(`after ${what}`);
    }
  }
}

/** What a dead process sees; never caught as anything else. */
export class SimulatedCrash extends Error {
  constructor(where: string) {
    super(`simulated crash ${where}`);
    this.name = 'SimulatedCrash';
  }
}

/**
 * Wraps every method of a port so that each call is a crash point of `process`.
 * Async iterables a method returns (a walk, a read, a download body) stop at the
 * crash too.
 */
export function crashable<T extends object>(
  target: T,
  process: SimulatedProcess,
  label: string,
): T {
  return new Proxy(target, {
    get(obj, prop, receiver) {
      const value = Reflect.get(obj, prop, receiver);
      if (typeof value !== 'function') return value;
      const name = `${label}.${String(prop)}`;
      return (...args: unknown[]) => {
        try {
          process.enter(name);
        } catch (crash) {
          // Port methods fail asynchronously, as an async function or generator does.
          return ITERATING.has(String(prop)) ? failingIterable(crash) : Promise.reject(crash);
        }
        const result = value.apply(obj, args);
        if (isAsyncIterable(result)) return guardIterable(result, process, name);
        if (result instanceof Promise) {
          return result.then((resolved) => {
            process.leave(name);
            if (resolved && typeof resolved === 'object' && 'body' in resolved) {
              const r = resolved as { body: unknown };
              if (isAsyncIterable(r.body))
                return { ...r, body: guardIterable(r.body, process, name) };
            }
            return resolved;
          });
        }
        process.leave(name);
        return result;
      };
    },
  });
}

/** Port methods that hand back an async iterable rather than a promise. */
const ITERATING = new Set(['walk', 'read']);

function failingIterable(error: unknown): AsyncIterable<never> {
  return { [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(error) }) };
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function' &&
    !(value instanceof Promise)
  );
}

async function* guardIterable<V>(
  source: AsyncIterable<V>,
  process: SimulatedProcess,
  name: string,
): AsyncIterable<V> {
  for await (const item of source) {
    if (process.dead) throw new SimulatedCrash(`${name} after the crash`);
    yield item;
  }
}

/** A store fault for one sync, as data (so a shrunk counterexample prints and replays). */
export type StoreFault =
  /** Page `page` of the first listing throws `ServiceUnavailable`. */
  | { kind: 'fail-list-page'; page: number }
  /** The `nth` put (from 0) fails; with `afterWrite` it lands and its answer is lost. */
  | { kind: 'fail-put'; nth: number; afterWrite: boolean }
  /** The `nth` delete fails and deletes nothing. */
  | { kind: 'fail-delete'; nth: number }
  /** Just before the `nth` put, a teammate writes that key: a 412/409 race. */
  | { kind: 'race-put'; nth: number }
  /** The first listing leaves out the `nth` key it would have listed: eventual consistency. */
  | { kind: 'hide-from-listing'; nth: number }
  /** Just before the engine's `nth` local write or trash, the user edits that file. */
  | { kind: 'user-edit'; nth: number };

/** An error shaped as the S3 client's are: a name and a code. */
function storeError(code: string, message: string): Error {
  return Object.assign(new Error(`injected: ${message}`), { name: code, code });
}

/**
 * Injects {@link StoreFault}s into any {@link ObjectStore}, so the memory store and
 * the folder bucket face the same faults. The teammate of a race is a callback that
 * writes around the wrapper.
 */
export class FaultyStore implements ObjectStore {
  readonly capabilities: StoreCapabilities;
  #puts = 0;
  #deletes = 0;
  #listings = 0;
  #page = 0;
  /** What the first listing really served: whether a page failed, and the last key served before. */
  readonly served: { failed: boolean; lastKey: string | null } = { failed: false, lastKey: null };
  readonly #inner: ObjectStore;
  readonly #faults: readonly StoreFault[];
  readonly #race: (key: string) => Promise<void>;

  constructor(
    inner: ObjectStore,
    faults: readonly StoreFault[],
    race: (key: string) => Promise<void>,
  ) {
    this.#inner = inner;
    this.#faults = faults;
    this.#race = race;
    this.capabilities = inner.capabilities;
    if (inner.copy) this.copy = (from, to) => inner.copy!(from, to);
    if (inner.listVersions) this.listVersions = (key) => inner.listVersions!(key);
    if (inner.snapshot) this.snapshot = () => inner.snapshot!();
  }

  copy?: ObjectStore['copy'];
  listVersions?: ObjectStore['listVersions'];
  snapshot?: ObjectStore['snapshot'];

  async list(cursor?: string): Promise<ListPage> {
    if (cursor === undefined) {
      this.#listings++;
      this.#page = 0;
    } else {
      this.#page++;
    }
    const first = this.#listings === 1;
    if (first && this.#faults.some((f) => f.kind === 'fail-list-page' && f.page === this.#page)) {
      this.served.failed = true;
      throw storeError('ServiceUnavailable', `listing page ${this.#page} failed`);
    }
    const page = await this.#inner.list(cursor);
    if (!first) return page;
    this.served.lastKey = page.objects.at(-1)?.key ?? this.served.lastKey;
    const hidden = this.#faults.flatMap((f) => (f.kind === 'hide-from-listing' ? [f.nth] : []));
    if (hidden.length === 0 || this.#page !== 0) return page;
    // Hide among the first page's keys (pages are small in the model).
    return { ...page, objects: page.objects.filter((_, i) => !hidden.includes(i)) };
  }

  head(key: string): Promise<RemoteObject | undefined> {
    return this.#inner.head(key);
  }

  get(key: string, options?: { versionId?: string; snapshot?: string }) {
    return this.#inner.get(key, options);
  }

  async put(key: string, body: BodySource, options: PutOptions): Promise<RemoteObject> {
    const nth = this.#puts++;
    // Teammates write user keys; `.syncjournal/` is syncjournal's own (per-client trash
    // and snapshot markers), which no teammate writes. (The engine still refuses to
    // replace a marker it did not write: core's engine-snapshots test.)
    if (
      !key.startsWith(RESERVED_PREFIX) &&
      this.#faults.some((f) => f.kind === 'race-put' && f.nth === nth)
    )
      await this.#race(key);
    const fault = this.#faults.find((f) => f.kind === 'fail-put' && f.nth === nth);
    if (fault?.kind === 'fail-put' && !fault.afterWrite) {
      throw storeError('InternalError', `the put of ${key} did not land`);
    }
    const object = await this.#inner.put(key, body, options);
    if (fault) throw storeError('ECONNRESET', `the put of ${key} landed, its answer was lost`);
    return object;
  }

  async delete(key: string, options?: { ifMatch?: string }): Promise<{ versionId?: string }> {
    const nth = this.#deletes++;
    if (this.#faults.some((f) => f.kind === 'fail-delete' && f.nth === nth)) {
      throw storeError('InternalError', `the delete of ${key} did not land`);
    }
    return this.#inner.delete(key, options);
  }
}

/**
 * Wraps a tree so the user can edit a file just before the engine writes or trashes
 * it: the edit the engine's preconditions must catch.
 */
export function racingTree<T extends LocalTree>(
  tree: T,
  faults: readonly StoreFault[],
  edit: (path: string) => Promise<void>,
): T {
  let n = 0;
  const race = async (path: string) => {
    const nth = n++;
    if (faults.some((f) => f.kind === 'user-edit' && f.nth === nth)) await edit(path);
  };
  return new Proxy(tree, {
    get(obj, prop, receiver) {
      const value = Reflect.get(obj, prop, receiver);
      if (prop !== 'write' && prop !== 'trash')
        return typeof value === 'function' ? value.bind(obj) : value;
      return async (path: string, ...rest: unknown[]) => {
        await race(path);
        return (value as (...a: unknown[]) => unknown).apply(obj, [path, ...rest]);
      };
    },
  });
}
