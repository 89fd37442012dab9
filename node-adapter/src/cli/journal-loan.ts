import { randomBytes } from 'node:crypto';
import { readdir, rename, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PostgresJournal } from '@syncjournal/journal-schema';
import { beingWritten, isAlive, type LockHolder, readHolder } from '../pid-lock.js';
import { openStateJournal, PairLockedError } from './session.js';
import type { StateDir } from './state-dir.js';

/**
 * The journal lent by a running `syncjournal watch` to a command that only reads it.
 *
 * A PGlite journal belongs to one process at a time, and `watch` holds it for as long as
 * it runs. A read-only command (status, history, log, …) that finds it held leaves a
 * request in the state dir, `journal.borrow.<pid>-<random>`, and tries again until it
 * gets the journal or {@link BORROW_WAIT_MS} pass. Between two syncs, `watch` sees a live
 * request, closes its journal, waits until no live request is left, and opens it again
 * (waiting while the borrower still has it). A request whose process died is ignored and
 * removed; one from another host is ignored (it cannot be checked).
 */
const REQUEST_PREFIX = 'journal.borrow.';

/** How long a read-only command waits for a journal another process holds. */
export const BORROW_WAIT_MS = 15_000;

/**
 * Opens the state dir's journal for a command that only reads it; when another process
 * holds it, asks for it and waits (see above), then fails with exit 5 as before.
 */
export async function borrowStateJournal(
  state: StateDir,
  options: { waitMs?: number; onWait?: (message: string) => void } = {},
): Promise<PostgresJournal> {
  const waitMs = options.waitMs ?? BORROW_WAIT_MS;
  try {
    return await openStateJournal(state);
  } catch (error) {
    // A shared journal on a server has no such lock; anything else is not ours to wait on.
    if (!(error instanceof PairLockedError) || state.sharedJournal) throw error;
  }
  options.onWait?.(
    `the journal is open in another syncjournal process; waiting up to ${waitMs / 1000} s for it (a running watch lends it between two syncs)…`,
  );
  const request = join(
    state.root,
    `${REQUEST_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`,
  );
  const holder: LockHolder = {
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
    purpose: 'A command that reads the journal',
  };
  // Written whole (renamed into place), so a watch never reads half of it.
  const temp = join(state.root, `.borrow-${randomBytes(6).toString('hex')}.tmp`);
  await writeFile(temp, JSON.stringify(holder));
  await rename(temp, request);
  try {
    const deadline = Date.now() + waitMs;
    for (;;) {
      await sleep(50);
      try {
        return await openStateJournal(state);
      } catch (error) {
        if (!(error instanceof PairLockedError)) throw error;
        if (Date.now() < deadline) continue;
        throw new PairLockedError(
          `${error.message} (A running syncjournal watch lends it between two syncs; it was not free within ${waitMs / 1000} s.)`,
        );
      }
    }
  } finally {
    await unlink(request).catch(() => {});
  }
}

/**
 * Whether a live process on this host is waiting to borrow the journal. Requests left
 * by processes that died are removed, and so are unreadable ones no longer being
 * written (a request written in place, not renamed, is empty for a moment).
 */
export async function borrowRequested(state: StateDir): Promise<boolean> {
  let live = false;
  for (const name of await readdir(state.root)) {
    if (!name.startsWith(REQUEST_PREFIX)) continue;
    const path = join(state.root, name);
    const holder = await readHolder(path).catch(() => 'unreadable' as const);
    if (holder === 'gone') continue;
    if (holder === 'unreadable') {
      if (!(await beingWritten(path))) await unlink(path).catch(() => {});
    } else if (holder.host === hostname()) {
      if (isAlive(holder)) live = true;
      else await unlink(path).catch(() => {});
    }
  }
  return live;
}

/**
 * Lends `journal` (the lender's) to the commands asking for it: closes it, waits until
 * no live request is left (at most as long as a borrower waits, and a little more), and
 * opens it again, waiting while a borrower still has it. `undefined` once `stopped`
 * says the lender no longer wants it back (a watch interrupted meanwhile).
 */
export async function lendStateJournal(
  state: StateDir,
  journal: PostgresJournal,
  stopped: () => boolean,
): Promise<PostgresJournal | undefined> {
  await journal.close();
  const until = Date.now() + BORROW_WAIT_MS + 5_000;
  while (!stopped() && Date.now() < until && (await borrowRequested(state))) await sleep(50);
  for (;;) {
    if (stopped()) return undefined;
    try {
      return await openStateJournal(state);
    } catch (error) {
      if (!(error instanceof PairLockedError)) throw error;
      await sleep(50);
    }
  }
}
