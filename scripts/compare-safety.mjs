// npm run compare:safety: runs the team scenarios of the seeds' decision table against
// syncjournal and against Debian's rclone bisync, and writes what each kept or lost to
// docs/comparison.md (between the comparison markers). Assumes `npm run build` ran.
//
//   node scripts/compare-safety.mjs [--out FILE] [--json FILE] [--only ID,ID] [--jobs N] [--keep]
//
// --out FILE   write the updated doc there instead of docs/comparison.md (the test does)
// --json FILE  also write every result as JSON
// --only       run only these teams (ids from scripts/compare-safety/scenarios.mjs)
// --jobs N     teams run at once (default 2)
// --keep       keep the temp dir with every team's folders, state dirs and workdirs
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { renderResults } from './compare-safety/render.mjs';
import { teams } from './compare-safety/scenarios.mjs';
import { rcloneTool, syncjournalTool } from './compare-safety/tools.mjs';
import { evaluate, verdictOf } from './compare-safety/verdict.mjs';
import { World } from './compare-safety/world.mjs';

const START = '<!-- comparison:start -->';
const END = '<!-- comparison:end -->';
const docPath = new URL('../docs/comparison.md', import.meta.url).pathname;

const { values: options } = parseArgs({
  options: {
    out: { type: 'string' },
    json: { type: 'string' },
    only: { type: 'string' },
    jobs: { type: 'string', default: '2' },
    keep: { type: 'boolean', default: false },
  },
});

/**
 * Each tool with what a user gets by default, and rclone once more with the safety flags its
 * manual recommends (1.60 has no --conflict-resolve, --resilient or --backup-dir1/2).
 */
const tools = [
  syncjournalTool(),
  rcloneTool(),
  rcloneTool({
    id: 'rclone-safe',
    label: 'rclone bisync --check-access --max-delete 25',
    flags: ['--check-access', '--max-delete', '25'],
  }),
];

const log = (...args) => console.error('[compare-safety]', ...args);

async function main() {
  const started = Date.now();
  const versions = [`syncjournal ${tools[0].version()}`, tools[1].version()];
  const chosen = pickTeams(options.only);
  const root = await mkdtemp(join(tmpdir(), 'compare-safety-'));
  log(`${chosen.length} teams × ${tools.length} tools in ${root}`);
  try {
    for (const tool of tools) await tool.prepare(root);
    // The slowest team first, so the others fill in around it.
    const jobs = chosen
      .flatMap((team) => tools.map((tool) => ({ team, tool })))
      .sort((a, b) => Number(Boolean(b.team.varies)) - Number(Boolean(a.team.varies)));
    const outcomes = await runPool(jobs, Number(options.jobs), (job) => runJob(root, job));
    const results = chosen.flatMap((team) =>
      team.rows.map((row) => ({
        scenario: { ...row, varies: team.varies, team },
        byTool: Object.fromEntries(
          tools.map((tool) => {
            const outcome = outcomes.find((o) => o.job.team === team && o.job.tool === tool);
            return [tool.id, outcome.results[row.id]];
          }),
        ),
      })),
    );
    const seconds = Math.round((Date.now() - started) / 1000);
    const date = new Date().toISOString().slice(0, 10);
    const markdown = renderResults({ date, versions, seconds, tools, results });
    await writeDoc(markdown);
    if (options.json)
      await writeFile(options.json, `${JSON.stringify(summary(results), null, 2)}\n`);
    log(`done in ${seconds} s`);
    const failed = results.some(({ byTool }) => Object.values(byTool).some((r) => r.error));
    process.exitCode = failed ? 1 : 0;
  } finally {
    if (options.keep) log(`kept ${root}`);
    else await rm(root, { recursive: true, force: true });
  }
}

function pickTeams(only) {
  if (!only) return teams;
  const ids = only.split(',');
  const unknown = ids.filter((id) => !teams.some((t) => t.id === id));
  if (unknown.length > 0) throw new Error(`unknown team ${unknown.join(', ')}`);
  return teams.filter((t) => ids.includes(t.id));
}

/**
 * One team's runs for one tool in its own folder, then each of its rows judged. A failure of
 * the script itself is reported in the rows, not thrown.
 */
async function runJob(root, { team, tool }) {
  const t0 = Date.now();
  const world = new World(join(root, team.id, tool.id), tool);
  const results = {};
  try {
    await world.init();
    await team.run(world);
    for (const row of team.rows) {
      const result = await evaluate(world, row);
      result.verdict = verdictOf(result);
      result.killedAfter = world.killedAfter;
      results[row.id] = result;
      log(`${row.id} · ${tool.id}: ${result.verdict}`);
    }
    log(`${team.id} · ${tool.id} took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } catch (error) {
    log(`${team.id} · ${tool.id}: FAILED`, error);
    for (const row of team.rows) {
      results[row.id] = {
        error: error.message,
        verdict: `script error: ${error.message}`,
        steps: [],
      };
    }
  } finally {
    if (!options.keep) await rm(world.root, { recursive: true, force: true });
  }
  return results;
}

/** Runs `work` over `jobs`, `size` at a time, keeping each result with its job. */
async function runPool(jobs, size, work) {
  const outcomes = [];
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++];
      outcomes.push({ job, results: await work(job) });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, size) }, worker));
  return outcomes;
}

/** Replaces what is between the markers of docs/comparison.md; the prose around it stays. */
async function writeDoc(markdown) {
  const doc = await readFile(docPath, 'utf8');
  const start = doc.indexOf(START);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${docPath} lacks the ${START} … ${END} markers`);
  const updated = `${doc.slice(0, start + START.length)}\n${markdown}\n${doc.slice(end)}`;
  await writeFile(options.out ?? docPath, updated);
  log(`wrote ${options.out ?? docPath}`);
}

/** The JSON the test reads: per scenario and tool, the verdict and what was lost. */
function summary(results) {
  return results.map(({ scenario, byTool }) => ({
    id: scenario.id,
    team: scenario.team.id,
    title: scenario.title,
    varies: Boolean(scenario.varies),
    tools: Object.fromEntries(
      Object.entries(byTool).map(([id, r]) => [
        id,
        {
          verdict: r.verdict,
          error: r.error,
          lostLive: r.lostLive?.map((v) => `${v.path} ${v.label}`),
          lostOld: r.lostOld?.map((v) => `${v.path} ${v.label}`),
          cameBack: r.cameBack,
          conflictCopies: r.conflictCopies,
          converged: r.converged,
          runs: r.steps.map((s) => ({
            client: s.client,
            changed: s.changed,
            ms: s.ms,
            attempts: s.attempts.map(({ command, code, signal, outcome, message, followUp }) => ({
              command,
              code,
              signal,
              outcome,
              message,
              followUp,
            })),
          })),
        },
      ]),
    ),
  }));
}

await main();
