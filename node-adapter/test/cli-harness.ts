import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import {
  type S3TestServer,
  type S3TestServerOptions,
  startS3TestServer,
} from '../test-support/s3-test-server.js';

const bin = new URL('../bin/syncjournal.js', import.meta.url).pathname;

/** The result of one CLI run. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout parsed, when it is JSON. */
  json: Record<string, unknown>;
}

/** Runs the built `syncjournal` CLI in a child process, as a user would. */
export function cli(
  args: string[],
  options: { env?: Record<string, string>; killAfterMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { ...process.env, NO_COLOR: '1', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    if (options.killAfterMs !== undefined)
      setTimeout(() => child.kill('SIGKILL'), options.killAfterMs);
    child.on('exit', (code, signal) => {
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(stdout) as Record<string, unknown>;
      } catch {}
      resolve({ code, signal, stdout, stderr, json });
    });
  });
}

/** The environment that points the CLI at a local S3 server (path-style, test keys). */
/** A command that runs until stopped (`watch`): its output so far, and a way to stop it. */
export function startCli(args: string[]) {
  const child = spawn(process.execPath, [bin, ...args], {
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (c: Buffer) => {
    output.stdout += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    output.stderr += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return {
    get stdout() {
      return output.stdout;
    },
    get stderr() {
      return output.stderr;
    },
    /** Interrupts it (SIGTERM, as Ctrl-C would) and resolves to its exit code. */
    stop(): Promise<number | null> {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Checks `what` every 50 ms until it holds or `ms` pass; whether it held. */
export async function until(what: () => Promise<boolean> | boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await what()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

export function s3TestEnv(endpoint: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_S3: endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    SYNCJOURNAL_S3_FORCE_PATH_STYLE: '1',
  };
}

/** A scratch area with helpers to make folders and read them back. */
export async function scratch() {
  const root = await mkdtemp(join(tmpdir(), 'syncjournal-cli-'));
  const path = (...p: string[]) => join(root, ...p);
  return {
    root,
    path,
    async write(file: string, text: string) {
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, text);
    },
    /** Every file under `dir` (relative path → text), skipping syncjournal's own. */
    async tree(dir: string): Promise<Record<string, string>> {
      const out: Record<string, string> = {};
      const walk = async (d: string) => {
        let entries: import('node:fs').Dirent[];
        try {
          entries = await readdir(d, { withFileTypes: true });
        } catch {
          return;
        }
        for (const e of entries) {
          const full = join(d, e.name);
          const rel = relative(dir, full);
          if (rel === '.syncjournal' || rel.startsWith('.syncjournal/')) continue;
          if (e.isDirectory()) await walk(full);
          else out[rel] = await readFile(full, 'utf8');
        }
      };
      await walk(dir);
      return out;
    },
    async exists(file: string) {
      return stat(file).then(
        () => true,
        () => false,
      );
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

let buckets = 0;

/**
 * An S3 test server for the enclosing `describe` (started once), a scratch area and a
 * fresh bucket per test, and `run(state, ...args)`: the CLI with `--state-dir <state>
 * --json` against that server.
 */
export function s3Fixture(options: S3TestServerOptions = {}) {
  let server: S3TestServer | undefined;
  let area: Awaited<ReturnType<typeof scratch>> | undefined;
  let bucket = '';
  beforeAll(async () => {
    server = await startS3TestServer(options);
  });
  afterAll(() => server?.stop());
  beforeEach(async () => {
    area = await scratch();
    bucket = `fixture${++buckets}x${Date.now()}`;
    server!.bucket(bucket);
  });
  afterEach(() => area?.cleanup());
  return {
    get server() {
      return server!;
    },
    get s() {
      return area!;
    },
    get bucket() {
      return bucket;
    },
    get env() {
      return s3TestEnv(server!.url);
    },
    run: (state: string, ...args: string[]) =>
      cli(['--state-dir', area!.path(state), '--json', ...args], { env: s3TestEnv(server!.url) }),
  };
}
