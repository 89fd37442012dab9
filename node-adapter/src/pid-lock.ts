import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { SyncJournalError } from '@syncjournal/core';

/** Who holds a {@link PidLock}, as written in the lock file. */
export interface LockHolder {
  pid: number;
  host: string;
  since: string;
  purpose: string;
  /**
   * Names this taking of the lock, so a process whose pid is the one in the file can
   * tell its own lock from one left by an earlier process with the same pid (a
   * container restarted with the same hostname runs as pid 1 again). Absent in locks
   * written before it was added.
   */
  token?: string;
}

/** The lock is held by a live process (or one on another host, which we cannot check). */
export class LockHeldError extends SyncJournalError {
  constructor(
    readonly path: string,
    readonly holder: LockHolder,
  ) {
    super(
      'lock-held',
      `${holder.purpose} is locked by pid ${holder.pid} on ${holder.host} since ${holder.since}. ` +
        `Nothing was changed. Wait for it to finish; if no such process is running (on another host, or a host since renamed), delete ${path}.`,
      { path, holder },
    );
  }
}

const TAKEOVER_STALE_MS = 10_000;

/** The tokens of the locks this process holds now. */
const heldHere = new Set<string>();

/**
 * A lock file that survives crashes: it names the holder's pid and host, so a lock
 * left by a dead process is taken over at once, while a live holder is refused.
 * Staleness is judged by liveness, not by age, so a long run never loses its lock
 * and a killed run never blocks the next one.
 */
export class PidLock {
  #released = false;
  private constructor(
    readonly path: string,
    readonly holder: LockHolder,
  ) {}

  /** Takes the lock or throws {@link LockHeldError}. */
  static async acquire(path: string, purpose: string): Promise<PidLock> {
    const holder: LockHolder = {
      pid: process.pid,
      host: hostname(),
      since: new Date().toISOString(),
      purpose,
      token: randomUUID(),
    };
    const content = `${JSON.stringify(holder)}\n`;
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        await writeFile(path, content, { flag: 'wx' });
        heldHere.add(holder.token!);
        return new PidLock(path, holder);
      } catch (error) {
        if (!isCode(error, 'EEXIST')) throw error;
      }
      const existing = await readHolder(path);
      if (existing === 'gone') continue;
      if (existing !== 'unreadable' && isAlive(existing)) throw new LockHeldError(path, existing);
      if (existing === 'unreadable' && (await beingWritten(path))) {
        // A holder may be between creating and writing the file; give it a moment.
        await sleep(20);
        continue;
      }
      await takeOver(path, existing);
    }
    throw new SyncJournalError('lock-contended', `Could not take ${path}: it kept changing hands.`);
  }

  /**
   * Whether a live process (or one on another host, which cannot be checked) holds the
   * lock at `path` now; false when it is free or left by a process that died. Takes nothing.
   */
  static async isHeld(path: string): Promise<boolean> {
    const holder = await readHolder(path);
    if (holder === 'gone') return false;
    // A holder may be between creating and writing the file (as in acquire).
    if (holder === 'unreadable') return beingWritten(path);
    return isAlive(holder);
  }

  /** Releases the lock; safe to call twice. */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    heldHere.delete(this.holder.token!);
    const current = await readHolder(this.path);
    if (current !== 'gone' && current !== 'unreadable' && current.token === this.holder.token) {
      await unlink(this.path).catch(() => {});
    }
  }
}

async function takeOver(path: string, stale: LockHolder | 'unreadable'): Promise<void> {
  // Only one process may replace a stale lock: the one that creates this directory.
  const guard = `${path}.takeover`;
  try {
    await mkdir(guard);
  } catch (error) {
    if (!isCode(error, 'EEXIST')) throw error;
    if ((await ageMs(guard)) > TAKEOVER_STALE_MS) await rmdir(guard).catch(() => {});
    else await sleep(20);
    return;
  }
  try {
    const now = await readHolder(path);
    const same =
      now === stale ||
      (now !== 'gone' &&
        now !== 'unreadable' &&
        stale !== 'unreadable' &&
        now.pid === stale.pid &&
        now.since === stale.since);
    if (same) await unlink(path).catch(() => {});
  } finally {
    await rmdir(guard).catch(() => {});
  }
}

/** The holder a lock file (or a file written like one) names; `'gone'` when there is none. */
export async function readHolder(path: string): Promise<LockHolder | 'gone' | 'unreadable'> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (isCode(error, 'ENOENT')) return 'gone';
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as LockHolder;
    return typeof parsed.pid === 'number' ? parsed : 'unreadable';
  } catch {
    return 'unreadable';
  }
}

/**
 * Whether the process `holder` names still runs: on another host it cannot be checked,
 * and counts as alive; a pid reused by a process started later does not.
 */
export function isAlive(holder: LockHolder): boolean {
  // A process on another host cannot be checked: treat it as alive (refuse, never steal).
  if (holder.host !== hostname()) return true;
  // This pid is this process: the lock is live only if this process took it.
  if (holder.pid === process.pid) return holder.token !== undefined && heldHere.has(holder.token);
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    return !isCode(error, 'ESRCH');
  }
  // A live process with that pid: the holder, unless it started after the lock was taken
  // (the pid was reused by a later process).
  const started = processStartMs(holder.pid);
  const since = Date.parse(holder.since);
  return started === undefined || Number.isNaN(since) || started <= since + START_SLACK_MS;
}

/** How far a process's start time, read from /proc in clock ticks, may be off. */
const START_SLACK_MS = 2_000;

/**
 * When the process `pid` started (ms since the epoch), from Linux's /proc; undefined
 * where that cannot be read or trusted (another OS, or a clock-tick rate other than the
 * 100 per second assumed here, which this process's own start time checks).
 */
function processStartMs(pid: number): number | undefined {
  const boot = bootTimeMs();
  if (boot === undefined) return undefined;
  const ticks = startTicks(pid);
  if (ticks === undefined) return undefined;
  return boot + ticks * 10;
}

let bootTime: number | null | undefined;

/** The boot time, once checked against this process's own start (else null: not trusted). */
function bootTimeMs(): number | undefined {
  if (bootTime === undefined) {
    bootTime = null;
    try {
      const line = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
      const self = startTicks(process.pid);
      if (line && self !== undefined) {
        const boot = Number(line[1]) * 1000;
        const selfStart = Date.now() - process.uptime() * 1000;
        if (Math.abs(boot + self * 10 - selfStart) < START_SLACK_MS) bootTime = boot;
      }
    } catch {
      // Not Linux, or no /proc: pids are judged by whether they run.
    }
  }
  return bootTime ?? undefined;
}

/** Field 22 of /proc/<pid>/stat: the start time in clock ticks after boot. */
function startTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    return Number.isFinite(ticks) ? ticks : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a holder file that cannot be read may still be being written: one created
 * and then written (not renamed into place whole) is empty for a moment. An older one
 * was left half-written and can be removed.
 */
export async function beingWritten(path: string): Promise<boolean> {
  return (await ageMs(path)) < 2000;
}

async function ageMs(path: string): Promise<number> {
  try {
    return Date.now() - (await stat(path)).mtimeMs;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

function isCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
