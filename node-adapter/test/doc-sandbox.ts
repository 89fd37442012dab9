/**
 * Where docs-commands.test.ts runs a page's commands: a temp folder that is the
 * reader's home (so `~/notes` lives in it), `syncjournal` and `npx syncjournal` on PATH
 * as the built CLI, npm's global prefix inside it, and one shell session per host whose
 * exported variables and working folder carry from block to block, as in a terminal.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';

/** What a text substitution may refer to. */
export interface SandboxPlaces {
  /** The sandbox folder; absolute paths like `/srv/…` are rooted here. */
  root: string;
  /** The page's S3 test server, `http://127.0.0.1:<port>`. */
  s3Url: string;
  /** A database on the test PostgreSQL server for this page, when the page names one. */
  postgresUrl: string | undefined;
}

/** A documented change the harness makes to a command before running it. */
export interface Substitution {
  /** What it does and why, in a sentence. */
  what: string;
  pattern: RegExp;
  replace: (places: SandboxPlaces, ...groups: string[]) => string;
}

/** What a block printed and how it ended. */
export interface ShellResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Both, in the order they arrived: what a terminal shows. */
  all: string;
}

/** Folders of the file system a page may name, moved into the sandbox. */
export const ROOTED_FOLDERS = ['srv', 'data', 'mnt'] as const;

export class DocSandbox {
  readonly places: SandboxPlaces;
  #home = '';
  #session = '';
  #hosts = 0;

  private constructor(
    readonly repo: string,
    places: SandboxPlaces,
    readonly baseEnv: Readonly<Record<string, string>>,
    readonly substitutions: readonly Substitution[],
  ) {
    this.places = places;
  }

  /** A sandbox with the CLI on PATH and the first host's home and shell. */
  static async create(options: {
    repo: string;
    s3Url: string;
    postgresUrl?: string;
    env: Readonly<Record<string, string>>;
    substitutions: readonly Substitution[];
  }): Promise<DocSandbox> {
    const root = await mkdtemp(join(tmpdir(), 'syncjournal-docs-'));
    const bin = join(root, 'bin');
    const npmPrefix = join(root, 'npm-global');
    await mkdir(bin, { recursive: true });
    await writeShims(bin, options.repo);
    // A script the reader saves (`file:` directive) imports @syncjournal/node as a project
    // that depends on it would: the sandbox's node_modules is the repository's.
    await symlink(join(options.repo, 'node_modules'), join(root, 'node_modules'));
    const env = {
      ...options.env,
      // npm's global installs land in the sandbox and come first on PATH.
      PATH: [join(npmPrefix, 'bin'), bin, dirname(process.execPath), readerPath()].join(delimiter),
      NPM_CONFIG_PREFIX: npmPrefix,
    };
    const sandbox = new DocSandbox(
      options.repo,
      { root, s3Url: options.s3Url, postgresUrl: options.postgresUrl },
      env,
      options.substitutions,
    );
    await sandbox.newHost();
    return sandbox;
  }

  /** The current host's home folder. */
  get home(): string {
    return this.#home;
  }

  /** Another machine: a fresh home and shell session (the sandbox's buckets and /srv stay). */
  async newHost(): Promise<void> {
    this.#hosts++;
    const host = this.#hosts === 1 ? 'home' : `host-${this.#hosts}`;
    this.#home = join(this.places.root, host);
    this.#session = join(this.places.root, `.session-${this.#hosts}`);
    await mkdir(this.#home, { recursive: true });
    await mkdir(this.#session, { recursive: true });
  }

  /** The text with every substitution applied. */
  substitute(text: string): string {
    let out = text;
    for (const s of this.substitutions) {
      out = out.replace(s.pattern, (...args: unknown[]) => {
        const groups = args.slice(1, -2).map((g) => (typeof g === 'string' ? g : ''));
        return s.replace(this.places, ...groups);
      });
    }
    return out;
  }

  /** Output as the reader would see it: the sandbox's folders read as `/home/you`, `/srv`… */
  readable(output: string): string {
    let out = output.replaceAll(this.#home, '/home/you');
    for (const folder of ROOTED_FOLDERS)
      out = out.replaceAll(join(this.places.root, folder), `/${folder}`);
    return out;
  }

  /** Saves a file the page shows, in the shell's current folder. */
  async saveFile(name: string, text: string): Promise<void> {
    const result = await this.shell(
      `cat > ${shellQuote(name)} <<'DOC_TEST_FILE'\n${text}\nDOC_TEST_FILE`,
    );
    if (result.code !== 0) throw new Error(`could not save ${name}: ${result.stderr}`);
  }

  /**
   * Runs a script in the current host's shell session (`set -euo pipefail`), after the
   * variables and folder the previous blocks left; `inRepo` runs it from the repository.
   */
  shell(script: string, options: { inRepo?: boolean } = {}): Promise<ShellResult> {
    const saveFolder = options.inRepo ? '' : '; pwd > "$DOC_SESSION/pwd"';
    const prelude = [
      '[ -f "$DOC_SESSION/env" ] && . "$DOC_SESSION/env"',
      options.inRepo
        ? `cd ${shellQuote(this.repo)}`
        : 'cd "$(cat "$DOC_SESSION/pwd" 2>/dev/null || printf %s "$HOME")"',
      `trap 'export -p > "$DOC_SESSION/env"${saveFolder}' EXIT`,
      'set -euo pipefail',
    ].join('\n');
    return new Promise((resolve, reject) => {
      const child = spawn('bash', ['-c', `${prelude}\n${script}`], {
        cwd: this.#home,
        env: { ...this.baseEnv, HOME: this.#home, DOC_SESSION: this.#session },
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 120_000,
      });
      let stdout = '';
      let stderr = '';
      let all = '';
      child.stdout.on('data', (c: Buffer) => {
        stdout += c.toString();
        all += c.toString();
      });
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
        all += c.toString();
      });
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr, all }));
    });
  }

  async cleanup(): Promise<void> {
    await rm(this.places.root, { recursive: true, force: true });
  }
}

/** `syncjournal` and `npx syncjournal` run the built CLI of this checkout. */
async function writeShims(bin: string, repo: string): Promise<void> {
  const cli = join(repo, 'node-adapter', 'bin', 'syncjournal.js');
  const shims = {
    syncjournal: `#!/bin/sh\nexec ${shellQuote(process.execPath)} ${shellQuote(cli)} "$@"\n`,
    // Only `npx syncjournal`: anything else would reach the registry.
    npx: [
      '#!/bin/sh',
      'if [ "$1" = syncjournal ]; then shift; exec syncjournal "$@"; fi',
      'echo "docs sandbox: npx runs only syncjournal here, not: npx $*" >&2',
      'exit 127',
      '',
    ].join('\n'),
  };
  for (const [name, text] of Object.entries(shims)) {
    await writeFile(join(bin, name), text);
    await chmod(join(bin, name), 0o755);
  }
}

/** The test's PATH without node_modules/.bin folders, which a reader's shell does not have. */
function readerPath(): string {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .filter((p) => p !== '' && !p.includes(`node_modules${'/'}.bin`))
    .join(delimiter);
}

export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
