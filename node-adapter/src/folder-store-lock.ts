import * as fsSync from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { SyncJournalError } from '@syncjournal/core';
import { createInFolder, type FolderStoreFs, isErrno, removeQuietly } from './folder-store-io.js';
import { uniqueName } from './unique-name.js';

/** Who holds a folder bucket's write lock, as recorded in `owner.json` inside it. */
export interface BucketLockOwner {
  pid: number;
  host: string;
  since: string;
  token: string;
}

/** The write lock stayed with another process past the timeout; nothing was written. */
export class BucketLockedError extends SyncJournalError {
  constructor(lockPath: string, owner: BucketLockOwner | undefined, waitedMs: number) {
    const who = owner
      ? `pid ${owner.pid} on ${owner.host} since ${owner.since}`
      : 'an unknown process';
    super(
      'bucket-locked',
      `The folder bucket's write lock ${lockPath} is held by ${who}; waited ${(waitedMs / 1000).toFixed(1)} s. ` +
        `Nothing was written. Try again; if no such process is running, delete ${lockPath}.`,
      { lockPath, owner: owner ?? null, waitedMs },
    );
  }
}

// A lock dir whose owner file cannot be read (a hand edit) is judged by age alone.
const UNREADABLE_STALE_MS = 10_000;
const TAKEOVER_GUARD_STALE_MS = 10_000;

// Writers in this process queue here first, so they never poll for each other's lock.
const queues = new Map<string, Promise<void>>();

/**
 * A lock held on disk between two writers of this process: when a write finishes, the
 * lock passes to the next writer of this process instead of being released and taken
 * again (about a dozen file-system calls each way) — to one already queued, or to one
 * that comes within its linger time (25 ms by default), after which an unused lock is released. Passed on
 * for at most {@link HANDOFF_MAX_MS} since it was taken, so other processes get their turn.
 */
const handedOver = new Map<string, Lease>();
const HANDOFF_MAX_MS = 200;

interface Lease {
  owner: BucketLockOwner;
  takenAt: number;
}

/**
 * Releases, with blocking calls, the locks this process still keeps for a next writer
 * when it exits (the linger timer does not hold the process open, and `process.exit()`
 * would not wait for it). A process killed by a signal leaves its lock like a crash
 * does: the next writer on this host takes it over.
 */
function releaseLingering(): void {
  for (const [lockPath, lease] of handedOver) {
    try {
      const text = fsSync.readFileSync(join(lockPath, 'owner.json'), 'utf8');
      if (parseOwner(text)?.token !== lease.owner.token) continue;
      const aside = join(dirname(lockPath), `released-${uniqueName()}`);
      fsSync.renameSync(lockPath, aside);
      fsSync.rmSync(aside, { recursive: true, force: true });
    } catch {
      // Left for the next writer, which takes over a lock whose process is gone.
    }
  }
  handedOver.clear();
}
let exitHookSet = false;

/**
 * The bucket-wide write lock of a folder bucket, held only for the check-and-rename
 * step of a write. It is a directory, created whole by renaming a prepared one (so
 * it is never seen without its owner), and it survives crashes: a lock whose owner
 * is a dead process on this host is taken over; an owner on another host cannot be
 * checked and is waited for, up to the timeout.
 */
export class BucketWriteLock {
  readonly lockPath: string;

  constructor(
    private readonly fs: FolderStoreFs,
    private readonly locksDir: string,
    private readonly timeoutMs: number,
    private readonly lingerMs: number,
  ) {
    this.lockPath = join(locksDir, 'write');
  }

