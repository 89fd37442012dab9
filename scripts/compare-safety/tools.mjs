// The tools under comparison, behind one shape: how a client syncs, what a failed run asks
// the user to do, which files are the tool's own, and where it keeps old versions.
import { spawn, spawnSync } from 'node:child_process';
import { cp, rm } from 'node:fs/promises';
import { join } from 'node:path';

const repoRoot = new URL('../../', import.meta.url).pathname;
const syncjournalBin = join(repoRoot, 'node-adapter', 'bin', 'syncjournal.js');

/**
 * Runs a command to completion, never rejecting on a non-zero exit. `onSpawn` sees the
 * child (the killed-run scenario polls the bucket and kills it).
 */
export function runCommand(command, args, { env, onSpawn } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    onSpawn?.(child);
  });
}

/**
 * HOME and XDG dirs inside the scenario (`home`), so neither tool reads or writes the user's
 * ~/.config, ~/.cache (where syncjournal keeps its template of a new journal) or ~/.syncjournal.
 */
function isolatedEnv(home) {
  const env = {
    ...process.env,
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_CACHE_HOME: join(home, '.cache'),
    NO_COLOR: '1',
  };
  delete env.SYNCJOURNAL_HOME;
  delete env.SYNCJOURNAL_JOURNAL;
  delete env.SYNCJOURNAL_CLIENT_ID;
  delete env.RCLONE_CONFIG;
  return env;
}

/** The first line of `text` matching `pattern`, without rclone's date prefix. */
function firstLine(text, pattern) {
  const line = text.split('\n').find((l) => pattern.test(l));
  return line?.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d (ERROR : )?/, '').trim();
}

/** The syncjournal CLI with its defaults, one state dir per client. */
export function syncjournalTool() {
  let templates;
  return {
    id: 'syncjournal',
    label: 'syncjournal',
    version() {
      const out = spawnSync(process.execPath, [syncjournalBin, '--version'], { encoding: 'utf8' });
      if (out.status !== 0) {
        throw new Error(`syncjournal does not run (${out.stderr.trim()}); run npm run build first`);
      }
      return out.stdout.trim();
    },

    /**
     * Creating a journal takes seconds (initdb, or loading the template syncjournal caches of
     * one), so each client's empty state dir is made once and copied into every scenario. A
     * copy is byte for byte what a first run would create, client id included; the pair is
     * still created by the scenario's first sync.
     */
    async prepare(workRoot) {
      const made = await Promise.all(['A', 'B'].map((name) => emptyStateDir(workRoot, name)));
      templates = { A: made[0], B: made[1] };
    },

    async newClientState(client) {
      await rm(client.state, { recursive: true, force: true });
      await cp(templates[client.name], client.state, { recursive: true });
    },

    async setupSync(world, client) {
      return this.sync(world, client);
    },

    /** One `syncjournal sync`; a guard block or an error is the result, never retried. */
    async sync(world, client, { onSpawn } = {}) {
      const args = [syncjournalBin, '--state-dir', client.state, '--json', 'sync'];
      const result = await runCommand(process.execPath, [...args, client.dir, world.bucket], {
        env: isolatedEnv(world.home),
        onSpawn,
      });
      return [{ command: 'sync', ...result, ...classifySyncjournal(result) }];
    },

    /** The state dir gone: the next run starts with a new, empty one. */
    async forgetBaseline(client) {
      await this.newClientState(client);
    },

    /** Where syncjournal keeps versions it replaced or deleted: the local trash, the bucket's. */
    trashRoots(world) {
      return [
        ...Object.values(world.clients).map((c) => ({
          dir: join(c.state, 'trash'),
          place: `${c.name}'s trash`,
        })),
        { dir: join(world.bucket, '.syncjournal', 'trash'), place: 'bucket trash' },
      ];
    },

    /** The folder bucket's own records (sidecars, temp files, trash, journal backups). */
    isOwnFile(relPath) {
      return relPath === '.syncjournal' || relPath.startsWith('.syncjournal/');
    },
  };
}

/** A state dir with an empty journal, for client `name`. */
async function emptyStateDir(workRoot, name) {
  const dir = join(workRoot, 'templates', `syncjournal-state-${name}`);
  const env = { ...isolatedEnv(join(workRoot, 'templates', 'home')), SYNCJOURNAL_CLIENT_ID: name };
  const made = await runCommand(process.execPath, [syncjournalBin, '--state-dir', dir, 'history'], {
    env,
  });
  if (made.code !== 0) throw new Error(`syncjournal could not create a state dir: ${made.stderr}`);
  return dir;
}

