import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LockHeldError, PidLock } from '../src/pid-lock.js';

let dir: string;
let children: ChildProcess[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'syncjournal-pid-lock-'));
});
afterEach(async () => {
  for (const child of children) child.kill('SIGKILL');
  children = [];
  await rm(dir, { recursive: true, force: true });
});

const leave = (path: string, holder: Record<string, unknown>) =>
  writeFile(path, `${JSON.stringify({ purpose: 'an earlier run', ...holder })}\n`);

/** A live process that is not the lock's holder. */
async function sleeper(): Promise<number> {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  children.push(child);
  await new Promise((resolve) => child.once('spawn', resolve));
  return child.pid!;
}

describe('PidLock', () => {
  it('refuses a second taking in the same process, and is free once released', async () => {
    const path = join(dir, 'a.lock');
    const lock = await PidLock.acquire(path, 'The pair');
    await expect(PidLock.acquire(path, 'The pair')).rejects.toBeInstanceOf(LockHeldError);
    expect(await PidLock.isHeld(path)).toBe(true);
    await lock.release();
    expect(await PidLock.isHeld(path)).toBe(false);
    await (await PidLock.acquire(path, 'The pair')).release();
  });

  it('takes over a lock left by an earlier process with this pid on this host (a restarted container)', async () => {
    const path = join(dir, 'a.lock');
    // Written before locks carried a token, and with one this process never issued.
    for (const token of [undefined, 'not-mine']) {
      await leave(path, {
        pid: process.pid,
        host: hostname(),
        since: '2026-01-01T00:00:00Z',
        token,
      });
      expect(await PidLock.isHeld(path)).toBe(false);
      const lock = await PidLock.acquire(path, 'The pair');
      expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({ purpose: 'The pair' });
      await lock.release();
    }
  });

  it.runIf(process.platform === 'linux')(
    'takes over a lock whose pid now belongs to a process that started after it was taken',
    async () => {
      const path = join(dir, 'a.lock');
      const pid = await sleeper();
      await leave(path, { pid, host: hostname(), since: '2026-01-01T00:00:00Z' });
      expect(await PidLock.isHeld(path)).toBe(false);
      await (await PidLock.acquire(path, 'The pair')).release();
    },
  );

  it('refuses a lock held by a live process that started before it, and one from another host', async () => {
    const path = join(dir, 'a.lock');
    const pid = await sleeper();
    await leave(path, { pid, host: hostname(), since: new Date(Date.now() + 5_000).toISOString() });
    await expect(PidLock.acquire(path, 'The pair')).rejects.toBeInstanceOf(LockHeldError);
    await leave(path, { pid: 1, host: `not-${hostname()}`, since: '2026-01-01T00:00:00Z' });
    await expect(PidLock.acquire(path, 'The pair')).rejects.toThrow(
      new RegExp(`Nothing was changed\\. .*delete ${path}`),
    );
  });
});