  /** Runs `action` holding the lock; throws {@link BucketLockedError} if it cannot be had in time. */
  run<T>(action: () => Promise<T>): Promise<T> {
    return this.#inTurn(async (othersWaiting) => {
      let lease = handedOver.get(this.lockPath);
      handedOver.delete(this.lockPath);
      lease ??= { owner: await this.#acquire(), takenAt: Date.now() };
      let keep = false;
      try {
        const result = await action();
        keep =
          Date.now() - lease.takenAt < HANDOFF_MAX_MS && (this.lingerMs > 0 || othersWaiting());
        return result;
      } finally {
        if (keep) this.#keep(lease);
        else await this.#release(lease.owner);
      }
    });
  }

  /**
   * Runs `job` after every earlier job of this process on this lock has finished; `job`
   * can ask whether later ones are waiting behind it.
   */
  async #inTurn<T>(job: (othersWaiting: () => boolean) => Promise<T>): Promise<T> {
    const previous = queues.get(this.lockPath) ?? Promise.resolve();
    let done = (): void => {};
    const mine = new Promise<void>((resolve) => {
      done = resolve;
    });
    const tail = previous.then(() => mine);
    queues.set(this.lockPath, tail);
    await previous;
    try {
      return await job(() => queues.get(this.lockPath) !== tail);
    } finally {
      done();
      if (queues.get(this.lockPath) === tail) queues.delete(this.lockPath);
    }
  }

  /** Keeps `lease` for the next writer of this process; released if none comes in time. */
  #keep(lease: Lease): void {
    handedOver.set(this.lockPath, lease);
    if (!exitHookSet) {
      process.once('exit', releaseLingering);
      exitHookSet = true;
    }
    const timer = setTimeout(() => {
      if (handedOver.get(this.lockPath) !== lease) return; // taken by a writer, or released
      this.#inTurn(async () => {
        if (handedOver.get(this.lockPath) !== lease) return;
        handedOver.delete(this.lockPath);
        await this.#release(lease.owner);
      }).catch(() => {
        // Left on disk; the next writer takes over a lock whose process is gone.
      });
    }, this.lingerMs);
    timer.unref(); // an exit does not wait for it: the exit hook releases what is kept
  }

  async #acquire(): Promise<BucketLockOwner> {
    const { fs } = this;
    const started = Date.now();
    const owner: BucketLockOwner = {
      pid: process.pid,
      host: hostname(),
      since: new Date().toISOString(),
      token: uniqueName(),
    };
    const pending = join(this.locksDir, `pending-${owner.token}`);
    await createInFolder(fs, pending, () => fs.mkdir(pending));
    let renamed = false;
    try {
      await fs.writeFile(join(pending, 'owner.json'), `${JSON.stringify(owner)}\n`);
      for (let attempt = 0; ; attempt++) {
        try {
          await fs.rename(pending, this.lockPath);
          renamed = true;
          return owner;
        } catch (error) {
          // A non-empty directory is in the way: someone holds the lock.
          if (!isErrno(error, 'EEXIST', 'ENOTEMPTY', 'ENOTDIR', 'EPERM')) throw error;
        }
        const holder = await this.#readHolder();
        if (holder === 'gone') continue;
        if (isStale(holder)) {
          await this.#takeOver(holder);
          continue;
        }
        const waited = Date.now() - started;
        if (waited > this.timeoutMs)
          throw new BucketLockedError(this.lockPath, holder.owner, waited);
        await sleep(Math.min(2 * 1.5 ** attempt, 50) * (0.5 + Math.random()));
      }
    } finally {
      if (!renamed) await fs.rm(pending, { recursive: true, force: true });
    }
  }

  async #release(owner: BucketLockOwner): Promise<void> {
    // Never remove a lock that is not ours (a hand-deleted one retaken by another writer).
    if ((await this.#readOwner())?.token !== owner.token) return;
    await this.#discard();
  }

  /** The owner recorded in the lock dir; `undefined` when there is none or it cannot be read. */
  async #readOwner(): Promise<BucketLockOwner | undefined> {
    try {
      return parseOwner(await this.fs.readFile(join(this.lockPath, 'owner.json'), 'utf8'));
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ENOTDIR')) return undefined;
      throw error;
    }
  }

  async #readHolder(): Promise<Holder | 'gone'> {
    let stats: { ino: number; mtimeMs: number };
    try {
      stats = await this.fs.stat(this.lockPath);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return 'gone';
      throw error;
    }
    const ageMs = Date.now() - stats.mtimeMs;
    let text: string;
    try {
      text = await this.fs.readFile(join(this.lockPath, 'owner.json'), 'utf8');
    } catch (error) {
      if (!isErrno(error, 'ENOENT', 'ENOTDIR')) throw error;
      return { id: `stat:${stats.ino}:${stats.mtimeMs}`, ageMs, owner: undefined };
    }
    const owner = parseOwner(text);
    return owner
      ? { id: owner.token, ageMs, owner }
      : { id: `stat:${stats.ino}:${stats.mtimeMs}`, ageMs, owner: undefined };
  }

  async #takeOver(stale: Holder): Promise<void> {
    // Only one process replaces a stale lock: the one that creates this directory.
    const guard = join(this.locksDir, 'takeover');
    try {
      await this.fs.mkdir(guard);
    } catch (error) {
      if (!isErrno(error, 'EEXIST')) throw error;
      const age = await this.#ageMs(guard);
      if (age > TAKEOVER_GUARD_STALE_MS) await this.fs.rm(guard, { recursive: true, force: true });
      else await sleep(10);
      return;
    }
    try {
      const now = await this.#readHolder();
      // A dead owner cannot release, and no one else can replace a held lock: same id, same lock.
      if (now !== 'gone' && now.id === stale.id) await this.#discard();
    } finally {
      await this.fs.rm(guard, { recursive: true, force: true });
    }
  }

  /** Moves the lock dir aside in one step, then deletes it at leisure. */
  async #discard(): Promise<void> {
    const aside = join(this.locksDir, `released-${uniqueName()}`);
    try {
      await this.fs.rename(this.lockPath, aside);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return;
      throw error;
    }
    try {
      // What a lock dir holds: its owner file. Anything else (a hand edit) falls to rm.
      await removeQuietly(this.fs, join(aside, 'owner.json'));
      await this.fs.rmdir(aside);
    } catch {
      await this.fs.rm(aside, { recursive: true, force: true });
    }
  }

  async #ageMs(path: string): Promise<number> {
    try {
      return Date.now() - (await this.fs.stat(path)).mtimeMs;
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return 0;
      throw error;
    }
  }
}

interface Holder {
  /** The owner's token, or the lock dir's identity when its owner cannot be read. */
  id: string;
  ageMs: number;
  owner: BucketLockOwner | undefined;
}

function parseOwner(text: string): BucketLockOwner | undefined {
  try {
    const value = JSON.parse(text) as Partial<BucketLockOwner>;
    return typeof value.pid === 'number' &&
      typeof value.host === 'string' &&
      typeof value.token === 'string'
      ? (value as BucketLockOwner)
      : undefined;
  } catch {
    return undefined;
  }
}

function isStale(holder: Holder): boolean {
  if (!holder.owner) return holder.ageMs > UNREADABLE_STALE_MS;
  const { pid, host } = holder.owner;
  // An owner on another host cannot be checked: wait for it, never steal.
  if (host !== hostname() || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return isErrno(error, 'ESRCH');
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