function classifySyncjournal({ code, signal, stdout, stderr }) {
  if (signal) return { outcome: 'killed', message: `killed by ${signal}` };
  let json = {};
  try {
    json = JSON.parse(stdout);
  } catch {}
  if (code === 0) return { outcome: 'ok' };
  if (code === 3) return { outcome: 'conflict', message: 'finished with conflicts' };
  if (code === 4) {
    return { outcome: 'guard', message: `${json.blocked?.guard}: ${json.blocked?.reason}` };
  }
  const message = json.error?.message ?? firstLine(stderr, /\S/);
  return { outcome: 'error', message };
}

/**
 * Debian's rclone bisync, local folder to local folder. `flags` are added to every run
 * (the safety-flags column); with --check-access, setup creates the RCLONE_TEST file it
 * looks for (`checkFile`) before the first --resync, as rclone's manual says to.
 */
export function rcloneTool({ id = 'rclone', label = 'rclone bisync', flags = [] } = {}) {
  const checkAccess = flags.includes('--check-access');
  return {
    id,
    label,
    checkFile: checkAccess ? 'RCLONE_TEST' : undefined,
    version() {
      const out = spawnSync('rclone', ['--config', '/dev/null', 'version'], { encoding: 'utf8' });
      if (out.status !== 0) {
        throw new Error('rclone is needed: apt-get install -y rclone (scripts/setup.sh does)');
      }
      return out.stdout.split('\n')[0].trim();
    },
    async prepare() {},
    async newClientState(client) {
      await rm(client.state, { recursive: true, force: true });
    },

    /** A new pair must start with --resync (rclone refuses to run without prior listings). */
    async setupSync(world, client) {
      const result = await this.bisync(world, client, ['--resync']);
      return [{ command: 'bisync --resync', ...result, ...classifyRclone(result) }];
    },

    bisync(world, client, extra = [], onSpawn) {
      const args = ['--config', '/dev/null', 'bisync', client.dir, world.bucket];
      return runCommand('rclone', [...args, '--workdir', client.state, ...flags, ...extra], {
        env: isolatedEnv(world.home),
        onSpawn,
      });
    },

    /**
     * One bisync, and then what its message tells the user to do, as a user would: a stale
     * lock file of a killed run is removed by hand ("prior lock file found"), and a critical
     * error is followed by the --resync it asks for. Each attempt is recorded.
     */
    async sync(world, client, { onSpawn } = {}) {
      const attempts = [];
      let extra = [];
      for (let i = 0; i < 3; i++) {
        const result = await this.bisync(world, client, extra, i === 0 ? onSpawn : undefined);
        const command = extra.length ? `bisync ${extra.join(' ')}` : 'bisync';
        attempts.push({ command, ...result, ...classifyRclone(result) });
        const output = result.stdout + result.stderr;
        const lock = /prior lock file found: (\S+)/.exec(output)?.[1];
        if (lock) {
          await rm(lock, { force: true });
          attempts.at(-1).followUp = 'removed the stale lock file by hand';
          extra = [];
        } else if (/Must run --resync to recover/.test(output)) {
          attempts.at(-1).followUp = 'ran --resync as asked';
          extra = ['--resync'];
        } else {
          break;
        }
      }
      return attempts;
    },

    /** The workdir (bisync's prior listings) gone. */
    async forgetBaseline(client) {
      await rm(client.state, { recursive: true, force: true });
    },

    /** rclone bisync 1.60 keeps no copy of what it deletes or replaces. */
    trashRoots() {
      return [];
    },

    isOwnFile(relPath) {
      return relPath === 'RCLONE_TEST';
    },
  };
}

function classifyRclone({ code, signal, stdout, stderr }) {
  if (signal) return { outcome: 'killed', message: `killed by ${signal}` };
  const output = stdout + stderr;
  if (code === 0) return { outcome: 'ok' };
  const message =
    firstLine(output, /Safety abort|check file check failed|access test failed/i) ??
    firstLine(output, /critical error/) ??
    firstLine(output, /Failed to bisync|ERROR/) ??
    `exit ${code}`;
  const guard = /Safety abort|too many deletes|check file|access test/i.test(message);
  return { outcome: guard ? 'guard' : 'error', message };
}
