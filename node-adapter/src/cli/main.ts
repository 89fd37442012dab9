import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { redact } from '../open-journal.js';
import {
  conflictsCommand,
  historyCommand,
  journalCommand,
  reportCommand,
  statusCommand,
} from './commands/inspect.js';
import {
  auditCommand,
  checkCommand,
  forgetCommand,
  logCommand,
  resolveCommand,
  restoreCommand,
} from './commands/maintain.js';
import { type SyncFlags, syncCommand } from './commands/sync.js';
import { watchCommand } from './commands/watch.js';
import { EXIT } from './exit-codes.js';
import { journalBackupCommand, journalRestoreCommand } from './journal-backup.js';
import { UsageError } from './open-pair.js';
import { consoleOutput, type Output, reportError } from './output.js';
import { PairLockedError } from './session.js';
import { StateDir } from './state-dir.js';
import { baselineWasmOnly } from './wasm-tier.js';

const version = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

/** Builds the `syncjournal` program; `run` reports the exit code through `done`. */
export function buildProgram(done: (code: number) => void): Command {
  const program = new Command('syncjournal')
    .description(
      'Two-way sync between a local folder and an S3-compatible bucket, journaled in Postgres.',
    )
    .version(version)
    .option(
      '--state-dir <dir>',
      'where config, journal, trash and locks live (default: $SYNCJOURNAL_HOME or ~/.syncjournal)',
    )
    .option(
      '--journal <url>',
      'use (and remember in the state dir) a shared journal on a PostgreSQL server: postgres://user:pass@host/db (or $SYNCJOURNAL_JOURNAL, not remembered)',
    )
    .option('--json', 'print exactly one JSON object on stdout')
    .option('--verbose', 'show stack traces on errors')
    .showHelpAfterError()
    .exitOverride()
    .hook('preAction', async (_program, action) => {
      if (action.name() !== 'watch') baselineWasmOnly();
      // --journal is remembered, so later commands of this state dir use the same journal.
      const { journal, stateDir } = program.opts<{ journal?: string; stateDir?: string }>();
      if (journal === undefined) return;
      if (!/^postgres(ql)?:\/\//.test(journal)) {
        throw new UsageError(`--journal takes a postgres:// URL, not "${redact(journal)}".`);
      }
      const state = await StateDir.open(StateDir.locate(stateDir));
      await state.update((config) => {
        config.journal = journal;
      });
    });

  const run = (fn: (output: Output) => Promise<number>) => async () => {
    const output = consoleOutput(program.opts());
    try {
      done(await fn(output));
    } catch (error) {
      reportError(output, error);
      done(
        error instanceof UsageError
          ? EXIT.usage
          : error instanceof PairLockedError
            ? EXIT.locked
            : EXIT.failed,
      );
    }
  };
  const global = () => program.opts<{ stateDir?: string }>();

  program
    .command('sync')
    .description(
      'sync a pair (the first run creates and remembers it); with no arguments, every remembered pair',
    )
    .argument('[local]', 'the local folder')
    .argument('[remote]', 'the remote: s3://bucket/prefix, file:///dir, or a folder path')
    .option('--dry-run', 'print the plan with the reason for each operation; apply nothing')
    .addOption(
      new Option(
        '--profile <profile>',
        'delete limits: safe (10), balanced (25), fast (50)',
      ).choices(['safe', 'balanced', 'fast']),
    )
    .option('--max-delete <n>', 'block the run if it would delete more than n files')
    .option('--force', 'apply deletes above the limits (never against an emptied side)')
    .option(
      '--allow-empty',
      'one side was emptied on purpose: apply the deletes that carry that to the other side (an unmounted drive or a wrong prefix looks the same, so this is never implied by --force)',
    )
    .option(
      '--exclude <glob...>',
      'leave paths matching these gitignore-style patterns alone on both sides',
    )
    .option('--include <glob...>', 'sync only paths matching these patterns')
    .option('--ignore-file <file>', 'read exclude patterns from a file in gitignore syntax')
    .addOption(
      new Option(
        '--conflict <policy>',
        'when both sides changed a file: keep-both (default; the local copy is kept beside it), or put one under the name and the other in the trash',
      ).choices(['keep-both', 'prefer-local', 'prefer-remote', 'newer']),
    )
    .option('--concurrency <n>', 'transfers in flight at once (default 4)')
    .option(
      '--client-id <id>',
      "this client's id in a new state dir, one name of letters, digits, '.', '_' or '-' (default: $SYNCJOURNAL_CLIENT_ID or a generated one); when the bucket holds a journal backup of that id, it is restored before the first sync",
    )
    .option(
      '--trash-retention-days <n>',
      "on a bucket without versioning: after each sync, delete this client's remote trash copies (.syncjournal/trash/<client-id>/) older than n days (remembered; default: keep them)",
    )
    .option(
      '--projects',
      "the root's top-level folders are projects (one sync for all; remembered): reports and status break down per project",
    )
    .option(
      '--backup-journal',
      "after the sync, back up the journal to the pair's bucket (.syncjournal/journals/<client-id>/, the last 7 kept)",
    )
    .action((local: string | undefined, remote: string | undefined, flags: SyncFlags) =>
      run((output) => syncCommand(local, remote, { ...flags, ...global() }, output))(),
    );

  program
    .command('status')
    .description('each pair: files in sync, last run, what the store can do, open conflicts')
    .action(() => run((output) => statusCommand(global(), output))());

  program
    .command('history')
    .description("this client's runs, newest first (a run killed before its end: interrupted)")
    .option('--limit <n>', 'how many runs (default 20)')
    .option('--all-clients', "every client's runs in the journal (a shared journal holds a team's)")
    .action((flags: { limit?: string; allClients?: boolean }) =>
      run((output) => historyCommand({ ...flags, ...global() }, output))(),
    );

  program
    .command('report')
    .description("one run's report")
    .argument('<run>', 'the run number (see history)')
    .action((runNo: string) => run((output) => reportCommand(runNo, global(), output))());

  const conflicts = program
    .command('conflicts')
    .description('open conflicts and where each kept version lives')
    .action(() => run((output) => conflictsCommand(global(), output))());
  conflicts
    .command('resolve')
    .description(
      'settle a conflict: keep the local version, the remote one, or both (the other goes to the trash)',
    )
    .argument('<path>', "the conflicted file (its full path, or relative to the pair's folder)")
    .addOption(
      new Option('--keep <version>', 'which version keeps the name')
        .choices(['local', 'remote', 'both'])
        .makeOptionMandatory(),
    )
    .option('--pair <id>', 'the pair, when the path alone does not say')
    .action((path: string, flags: { keep?: string; pair?: string }) =>
      run((output) => resolveCommand(path, { ...flags, ...global() }, output))(),
    );

  program
    .command('log')
    .description(
      'the timeline of one path across runs: who changed it, what was decided, where old versions went',
    )
    .argument('<path>', "the file (its full path, or relative to the pair's folder)")
    .option('--pair <id>', 'the pair, when the path alone does not say')
    .action((path: string, flags: { pair?: string }) =>
      run((output) => logCommand(path, { ...flags, ...global() }, output))(),
    );

  program
    .command('restore')
    .description(
      'bring back a version of a file that a run deleted or replaced, from the trash or a bucket version',
    )
    .argument('<path>', "the file (its full path, or relative to the pair's folder)")
    .option('--run <n>', 'the version that run deleted or replaced (default: the latest)')
    .option(
      '--as-of-run <n>',
      'instead, the file as run n left the bucket, read from the snapshot that run took (Tigris buckets with snapshots)',
    )
    .option('--pair <id>', 'the pair, when the path alone does not say')
    .action((path: string, flags: { run?: string; asOfRun?: string; pair?: string }) =>
      run((output) => restoreCommand(path, { ...flags, ...global() }, output))(),
    );

  program
    .command('check')
    .description(
      'compare both sides of every pair without transferring anything (exit 1 when they differ)',
    )
    .option('--pair <id>', 'only this pair')
    .action((flags: { pair?: string }) =>
      run((output) => checkCommand({ ...flags, ...global() }, output))(),
    );

  program
    .command('forget')
    .description(
      'stop syncing a pair (its folder moved for good, its bucket retired); deletes nothing: its runs stay in the journal, its trash where it is',
    )
    .argument('<pair>', 'the pair id, as syncjournal status shows it')
    .action((pairId: string) => run((output) => forgetCommand(pairId, global(), output))());

  program
    .command('watch')
    .description(
      'sync one pair whenever its folder changes, and every --interval seconds, until interrupted',
    )
    .option('--pair <id>', 'the pair to watch, when several are remembered')
    .option(
      '--interval <seconds>',
      'also sync this often, for changes on the remote side (default 30)',
    )
    .action((flags: { pair?: string; interval?: string }) =>
      run((output) => {
        const stop = new Promise<void>((resolve) => {
          process.once('SIGINT', () => resolve());
          process.once('SIGTERM', () => resolve());
        });
        return watchCommand({ ...flags, ...global() }, output, stop);
      })(),
    );

  program
    .command('audit')
    .description(
      "verify the hash chain and replay each run's journaled inputs: every plan must match what was recorded",
    )
    .argument('[run]', 'only this run')
    .action((runNo: string | undefined) =>
      run((output) => auditCommand(runNo, global(), output))(),
    );

  program
    .command('journal')
    .description(
      'verify the hash chain, rebuild the projections from events, export events as NDJSON, or back the journal up to the bucket and restore it (.syncjournal/journals/<client-id>/)',
    )
    .argument('<action>', 'verify | rebuild | export | backup | restore')
    .option('--keep <n>', 'backup: how many backups to keep in each bucket (default 7)')
    .option('--pair <id>', "backup: only to this pair's bucket (default: every remembered pair's)")
    .option(
      '--from <remote>',
      'restore: the bucket to restore from (default: the one remembered remote)',
    )
    .option('--key <key>', 'restore: this backup rather than the newest')
    .option(
      '--client-id <id>',
      "restore: whose backup, for a new state dir (default: $SYNCJOURNAL_CLIENT_ID); an existing state dir restores its own client's",
    )
    .action(
      (
        action: string,
        flags: { keep?: string; pair?: string; from?: string; key?: string; clientId?: string },
      ) =>
        run((output) => {
          if (action === 'backup') return journalBackupCommand({ ...flags, ...global() }, output);
          if (action === 'restore') return journalRestoreCommand({ ...flags, ...global() }, output);
          return journalCommand(action, global(), output);
        })(),
    );

  return program;
}

/** Runs the CLI with `argv` and resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  stopQuietlyWhenStdoutCloses();
  let code: number = EXIT.inSync;
  const finished = new Promise<void>((resolve) => {
    const program = buildProgram((c) => {
      code = c;
      resolve();
    });
    program
      .parseAsync(argv)
      .then(() => {
        // A command that printed help or version resolves without calling done.
        resolve();
      })
      .catch((error: unknown) => {
        if (error instanceof CommanderError) {
          code = error.exitCode === 0 ? EXIT.inSync : EXIT.usage;
        } else {
          reportError(consoleOutput({}), error);
          code = error instanceof UsageError ? EXIT.usage : EXIT.failed;
        }
        resolve();
      });
  });
  await finished;
  return code;
}

/**
 * A reader that stops early (`journal export | head`) closes the pipe; every later write
 * fails with EPIPE, which Node would throw as an unhandled error with a stack trace.
 * Stop quietly instead, as other command-line tools do. Only read-only output is still
 * being written by then: a sync prints its report after its run is journaled.
 */
function stopQuietlyWhenStdoutCloses(): void {
  if (process.stdout.listenerCount('error') > 0) return;
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(EXIT.inSync);
    throw error;
  });
}
