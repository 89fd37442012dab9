import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// scripts/compare-safety.mjs runs every team scenario against syncjournal and Debian's rclone
// bisync (scripts/setup.sh installs it). It takes a minute or two: most of it is syncjournal's
// ~2 s per CLI run (a new process opening its journal), about forty of them.
const root = new URL('../../', import.meta.url).pathname;
const script = join(root, 'scripts', 'compare-safety.mjs');

interface ToolResult {
  verdict: string;
  error?: string;
  lostLive: string[];
  lostOld: string[];
}

interface ScenarioResult {
  id: string;
  varies: boolean;
  tools: Record<string, ToolResult>;
}

let dir: string;
let results: ScenarioResult[];
let generatedDoc: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'compare-safety-test-'));
  const out = join(dir, 'comparison.md');
  const json = join(dir, 'results.json');
  const run = await node([script, '--out', out, '--json', json]);
  expect(run.code, run.stderr).toBe(0);
  results = JSON.parse(await readFile(json, 'utf8')) as ScenarioResult[];
  generatedDoc = await readFile(out, 'utf8');
}, 300_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the safety comparison', () => {
  it('finds every version syncjournal was given, in every scenario', () => {
    expect(results.length).toBeGreaterThanOrEqual(16);
    for (const { id, tools } of results) {
      expect(tools.syncjournal, id).toBeDefined();
      const { error, lostLive, lostOld } = tools.syncjournal!;
      // Live versions (someone's latest word) and the ones users replaced or deleted alike:
      // each must be a file on a side, a conflict copy, or in a trash.
      expect({ id, error, lostLive, lostOld }).toEqual({
        id,
        error: undefined,
        lostLive: [],
        lostOld: [],
      });
    }
  });

  it('matches the table committed in docs/comparison.md, rows that depend on timing aside', async () => {
    const committed = await readFile(join(root, 'docs', 'comparison.md'), 'utf8');
    expect(tableRows(committed)).toEqual(tableRows(generatedDoc));
  });
});

/** The table rows between the comparison markers, without the ones marked "(varies)". */
function tableRows(doc: string): string[] {
  const start = doc.indexOf('<!-- comparison:start -->');
  const end = doc.indexOf('<!-- comparison:end -->');
  expect(start).toBeGreaterThanOrEqual(0);
  return doc
    .slice(start, end)
    .split('\n')
    .filter((line) => line.startsWith('| ') && !line.includes('(varies)'));
}

function node(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}
