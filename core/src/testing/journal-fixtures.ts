import type { JournalEventInput, ScanEntryPayload } from '../journal/events.js';
import { emptyRunReport, type RunReport } from '../report.js';

/** A manifest entry payload with plausible values; `seed` varies the content. */
export function scanEntry(seed: number, extra: Partial<ScanEntryPayload> = {}): ScanEntryPayload {
  return {
    kind: 'file',
    size: 100 + seed,
    mtimeMs: 1_760_000_000_000 + seed * 1000.5,
    hash: hex(seed),
    ino: String(1000 + seed),
    ctimeMs: 1_760_000_000_000 + seed * 1000,
    ...extra,
  };
}

/** A 64-hex-digit string derived from `seed`, standing in for a SHA-256. */
export function hex(seed: number): string {
  return (seed >>> 0).toString(16).padStart(8, '0').repeat(8);
}

/** A run report with every count zero (and a guard verdict, so reports carry nested data). */
export function emptyReport(run: number, status: RunReport['status'] = 'in-sync'): RunReport {
  return {
    ...emptyRunReport(run, status),
    durationMs: 12,
    guards: [{ guard: 'incomplete-listing', verdict: 'pass' }],
  };
}

/** A run start for `pairId`. */
export function runStart(pairId: string, clientId = 'client-a') {
  return {
    pairId,
    clientId,
    mode: 'sync' as const,
    local: `/home/user/${pairId}`,
    remote: `s3://bucket/${pairId}`,
  };
}

/** The events of a complete, small sync run over three files. */
export function sampleRun(run: number): JournalEventInput[] {
  return [
    { kind: 'scan.added', run, path: 'notes/a.md', payload: scanEntry(1) },
    { kind: 'scan.added', run, path: 'notes/b.md', payload: scanEntry(2) },
    { kind: 'scan.added', run, path: 'z.md', payload: scanEntry(3) },
    {
      kind: 'scan.completed',
      run,
      payload: { complete: true, count: 3, digest: hex(99), hashed: 3, errors: [] },
    },
    {
      kind: 'listing.added',
      run,
      path: 'notes/b.md',
      payload: { size: 102, etag: '"e-b"', sha256: hex(2), versionId: null },
    },
    {
      kind: 'listing.completed',
      run,
      payload: { complete: true, pages: 1, count: 1, digest: hex(98), errors: [] },
    },
    {
      kind: 'plan.op',
      run,
      path: 'notes/a.md',
      payload: { index: 0, action: 'upload', row: 'local-changed', why: 'new locally' },
    },
    {
      kind: 'plan.op',
      run,
      path: 'notes/b.md',
      payload: {
        index: 1,
        action: 'adopt',
        row: 'both-new-same',
        why: 'same content on both sides',
      },
    },
    {
      kind: 'plan.completed',
      run,
      payload: {
        ops: 2,
        counts: { upload: 1, adopt: 1 },
        guards: [],
        blocked: null,
        digest: hex(97),
      },
    },
    { kind: 'op.started', run, path: 'notes/a.md', payload: { index: 0, action: 'upload' } },
    {
      kind: 'op.applied',
      run,
      path: 'notes/a.md',
      payload: {
        index: 0,
        action: 'upload',
        baseline: { hash: hex(1), size: 101, etag: '"e-a"', versionId: 'v1' },
        bytes: 101,
      },
    },
    {
      kind: 'op.applied',
      run,
      path: 'notes/b.md',
      payload: { index: 1, action: 'adopt', baseline: { hash: hex(2), size: 102, etag: '"e-b"' } },
    },
  ];
}
