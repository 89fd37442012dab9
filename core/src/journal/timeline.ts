import type { Journal } from '../ports/journal.js';
import {
  type JournalEvent,
  type KeptCopy,
  keptVersions,
  type OpAppliedPayload,
  type OpFailedPayload,
  type RunMode,
  type TombstonePayload,
  unfinishedOps,
} from './events.js';
import type { RunRow } from './projections.js';

/** One line of a path's timeline: an event, which client's run wrote it, and what it says. */
export interface TimelineEntry {
  seq: number;
  run: number;
  /** The client whose run wrote the event (`null` if the run is unknown). */
  client: string | null;
  /** What that run was: a sync, a dry run (a plan shown), a check, a resolve or restore. */
  mode: RunMode | null;
  at: string;
  kind: JournalEvent['kind'];
  /** One human sentence. */
  text: string;
  /** The event kept a version this run deleted or replaced, which `restoreVersion` can bring back. */
  restorable: boolean;
}

/**
 * The timeline of one path in a pair: every event about it, oldest first, each with
 * the client that wrote it and a sentence saying what happened — `syncjournal log` and
 * the browser's history view print the same thing. Several pair ids merge their
 * timelines (in a shared journal, every client's pair on the same bucket).
 */
export async function pathTimeline(
  journal: Journal,
  pairId: string | readonly string[],
  path: string,
): Promise<TimelineEntry[]> {
  const pairIds = typeof pairId === 'string' ? [pairId] : pairId;
  const runs = new Map<number, RunRow>();
  const events: JournalEvent[] = [];
  for (const id of pairIds) {
    for (const r of await journal.runs({ pairId: id })) runs.set(r.run, r);
    events.push(...(await journal.events({ pairId: id, path })));
  }
  events.sort((a, b) => a.seq - b.seq);
  const unfinished = new Set<JournalEvent>(unfinishedOps(events));
  return events.map((e) => ({
    seq: e.seq,
    run: e.run,
    client: runs.get(e.run)?.clientId ?? null,
    mode: runs.get(e.run)?.mode ?? null,
    at: e.at,
    kind: e.kind,
    text:
      describeEvent(e) +
      // Ops are journaled as done a batch at a time: a killed run leaves only this.
      (unfinished.has(e) && runs.get(e.run)?.status === 'running'
        ? '; no outcome journaled: if the run was killed, `restore` finds what the op kept'
        : ''),
    restorable:
      (e.kind === 'op.applied' || e.kind === 'op.failed') &&
      keptSomewhere(e.payload as Partial<OpAppliedPayload & OpFailedPayload>),
  }));
}

/** What one journal event says, in a sentence. */
export function describeEvent(e: JournalEvent): string {
  const p = e.payload as Record<string, unknown>;
  switch (e.kind) {
    case 'scan.added':
    case 'scan.changed':
      return `local ${short(p.hash)} ${p.size} B`;
    case 'listing.added':
    case 'listing.changed':
      return `remote ${p.etag} ${p.size} B${p.sha256 ? ` sha256 ${short(p.sha256)}` : ''}`;
    case 'scan.removed':
      return 'gone locally';
    case 'listing.removed':
      return 'gone remotely';
    case 'plan.op':
      return `${p.action} [${p.row}]: ${p.why}`;
    case 'op.applied': {
      const a = p as unknown as OpAppliedPayload;
      const parts = [`${a.action} applied`];
      if (a.baseline) parts.push(`base now ${short(a.baseline.hash)}`);
      if (a.tombstone)
        parts.push(`deleted on the ${a.tombstone.side} side; kept at ${where(a.tombstone)}`);
      if (a.replaced) parts.push(`replaced version kept at ${where(a.replaced)}`);
      return parts.join('; ');
    }
    case 'op.failed': {
      const keptAt = keptVersions(p as Partial<OpFailedPayload>)
        .map((k) => `; kept before it failed at ${where(k)}`)
        .join('');
      return `failed: ${(p.error as { message?: string })?.message ?? ''}${keptAt}`;
    }
    case 'op.started':
      return `${p.action} started`;
    case 'op.skipped':
      return `skipped: ${p.reason ?? ''}`;
    case 'conflict.recorded':
      return `conflict (${p.kind}): ${(p.kept as KeptCopy[]).map((k) => `${k.side} at ${k.trash ?? k.path}`).join(', ')}`;
    case 'conflict.resolved': {
      const kept = (p.kept as KeptCopy[]).filter((k) => k.trash);
      return `resolved: ${p.resolution}${kept.length ? `; ${kept.map((k) => `the ${k.side} version kept in the trash at ${k.trash}`).join(', ')}` : ''}`;
    }
    default:
      return '';
  }
}

function keptSomewhere(p: Partial<OpAppliedPayload & OpFailedPayload>): boolean {
  return keptVersions(p).some((k) => !!k.trash || !!k.versionId);
}

const short = (h: unknown) => (typeof h === 'string' ? `${h.slice(0, 10)}…` : '—');

function where(t: TombstonePayload): string {
  return t.trash ?? (t.versionId ? `bucket version ${t.versionId}` : 'nowhere (no copy was kept)');
}
