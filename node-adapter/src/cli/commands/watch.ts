import { watch as watchFiles } from 'chokidar';
import { EXIT } from '../exit-codes.js';
import { borrowRequested, lendStateJournal } from '../journal-loan.js';
import { refuseNesting, UsageError } from '../open-pair.js';
import { formatReport, type Output } from '../output.js';
import { engineFor, withPairSession } from '../session.js';
import { StateDir } from '../state-dir.js';

/** How long to wait after the last file event before syncing (a save is often several events). */
const SETTLE_MS = 150;

/**
 * `syncjournal watch`: syncs one pair when its folder changes and every `--interval`
 * seconds (for the remote side), until interrupted. It holds the pair's lock the whole
 * time, and the journal except while it lends it, between two syncs, to a command that
 * reads it (`status`, `history`, …; see journal-loan.ts). With `--json`, one report per line.
 */
export async function watchCommand(
  flags: { stateDir?: string; pair?: string; interval?: string },
  output: Output,
  stop: Promise<void>,
): Promise<number> {
  const state = await StateDir.open(StateDir.locate(flags.stateDir));
  const pairs = flags.pair
    ? state.config.pairs.filter((p) => p.id === flags.pair)
    : state.config.pairs;
  if (pairs.length !== 1) {
    throw new UsageError(
      pairs.length === 0
        ? 'No pair to watch: sync a folder first (syncjournal sync <local> <remote>), or check --pair.'
        : 'Several pairs are remembered: say which to watch with --pair <id> (see syncjournal status).',
    );
  }
  const intervalMs = Number(flags.interval ?? 30) * 1000;
  if (!Number.isFinite(intervalMs) || intervalMs < 1000)
    throw new UsageError('--interval needs a number of seconds, at least 1.');
  const pair = pairs[0]!;
  await refuseNesting(pair.local, pair.remote, state.root, { pairId: pair.id });
  let worst: number = EXIT.inSync;
  await withPairSession(pair, state, false, async (session) => {
    // Opening while the first sync walks the folder and lists the bucket (as a sync does).
    let journal = session.journal;
    let engine = engineFor(session, state, {});
    let running: Promise<void> | undefined;
    let again = false;
    let stopping = false;
    let fail: (error: unknown) => void = () => {};
    const failed = new Promise<never>((_, reject) => {
      fail = reject;
    });
    failed.catch(() => {}); // raced with `stop` below; never an unhandled rejection
    const syncNow = async (): Promise<void> => {
      if (running) {
        again = true;
        return running;
      }
      running = (async () => {
        do {
          again = false;
          const { report } = await engine.sync();
          if (report.status === 'failed' || report.status === 'blocked') worst = EXIT.failed;
          if (output.json) output.out(JSON.stringify(report));
          else
            for (const line of formatReport(report, `${pair.local} ⇄ ${pair.remote}`))
              output.out(line);
        } while (again);
      })().finally(() => {
        running = undefined;
      });
      return running;
    };
    // Between two syncs, lend the journal to a command that asks to read it
    // (journal-loan.ts): close it, wait until no one asks, open it again.
    const lend = () => {
      running = (async () => {
        const reclaimed = await lendStateJournal(state, await journal, () => stopping);
        if (!reclaimed) return; // stopped meanwhile (Ctrl-C): closed, and staying so
        journal = Promise.resolve(reclaimed);
        engine = engineFor({ ...session, journal }, state, {});
      })()
        .catch(fail)
        .finally(() => {
          running = undefined;
          if (again && !stopping) void syncNow();
        });
    };
    const asked = setInterval(() => {
      if (running || stopping) return;
      void borrowRequested(state).then((yes) => {
        if (yes && !running && !stopping) lend();
      }, fail);
    }, 100);
    let timer: NodeJS.Timeout | undefined;
    const soon = () => {
      clearTimeout(timer);
      timer = setTimeout(() => void syncNow(), SETTLE_MS);
    };
    // Watch first, then sync: a file saved while the first sync runs (or right after
    // it reports) is seen, instead of waiting for the interval.
    const watcher = watchFiles(pair.local, {
      ignoreInitial: true,
      // Our own atomic-write temp files are not user changes.
      ignored: (path: string) => path.includes('.syncjournal-tmp-'),
    });
    watcher.on('all', soon);
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    await syncNow();
    const tick = setInterval(() => void syncNow(), intervalMs);
    if (!output.json)
      output.err(
        `watching ${pair.local} (and the remote every ${intervalMs / 1000} s); Ctrl-C stops`,
      );
    try {
      await Promise.race([stop, failed]);
    } finally {
      stopping = true;
      clearInterval(tick);
      clearInterval(asked);
      clearTimeout(timer);
      await watcher.close();
      await running;
      // The session closes the journal it opened; one opened again after a loan is ours.
      await (await journal.catch(() => undefined))?.close();
    }
  });
  return worst;
}
