import type { PlanOp, RunReport } from '@syncjournal/core';
import { SyncJournalError } from '@syncjournal/core';
import pc from 'picocolors';

/** Where the CLI writes: stdout for results, stderr for progress and messages. */
export interface Output {
  json: boolean;
  verbose: boolean;
  /** Progress bars and colour only on a terminal (colour also off with NO_COLOR). */
  tty: boolean;
  out(text: string): void;
  err(text: string): void;
}

export function consoleOutput(flags: { json?: boolean; verbose?: boolean }): Output {
  return {
    json: flags.json ?? false,
    verbose: flags.verbose ?? false,
    tty: Boolean(process.stderr.isTTY) && !flags.json,
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
  };
}

/** One human line per planned op: action, path, and why. */
export function formatPlan(plan: readonly PlanOp[]): string[] {
  if (plan.length === 0) return ['  nothing to do'];
  const width = Math.max(...plan.map((op) => op.action.length));
  return plan.map((op) => {
    const target = op.conflictPath ? `${op.path} (local copy kept as ${op.conflictPath})` : op.path;
    return `  ${op.action.padEnd(width)}  ${target}  ${pc.dim(`— ${op.why} [${op.row}]`)}`;
  });
}

/** The summary a person reads after a run. */
export function formatReport(report: RunReport, title: string): string[] {
  const lines = [pc.bold(title)];
  const moved = [
    `uploaded ${report.uploaded}`,
    `downloaded ${report.downloaded}`,
    `deleted ${report.deletedLocal} local / ${report.deletedRemote} remote`,
    `adopted ${report.adopted}`,
    `${formatBytes(report.bytes.up)} up, ${formatBytes(report.bytes.down)} down`,
  ];
  lines.push(`  ${moved.join(' · ')}`);
  for (const c of report.conflicts) {
    lines.push(
      `  ${pc.yellow('conflict')} ${c.path} (${c.kind}): kept ${c.kept.join(' and ') || 'both sides'}`,
    );
  }
  for (const g of report.guards) {
    if (g.verdict === 'limited' && g.reason) lines.push(`  ${pc.yellow('note')} ${g.reason}`);
  }
  if (report.leftOut) lines.push(`  ${pc.yellow('note')} ${leftOutNote(report.leftOut)}`);
  for (const e of report.errors)
    lines.push(`  ${pc.red('error')} ${e.path ? `${e.path}: ` : ''}${e.message}`);
  for (const [project, c] of Object.entries(report.projects ?? {})) {
    const parts = [
      c.uploaded && `↑${c.uploaded}`,
      c.downloaded && `↓${c.downloaded}`,
      (c.deletedLocal || c.deletedRemote) && `✕${c.deletedLocal}/${c.deletedRemote}`,
      c.adopted && `=${c.adopted}`,
      c.conflicts && pc.yellow(`${c.conflicts} conflict(s)`),
      c.errors && pc.red(`${c.errors} error(s)`),
    ].filter(Boolean);
    lines.push(
      `  ${project === '/' ? '(root files)' : project}: ${parts.join(' ') || 'nothing to do'}`,
    );
  }
  if (report.snapshot) lines.push(`  bucket snapshot ${report.snapshot} (as this run left it)`);
  const status =
    report.status === 'in-sync'
      ? pc.green('in sync')
      : report.status === 'conflicts'
        ? pc.yellow(`finished with ${report.conflicts.length} conflict(s): both versions kept`)
        : report.status === 'blocked'
          ? pc.red(`blocked by ${report.blocked?.guard}: ${report.blocked?.reason}`)
          : pc.red('finished with errors: run it again once the cause is fixed');
  lines.push(`  ${status} (run ${report.run}, ${(report.durationMs / 1000).toFixed(2)} s)`);
  return lines;
}

const LEFT_OUT_WHY = {
  symlink: 'symbolic link',
  special: 'special file',
  name: 'name not valid UTF-8',
} as const;

/** The left-out entries as one sentence: the first five by name, then how many more. */
function leftOutNote({ count, entries }: NonNullable<RunReport['leftOut']>): string {
  const named = entries.slice(0, 5).map((e) => `${e.path} (${LEFT_OUT_WHY[e.reason]})`);
  const more = count - named.length;
  return (
    `left out ${count} local ${count === 1 ? 'entry' : 'entries'} that cannot be synced, never followed, replaced or deleted: ` +
    `${named.join(', ')}${more > 0 ? `, and ${more} more (--json lists up to ${entries.length})` : ''}`
  );
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** An error as one clear sentence (plus the stack with --verbose), or as JSON. */
export function reportError(output: Output, error: unknown, about?: string): void {
  if (output.json) {
    output.out(JSON.stringify({ error: errorJson(error) }));
    return;
  }
  output.err(`${pc.red('syncjournal:')} ${about ? `${about}: ` : ''}${messageOf(error)}`);
  if (output.verbose && error instanceof Error && error.stack) output.err(pc.dim(error.stack));
  else if (!(error instanceof SyncJournalError))
    output.err(pc.dim('Run again with --verbose for details.'));
}

/** An error as `--json` shows it: `{ name, code, message, data }`. */
export function errorJson(error: unknown): Record<string, unknown> {
  if (error instanceof SyncJournalError) return { ...error.toJSON() };
  return { name: 'Error', code: 'error', message: messageOf(error), data: {} };
}

function messageOf(error: unknown): string {
  return (error as Error)?.message ?? String(error);
}
