/**
 * Every command shown in README.md and docs/*.md runs here, so the docs cannot go stale.
 *
 * Each page's fenced shell blocks (sh, bash, shell, zsh, console) run in order, as a
 * reader would type them, in a sandbox (doc-sandbox.ts): a temp home folder, the built
 * CLI as `syncjournal` and `npx syncjournal`, an S3 test server per page, and a database
 * on the test PostgreSQL server when the page names one. Comments a reader does not see
 * give what the page assumes (`<!-- doc-test setup: … -->`) and what it promises
 * (`exit`, `expect`, an `output` block); doc-blocks.ts lists them. A shell block is
 * either run or named, command by command, in RUN_ELSEWHERE with where it does run; a
 * block that is neither fails the test.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { S3_TEST_CORS_RULE, startS3TestServer } from '../test-support/s3-test-server.js';
import {
  blockCommands,
  type DocBlock,
  directiveValues,
  docBlocks,
  hasDirective,
  SHELL_LANGUAGES,
  unlabeledCommandBlocks,
} from './doc-blocks.js';
import { DocSandbox, ROOTED_FOLDERS, type ShellResult, type Substitution } from './doc-sandbox.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));

/** README.md and every page in docs/. */
const PAGES = [
  'README.md',
  ...readdirSync(join(repo, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`),
];

/**
 * What the harness changes in a command (and a setup) before running it, in this
 * order; docs/development.md says the same in a sentence.
 */
const SUBSTITUTIONS: Substitution[] = [
  {
    what: 'A postgres:// URL is a database created for the page on the test PostgreSQL server.',
    pattern: /postgres(?:ql)?:\/\/[^\s'"]+/g,
    replace: (places) => {
      if (!places.postgresUrl) throw new Error('this page has no test database');
      return places.postgresUrl;
    },
  },
  {
    what: 'An S3 endpoint (Tigris, R2, MinIO…) is the page’s S3 test server.',
    pattern: /\b(AWS_ENDPOINT_URL(?:_S3)?=)\S+/g,
    replace: (places, name = '') => `${name}${places.s3Url}`,
  },
  {
    what: 'An elided secret (…) is the word "test": the test server takes any credentials.',
    pattern: /…/g,
    replace: () => 'test',
  },
  {
    what: 'An absolute path under /srv, /data or /mnt is that folder inside the sandbox.',
    pattern: new RegExp(`(^|[\\s='"(]|file://)/(${ROOTED_FOLDERS.join('|')})(?=[/\\s'"]|$)`, 'gm'),
    replace: (places, before = '', folder = '') => `${before}${places.root}/${folder}`,
  },
];

/**
 * The cache where openJournal keeps its template of a new journal, shared by every page
 * and host of this run as by the pages a reader tries on one machine: it makes a new
 * state dir's journal quick to create, and changes nothing in what the journal holds.
 */
const machineCache = mkdtempSync(join(tmpdir(), 'syncjournal-docs-cache-'));
afterAll(() => rm(machineCache, { recursive: true, force: true }));

/**
 * The environment every page starts from (besides HOME and PATH): nothing of the
 * developer's own AWS_* or SYNCJOURNAL_* settings leaks in.
 */
function baseEnv(s3Url: string): Record<string, string> {
  return {
    NO_COLOR: '1',
    LANG: 'C.UTF-8',
    XDG_CACHE_HOME: machineCache,
    // An example for AWS S3 itself names no endpoint; it reaches the test server too.
    AWS_ENDPOINT_URL_S3: s3Url,
    // The test server answers path-style requests only (Tigris, R2 and AWS take both).
    SYNCJOURNAL_S3_FORCE_PATH_STYLE: '1',
    AWS_EC2_METADATA_DISABLED: 'true',
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
  };
}

/** A command that does not run inside this test: where it does run, and the check that it does. */
interface RunElsewhere {
  where: string;
  check: () => Promise<void>;
}

/**
 * The commands of the docs that this test does not run, keyed by the command as shown
 * (one line, comment dropped). Keep it small: everything else runs for real.
 */
const RUN_ELSEWHERE: Record<string, RunElsewhere> = {
  'npm ci && npm run demo': {
    where:
      '`npm ci` reinstalls the node_modules this test runs from: CI runs it (.ci/run → ' +
      'scripts/setup.sh). `npm run demo` is `npm run build` (the first step of npm test) ' +
      'and then scripts/demo.mjs, which runs here, for real, with its folders in a temp dir.',
    check: async () => {
      await expectCiRunsNpmCi();
      await demoRuns();
    },
  },
  'bash scripts/setup.sh && npm test': {
    where: 'CI: .ci/run runs exactly these two on a fresh machine (npm test runs this test too).',
    check: async () => {
      const ci = await readFile(join(repo, '.ci/run'), 'utf8');
      expect(ci.split('\n')).toEqual(expect.arrayContaining(['bash scripts/setup.sh', 'npm test']));
    },
  },
  'npm ci && npm run demo:web': {
    where:
      '`npm ci`: CI (above). `npm run demo:web` serves until stopped: the e2e project ' +
      '(part of npm test) builds the same Vite config and drives the served demo in Chromium.',
    check: async () => {
      await expectCiRunsNpmCi();
      const scripts = await packageScripts();
      expect(scripts['demo:web']).toContain('--config web-adapter/demo/vite.config.ts');
      expect(await readRepo('web-adapter/demo/vite.config.ts')).toContain('demoViteConfig()');
      expect(await readRepo('web-adapter/e2e/build-demo.setup.ts')).toContain('demoViteConfig(');
      expect(scripts['test:browser']).toContain('--project e2e');
      expect(scripts.test).toContain('npm run test:browser');
    },
  },
  'aws s3api put-bucket-cors --bucket my-bucket --cors-configuration file://cors.json --endpoint-url https://fly.storage.tigris.dev':
    {
      where:
        'needs the AWS CLI (not installed by scripts/setup.sh) and a real bucket. The rule ' +
        'it sets, the JSON block before it, is the one the S3 test server applies in the browser tests.',
      check: async () => {
        const page = docBlocks('docs/browser.md', await readRepo('docs/browser.md'));
        const json = page.find((b) => b.lang === 'json' && b.body.includes('CORSRules'));
        const rule = (JSON.parse(json?.body ?? '{}') as { CORSRules: CorsRule[] }).CORSRules[0];
        expect(rule?.AllowedMethods).toEqual(S3_TEST_CORS_RULE.allowedMethods);
        expect(rule?.AllowedHeaders).toEqual(S3_TEST_CORS_RULE.allowedHeaders);
        expect(rule?.ExposeHeaders).toEqual(S3_TEST_CORS_RULE.exposeHeaders);
      },
    },
  'npm run build': {
    where:
      'npm test builds first (its first step). Run here it would empty and rewrite ' +
      'dist/bundle/ while the other pages, which run concurrently, start the CLI from it.',
    check: async () => {
      expect((await packageScripts()).test).toMatch(/^npm run build && /);
    },
  },
  'npm run compare:safety': {
    where:
      'node-adapter/test/compare-safety.test.ts (npm test) runs the same script into a temp ' +
      'file and checks the committed table; here it would rewrite docs/comparison.md.',
    check: async () => {
      expect((await packageScripts())['compare:safety']).toBe('node scripts/compare-safety.mjs');
      const test = await readRepo('node-adapter/test/compare-safety.test.ts');
      expect(test).toContain("join(root, 'scripts', 'compare-safety.mjs')");
      expect(test).toContain("readFile(join(root, 'docs', 'comparison.md')");
    },
  },
  'npm run test:property': {
    where: 'npm test (CI): the property suite takes a minute or more.',
    check: async () => {
      expect((await packageScripts()).test).toContain('npm run test:property');
    },
  },
  'npm run test:property -- --runs 10000': {
    where: 'by hand: a longer budget of the suite npm test runs (the script maps --runs).',
    check: () => expectPropertyScriptTakes('--runs', 'SYNCJOURNAL_PROPERTY_RUNS'),
  },
  'npm run test:property -- --seed 1170929974': {
    where: 'by hand: replays a seed a failure printed (the script maps --seed).',
    check: () => expectPropertyScriptTakes('--seed', 'SYNCJOURNAL_PROPERTY_SEED'),
  },
};

interface CorsRule {
  AllowedMethods: string[];
  AllowedHeaders: string[];
  ExposeHeaders: string[];
}

function readRepo(path: string): Promise<string> {
  return readFile(join(repo, path), 'utf8');
}

async function packageScripts(): Promise<Record<string, string>> {
  return (JSON.parse(await readRepo('package.json')) as { scripts: Record<string, string> })
    .scripts;
}

async function expectCiRunsNpmCi(): Promise<void> {
  expect((await readRepo('.ci/run')).split('\n')).toContain('bash scripts/setup.sh');
  expect(await readRepo('scripts/setup.sh')).toMatch(/^npm ci\b/m);
}

async function expectPropertyScriptTakes(flag: string, variable: string): Promise<void> {
  expect((await packageScripts())['test:property']).toBe('node scripts/test-property.mjs');
  const script = await readRepo('scripts/test-property.mjs');
  expect(script).toContain(`'${flag}'`);
  expect(script).toContain(variable);
}

/**
 * `npm run demo`, for real, with its folders in a temp dir: it must end in sync. Once.
 * Its build step is not run again here: rolldown empties dist/bundle/ before it writes it,
 * and the pages of this file run concurrently, so a CLI started by another page meanwhile
 * would find no bundle (a CI run failed so). `npm test` built it before the tests started.
 */
const demoRuns = once(async (): Promise<void> => {
  const demo = 'node scripts/demo.mjs';
  expect((await packageScripts()).demo).toBe(`npm run build --silent && ${demo}`);
  // The demo syncs to a folder bucket: the S3 endpoint is never called.
  const unused = 'http://127.0.0.1:9';
  const sandbox = await DocSandbox.create({
    repo,
    s3Url: unused,
    env: baseEnv(unused),
    substitutions: [],
  });
  try {
    const dir = join(sandbox.home, 'demo');
    const result = await sandbox.shell(`${demo} ${dir}`, { inRepo: true });
    expect(result.code, output(result)).toBe(0);
    expect(result.stdout).toMatch(/in sync \(run 1/);
    expect(result.stdout).toMatch(/4 file\(s\) in sync/);
    // "Edit a file in either folder and run it again: the edit syncs."
    const again = await sandbox.shell(
      `echo "an edit" >> ${dir}/notes/README.md && ${demo} ${dir}`,
      { inRepo: true },
    );
    expect(again.code, output(again)).toBe(0);
    expect(again.stdout).toMatch(/uploaded 1 · downloaded 0/);
    expect(again.stdout).toMatch(/in sync \(run 2/);
  } finally {
    await sandbox.cleanup();
  }
});

/** `fn` run once, however often it is called. */
function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => {
    result ??= fn();
    return result;
  };
}

function output(result: ShellResult): string {
  return `exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

/** What one step of a page does. */
type Step =
  | { kind: 'shell'; block: DocBlock; output: DocBlock | undefined }
  | { kind: 'elsewhere'; block: DocBlock; keys: string[] }
  | { kind: 'file'; block: DocBlock; name: string };

/** A page's steps, in order; throws where a page's directives do not fit its blocks. */
function pageSteps(blocks: readonly DocBlock[]): Step[] {
  const steps: Step[] = [];
  blocks.forEach((block, i) => {
    const where = `${block.page}:${block.line}`;
    const shell = SHELL_LANGUAGES.has(block.lang);
    if (hasDirective(block, 'output')) {
      const before = blocks[i - 1];
      if (!before || !SHELL_LANGUAGES.has(before.lang) || shell)
        throw new Error(`${where}: an output block must follow a shell block`);
      if (block.directives.length > 1)
        throw new Error(
          `${where}: an output block takes no other directive; put it on the commands`,
        );
      return;
    }
    const [name] = directiveValues(block, 'file');
    if (name !== undefined) {
      if (shell) throw new Error(`${where}: a file block holds a file, not commands`);
      steps.push({ kind: 'file', block, name });
      return;
    }
    if (!shell) {
      if (block.directives.length > 0)
        throw new Error(`${where}: doc-test directives on a block that is not run`);
      return;
    }
    const keys = blockCommands(block).map((c) => c.key);
    const elsewhere = keys.filter((k) => k in RUN_ELSEWHERE);
    if (elsewhere.length > 0) {
      if (elsewhere.length !== keys.length || block.directives.length > 0)
        throw new Error(`${where}: a block runs here or elsewhere, not both; split it`);
      steps.push({ kind: 'elsewhere', block, keys });
      return;
    }
    const next = blocks[i + 1];
    steps.push({
      kind: 'shell',
      block,
      output: next && hasDirective(next, 'output') ? next : undefined,
    });
  });
  return steps;
}

/** `NAME [versioning] [snapshots]` of every bucket directive, and every s3:// bucket named. */
function pageBuckets(blocks: readonly DocBlock[]): Map<string, Set<string>> {
  const buckets = new Map<string, Set<string>>();
  for (const block of blocks) {
    if (!SHELL_LANGUAGES.has(block.lang)) continue;
    const text = [block.body, ...directiveValues(block, 'setup')].join('\n');
    for (const m of text.matchAll(/s3:\/\/([a-z0-9][a-z0-9.-]+[a-z0-9])/g))
      if (m[1] && !buckets.has(m[1])) buckets.set(m[1], new Set());
    for (const value of directiveValues(block, 'bucket')) {
      const [name = '', ...features] = value.split(/\s+/);
      buckets.set(name, new Set(features));
    }
  }
  return buckets;
}

/** Each line the page shows must be in the output, in order; `…` stands for anything. */
function missingLines(shown: string, actual: string): string[] {
  const lines = actual.split('\n');
  let at = 0;
  const missing: string[] = [];
  for (const line of shown.split('\n')) {
    if (line.trim() === '') continue;
    const pattern = new RegExp(
      `^\\s*${line
        .trim()
        .split('…')
        .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\s+/g, '\\s+'))
        .join('.*')}\\s*$`,
    );
    const found = lines.findIndex((l, i) => i >= at && pattern.test(l));
    if (found === -1) missing.push(line);
    else at = found + 1;
  }
  return missing;
}

const ran = new Set<string>();
const pages = PAGES.map((page) => {
  const blocks = docBlocks(page, readFileSync(join(repo, page), 'utf8'));
  return { page, blocks, steps: pageSteps(blocks) };
});

/**
 * Pages run side by side, this many at a time (each is one reader's terminal, so its
 * blocks run in order); more would only queue on a small machine's cores.
 */
const PAGES_AT_ONCE = 2;
const pageSlots = slots(PAGES_AT_ONCE);

for (const { page, blocks, steps } of pages) {
  if (steps.length === 0) continue;
  describe(page, { concurrent: true }, () => {
    let sandbox: DocSandbox | undefined;
    let stopServer: () => Promise<void> = async () => {};
    let release: () => void = () => {};
    beforeAll(async () => {
      release = await pageSlots();
      const server = await startS3TestServer();
      stopServer = () => server.stop();
      for (const [name, features] of pageBuckets(blocks)) {
        if (features.has('snapshots')) await createSnapshotBucket(server.url, name);
        const bucket = server.bucket(name);
        if (features.has('versioning')) bucket.setVersioning('Enabled');
      }
      const namesPostgres = blocks.some((b) => /postgres(ql)?:\/\//.test(b.body));
      sandbox = await DocSandbox.create({
        repo,
        s3Url: server.url,
        ...(namesPostgres ? { postgresUrl: await freshDatabase(page) } : {}),
        env: baseEnv(server.url),
        substitutions: SUBSTITUTIONS,
      });
    }, 600_000);
    afterAll(async () => {
      await sandbox?.cleanup();
      await stopServer();
      release();
    });

    for (const step of steps) {
      const first = blockCommands(step.block)[0]?.key ?? step.block.lang;
      const what =
        step.kind === 'file'
          ? `saves ${step.name}`
          : step.kind === 'elsewhere'
            ? `${first} (runs elsewhere)`
            : first;
      const title = `${page}:${step.block.line} ${what}`;
      it.sequential(title.length > 110 ? `${title.slice(0, 109)}…` : title, {
        timeout: 180_000,
      }, async () => {
        await runStep(step, sandbox!);
        ran.add(`${page}:${step.block.line}`);
      });
    }

    it.sequential(`${page}: ran every shell block, here or where RUN_ELSEWHERE says`, () => {
      const shown = steps.filter((s) => s.kind !== 'file').map((s) => `${page}:${s.block.line}`);
      expect(shown.filter((id) => !ran.has(id))).toEqual([]);
    });
  });
}

/** A counting semaphore: the function it returns resolves to a `release` once a slot is free. */
function slots(count: number): () => Promise<() => void> {
  let free = count;
  const waiting: Array<() => void> = [];
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else free++;
  };
  return () =>
    new Promise((resolve) => {
      if (free > 0) {
        free--;
        resolve(release);
      } else waiting.push(() => resolve(release));
    });
}

async function runStep(step: Step, sandbox: DocSandbox): Promise<void> {
  const { block } = step;
  if (step.kind === 'file') {
    await sandbox.saveFile(step.name, block.body);
    return;
  }
  if (step.kind === 'elsewhere') {
    for (const key of step.keys) await RUN_ELSEWHERE[key]?.check();
    return;
  }
  if (hasDirective(block, 'new-host')) await sandbox.newHost();
  for (const setup of directiveValues(block, 'setup')) {
    const result = await sandbox.shell(sandbox.substitute(setup));
    expect(result.code, `setup failed: ${setup}\n${output(result)}`).toBe(0);
  }
  const commands = blockCommands(block);
  const script = block.lang === 'console' ? commands.map((c) => c.text).join('\n') : block.body;
  const [exit = '0'] = directiveValues(block, 'exit');
  if (exit !== '0' && commands.length !== 1)
    throw new Error(
      `${block.page}:${block.line}: a block that ends in exit ${exit} holds one command`,
    );
  const inRepo = directiveValues(block, 'cwd').includes('repo');
  const result = await sandbox.shell(sandbox.substitute(script), { inRepo });
  const seen = sandbox.readable(result.all);
  const context = `${block.page}:${block.line}\n${script}\n${output({ ...result, stdout: sandbox.readable(result.stdout), stderr: sandbox.readable(result.stderr) })}`;
  expect(result.code, context).toBe(Number(exit));
  for (const text of directiveValues(block, 'expect')) expect(seen, context).toContain(text);
  if (step.kind === 'shell' && step.output)
    expect(missingLines(step.output.body, seen), `lines the page shows\n${context}`).toEqual([]);
}

/** A Tigris-like bucket with snapshots: created with Tigris' header, as on Tigris. */
async function createSnapshotBucket(url: string, name: string): Promise<void> {
  const answer = await fetch(`${url}/${name}`, {
    method: 'PUT',
    headers: { 'x-tigris-enable-snapshot': 'true' },
  });
  if (!answer.ok) throw new Error(`could not create ${name}: ${answer.status}`);
}

/** A fresh database for a page on the test PostgreSQL server (scripts/test-postgres.ts). */
async function freshDatabase(page: string): Promise<string> {
  const serverUrl = inject('postgresUrl');
  const name = `syncjournal_docs_${page.replace(/\W/g, '_').toLowerCase()}_${process.pid}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${name}`);
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

describe('the docs harness', () => {
  it('names in RUN_ELSEWHERE only commands the docs show', () => {
    const shown = new Set(
      pages
        .flatMap(({ blocks }) =>
          blocks.filter((b) => SHELL_LANGUAGES.has(b.lang)).flatMap((b) => blockCommands(b)),
        )
        .map((c) => c.key),
    );
    expect(Object.keys(RUN_ELSEWHERE).filter((k) => !shown.has(k))).toEqual([]);
  });

  it('finds no unlabeled block that looks like commands', () => {
    const unlabeled = pages.flatMap(({ blocks }) => unlabeledCommandBlocks(blocks));
    expect(unlabeled.map((b) => `${b.page}:${b.line}`)).toEqual([]);
  });
});
