import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs module without types
import { renderComparison } from './render-comparison.mjs';

/**
 * The comparison bench, shrunk to a few files and one run of each, so its harness (peers,
 * trees, bytes moved, watch latency, profiles, rendering) cannot rot between bench runs.
 * It measures nothing worth reading; `npm run bench` runs it at full size.
 */
it('runs every tool through every scenario and renders the comparison', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sj-bench-smoke-'));
  try {
    const out = join(dir, 'results.json');
    await promisify(execFile)(
      process.execPath,
      [new URL('./compare.mjs', import.meta.url).pathname, '--out', out],
      {
        env: {
          ...process.env,
          BENCH_SIZES: '60',
          BENCH_REPEATS: '1',
          BENCH_MEDIA_FILES: '2',
          BENCH_MEDIA_MAX_MIB: '1',
          BENCH_S3_MAX_FILES: '60',
          BENCH_WATCH_FILES: '60',
          BENCH_WATCH_EDITS: '1',
          BENCH_NOOP_SERIES: '1',
          BENCH_WARM_NOOPS: '2',
        },
      },
    );
    const results = JSON.parse(await readFile(out, 'utf8'));
    const notes = results.trees[0];
    expect(notes.files).toBe(60);
    expect(Object.keys(notes.scenarios.initial).sort()).toEqual([
      'rclone',
      'rclone-s3',
      'syncjournal',
      'syncjournal-s3',
      'unison',
    ]);
    // Every tool moved the whole tree on its first run, and nothing on the no-op.
    for (const tool of ['syncjournal', 'rclone', 'unison', 'syncjournal-s3']) {
      expect(notes.scenarios.initial[tool].bytesMoved).toBe(notes.bytes);
      expect(notes.scenarios.noop[tool].bytesMoved).toBe(0);
      expect(notes.scenarios.noopAgain[tool].bytesMoved).toBe(0);
    }
    expect(notes.watch.syncjournal.latenciesMs).toHaveLength(1);
    expect(notes.profileInitial.areas.length).toBeGreaterThan(0);
    // The main thread's profile (where the journal works), and the walk's worker beside it.
    expect(notes.profileInitial.areas.map((a: { name: string }) => a.name).join()).toContain(
      'journal',
    );
    expect(notes.profileInitial.worker.totalMs).toBeGreaterThan(0);
    // A no-op run appends five events (run, scan, listing and plan summaries, the report).
    expect(notes.journalGrowth).toMatchObject({ runs: 1, eventsPerRun: 5 });
    expect(notes.journalGrowth.rowsPerRunBytes).toBeGreaterThan(1000);
    // Two no-ops timed by a running watch, after the sync that opened its journal.
    expect(notes.warmNoop.durationsMs).toHaveLength(2);
    for (const ms of notes.warmNoop.durationsMs) expect(ms).toBeGreaterThan(0);
    expect(results.trees[1]).toMatchObject({ kind: 'media', files: 2 });
    const markdown: string = renderComparison(results);
    expect(markdown).toContain('### notes-like, 60 files');
    expect(markdown).toContain('| no-op sync, run again | syncjournal → folder bucket |');
    expect(markdown).toContain('| watch mode: an edit is in the bucket ≤ 1 s after save');
    expect(markdown).toMatch(/the journal grows < 5 KB per no-op run .* the 5 events and run row/);
    expect(markdown).toMatch(
      /No-ops with the journal already open, 60 files: `syncjournal watch --interval 1` synced the settled pair 2 more times/,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}, 600_000);
