// The tools the comparison bench runs side by side, each on its own identical copy of a
// tree: syncjournal (folder bucket, S3 test server), rclone bisync (folder, S3 test
// server) and unison (folder to folder). Every run is one child process under GNU time.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const here = new URL('.', import.meta.url).pathname;
export const repoRoot = join(here, '..');
export const bin = join(repoRoot, 'node-adapter', 'bin', 'syncjournal.js');
const TIME = '/usr/bin/time';

/** What each tool needs on PATH, with the Debian package that has it. */
export function checkPrerequisites({ s3 = true } = {}) {
  const missing = [];
  if (!existsSync(TIME)) missing.push('time');
  if (spawnSync('rclone', ['--config', '/dev/null', 'version']).status !== 0)
    missing.push('rclone');
  if (spawnSync('unison', ['-version']).status !== 0) missing.push('unison');
  if (missing.length > 0) {
    throw new Error(
      `The comparison needs ${missing.join(', ')}: apt-get install -y ${missing.join(' ')} ` +
        '(bash scripts/setup.sh installs them).',
    );
  }
  return { s3 };
}

/**
 * Runs one command under GNU time: wall (ms, measured here), CPU user+sys, peak RSS and
 * the blocks the process wrote to disk (%O, 512-byte units as Linux reports them).
 */
export function measure(env, scratch, cmd, args, { allow = [0] } = {}) {
  const timeFile = join(scratch, 'time.out');
  const t0 = performance.now();
  const child = spawnSync(TIME, ['-f', '%e %U %S %M %O', '-o', timeFile, cmd, ...args], {
    env,
    encoding: 'utf8',
    maxBuffer: 512 * 2 ** 20,
  });
  const wallMs = performance.now() - t0;
  if (!allow.includes(child.status)) {
    throw new Error(
      `${cmd} ${args.join(' ')} exited with ${child.status}\n${child.stderr.slice(-4000)}\n${child.stdout.slice(-2000)}`,
    );
  }
  // GNU time writes "Command exited with non-zero status n" above the line on failure.
  const [, user, sys, rssKB, outBlocks] = readFileSync(timeFile, 'utf8')
    .trim()
    .split('\n')
    .pop()
    .split(' ');
  return {
    wallMs: Math.round(wallMs),
    cpuMs: Math.round((Number(user) + Number(sys)) * 1000),
    userMs: Math.round(Number(user) * 1000),
    sysMs: Math.round(Number(sys) * 1000),
    peakRssMB: Math.round(Number(rssKB) / 1024),
    diskWrittenMB: Math.round((Number(outBlocks) * 512) / 2 ** 20),
    status: child.status,
    stdout: child.stdout,
    stderr: child.stderr,
  };
}

/** du -sb of a path (apparent bytes), 0 when it does not exist. */
export function du(path) {
  if (!existsSync(path)) return 0;
  return Number(execFileSync('du', ['-sb', path], { encoding: 'utf8' }).split('\t')[0]);
}

/**
 * The files under `dir` as path → identity (inode, mtime, size), skipping the tools' own
 * folders. Comparing two of these says which files a run wrote: a file is new or has a new
 * inode or mtime. Every tool here writes a temp file and renames it, so a rewritten file
 * always shows.
 */
export function fileIndex(dir) {
  const out = new Map();
  const walk = (d, rel) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name === '.syncjournal' || e.name.startsWith('.unison')) continue;
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(join(d, e.name), path);
      else if (e.isFile()) {
        const s = lstatSync(join(d, e.name));
        out.set(path, { id: `${s.ino}:${s.mtimeMs}`, size: s.size });
      }
    }
  };
  if (existsSync(dir)) walk(dir, '');
  return out;
}

/** Bytes of the files that are new or rewritten in `after` compared with `before`. */
export function bytesWritten(before, after) {
  let bytes = 0;
  for (const [path, now] of after) {
    if (before.get(path)?.id !== now.id) bytes += now.size;
  }
  return bytes;
}

/** Base environment: HOME and XDG dirs inside the bench dir, nothing read from the user's. */
export function isolatedEnv(home) {
  mkdirSync(home, { recursive: true });
  const env = {
    ...process.env,
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_CACHE_HOME: join(home, '.cache'),
    RCLONE_CONFIG: '/dev/null',
  };
  delete env.SYNCJOURNAL_HOME;
  delete env.SYNCJOURNAL_JOURNAL;
  delete env.SYNCJOURNAL_CLIENT_ID;
  // rclone refuses any custom CA bundle with a plain-HTTP endpoint; nothing here uses TLS.
  delete env.AWS_CA_BUNDLE;
  return env;
}

/**
 * The S3 test server (node-adapter/test-support) in its own process, so this bench's
 * blocking child runs never stall it. Compiled from TypeScript into `scratch` first.
 */
export async function startS3Server(scratch) {
  const out = join(scratch, 's3-server');
  execFileSync(
    process.execPath,
    [
      join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'),
      '--ignoreConfig',
      '--outDir',
      out,
      '--rootDir',
      join(repoRoot, 'node-adapter', 'test-support'),
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--target',
      'es2022',
      '--skipLibCheck',
      '--types',
      'node',
      join(repoRoot, 'node-adapter', 'test-support', 's3-test-server.ts'),
    ],
    { stdio: 'inherit' },
  );
  writeFileSync(join(out, 'package.json'), '{"type":"module"}\n');
  writeFileSync(
    join(out, 'run.mjs'),
    "import { startS3TestServer } from './s3-test-server.js';\n" +
      'const server = await startS3TestServer();\n' +
      "server.bucket('bench');\n" +
      'console.log(server.url);\n',
  );
  const child = spawn(process.execPath, [join(out, 'run.mjs')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (d) => {
      text += d;
      if (text.includes('\n')) resolve(text.trim());
    });
    child.once('exit', (code) => reject(new Error(`the S3 test server exited with ${code}`)));
  });
  return { url, bucket: 'bench', stop: () => child.kill() };
}

