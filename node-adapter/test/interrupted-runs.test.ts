import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunRow } from '@syncjournal/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { interruptedRuns } from '../src/cli/commands/inspect.js';
import { PidLock } from '../src/pid-lock.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'interrupted-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

function run(n: number, pairId: string, status: RunRow['status'], clientId = 'me'): RunRow {
  return {
    run: n,
    pairId,
    clientId,
    mode: 'sync',
    local: '/l',
    remote: 'file:///r',
    startedAt: '2026-12-06T00:00:00.000Z',
    completedAt: status === 'running' ? null : '2026-12-06T00:00:01.000Z',
    status,
    startedSeq: n * 10,
  };
}

/** Own pairs' locks live in `dir`; pairs named `other-…` are another client's. */
const own = (r: RunRow) =>
  r.pairId.startsWith('other') ? undefined : join(dir, `${r.pairId}.lock`);

/** A lock file left by a process that has exited. */
async function deadLock(pairId: string): Promise<void> {
  const gone = spawnSync(process.execPath, ['-e', '0']).pid;
  const holder = { pid: gone, host: hostname(), since: 'earlier', purpose: 'a killed sync' };
  await writeFile(join(dir, `${pairId}.lock`), `${JSON.stringify(holder)}\n`);
}

describe('which runs the journal shows as running have stopped', () => {
  it('a run whose pair has a later run, whatever its lock says', async () => {
    const lock = await PidLock.acquire(join(dir, 'a.lock'), 'a sync now');
    try {
      const runs = [run(3, 'a', 'running'), run(2, 'a', 'running'), run(1, 'a', 'in-sync')];
      // 3 is running (its pair's lock is held by a live process); 2 was cut off by it.
      expect([...(await interruptedRuns(runs, own))]).toEqual([2]);
    } finally {
      await lock.release();
    }
  });

  it("this client's latest run, once no live process holds its pair's lock", async () => {
    await deadLock('a');
    const runs = [run(5, 'b', 'running'), run(4, 'a', 'running'), run(1, 'a', 'in-sync')];
    // b's lock file is gone (nobody holds it); the process named in a's has exited.
    expect([...(await interruptedRuns(runs, own))].sort()).toEqual([4, 5]);
  });

  it("not another client's latest run, which cannot be checked from here", async () => {
    const runs = [run(7, 'other-a', 'running', 'them'), run(6, 'other-a', 'running', 'them')];
    expect([...(await interruptedRuns(runs, own))]).toEqual([6]);
  });

  it('never a run that recorded its end', async () => {
    await deadLock('a');
    const runs = [run(9, 'a', 'in-sync'), run(8, 'a', 'conflicts'), run(7, 'a', 'failed')];
    expect(await interruptedRuns(runs, own)).toEqual(new Set());
  });
});