const S3_CREDENTIALS = { id: 'bench', secret: 'bench-secret' };

/**
 * The tools, each as { name, remoteKind, prepare(dir) → pair }. A pair has
 * `local`, `remote` (a folder, or undefined for S3), `sync({ first })` → measurement,
 * and `journalBytes()` for syncjournal.
 */
export function tools(env, scratch, s3) {
  const syncjournalPair = (dir, prefix, remoteArg, extraEnv = {}) => {
    const state = join(dir, `${prefix}-state`);
    const local = join(dir, `${prefix}-local`);
    const e = { ...env, ...extraEnv };
    return {
      local,
      state,
      sync: ({ nodeArgs = [] } = {}) => {
        const m = measure(e, scratch, process.execPath, [
          ...nodeArgs,
          bin,
          '--state-dir',
          state,
          '--json',
          'sync',
          local,
          remoteArg,
        ]);
        const report = JSON.parse(m.stdout.trim().split('\n').pop());
        if (report.status !== 'in-sync') {
          throw new Error(`syncjournal did not finish in sync: ${JSON.stringify(report)}`);
        }
        return { ...m, report, bytesMoved: report.bytes.up + report.bytes.down };
      },
      journalBytes: () => du(join(state, 'journal')),
      watchArgs: ['--state-dir', state, '--json', 'watch'],
    };
  };
  const list = [
    {
      name: 'syncjournal',
      remoteKind: 'folder',
      prepare(dir) {
        const remote = join(dir, 'sj-bucket');
        mkdirSync(remote);
        return { ...syncjournalPair(dir, 'sj', remote), remote };
      },
    },
    {
      name: 'rclone',
      remoteKind: 'folder',
      prepare(dir) {
        const local = join(dir, 'rc-local');
        const remote = join(dir, 'rc-remote');
        const workdir = join(dir, 'rc-work');
        mkdirSync(remote);
        return { local, remote, sync: rcloneBisync(env, scratch, local, remote, workdir) };
      },
    },
    {
      name: 'unison',
      remoteKind: 'folder',
      prepare(dir) {
        const local = join(dir, 'un-local');
        const remote = join(dir, 'un-remote');
        const archives = join(dir, 'un-home');
        mkdirSync(remote);
        mkdirSync(archives);
        const e = { ...env, UNISON: archives };
        const args = [local, remote, '-batch', '-auto', '-times', '-perms', '0', '-ui', 'text'];
        return {
          local,
          remote,
          sync: () => measure(e, scratch, 'unison', [...args, '-silent']),
          watchCommand: ['unison', [...args, '-repeat', '1', '-silent'], e],
        };
      },
    },
  ];
  if (s3) {
    const s3Env = {
      AWS_ENDPOINT_URL_S3: s3.url,
      AWS_ACCESS_KEY_ID: S3_CREDENTIALS.id,
      AWS_SECRET_ACCESS_KEY: S3_CREDENTIALS.secret,
      AWS_REGION: 'us-east-1',
      SYNCJOURNAL_S3_FORCE_PATH_STYLE: '1',
    };
    let n = 0;
    list.push(
      {
        name: 'syncjournal-s3',
        remoteKind: 's3',
        prepare(dir) {
          return syncjournalPair(dir, 'sjs3', `s3://${s3.bucket}/sj-${n++}`, s3Env);
        },
      },
      {
        name: 'rclone-s3',
        remoteKind: 's3',
        prepare(dir) {
          const local = join(dir, 'rcs3-local');
          const workdir = join(dir, 'rcs3-work');
          const remote = `bench:${s3.bucket}/rc-${n++}`;
          // rclone's S3 remote from the environment; v2 listings, path-style, as for MinIO.
          const e = {
            ...env,
            RCLONE_CONFIG_BENCH_TYPE: 's3',
            RCLONE_CONFIG_BENCH_PROVIDER: 'Other',
            RCLONE_CONFIG_BENCH_ENDPOINT: s3.url,
            RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: S3_CREDENTIALS.id,
            RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: S3_CREDENTIALS.secret,
            RCLONE_CONFIG_BENCH_REGION: 'us-east-1',
            RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE: 'true',
            RCLONE_CONFIG_BENCH_LIST_VERSION: '2',
          };
          return { local, sync: rcloneBisync(e, scratch, local, remote, workdir) };
        },
      },
    );
  }
  return list;
}

/** One rclone bisync between `local` and `remote`, `--resync` on the first run as its manual asks. */
function rcloneBisync(env, scratch, local, remote, workdir) {
  let first = true;
  return () => {
    const flags = first ? ['--resync'] : [];
    first = false;
    return measure(env, scratch, 'rclone', [
      '--config',
      '/dev/null',
      'bisync',
      local,
      remote,
      '--workdir',
      workdir,
      ...flags,
    ]);
  };
}
