/**
 * Vitest global setup: builds dist/ and the CLI's bundle (child-process tests run the
 * built code) and provides a PostgreSQL server for the journal's server tests.
 *
 * SYNCJOURNAL_TEST_POSTGRES_URL, when set, names a server the tests may create and
 * drop databases on. Otherwise a throwaway cluster is started from Debian's
 * postgresql binaries in a temp dir, listening on 127.0.0.1 only, and removed after.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const build = spawnSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
  if (build.status !== 0) throw new Error('npm run build failed; fix the errors above first');

  const given = process.env.SYNCJOURNAL_TEST_POSTGRES_URL;
  if (given) {
    project.provide('postgresUrl', given);
    return;
  }
  const server = await startThrowawayPostgres();
  project.provide('postgresUrl', server.url);
  return server.stop;
}

async function startThrowawayPostgres(): Promise<{ url: string; stop: () => Promise<void> }> {
  const bin = findPostgresBin();
  const root = mkdtempSync(join(tmpdir(), 'syncjournal-pg-'));
  const data = join(root, 'data');
  // initdb refuses to run as root; Debian's package creates the postgres user for this.
  const ids = process.getuid?.() === 0 ? userIds('postgres') : undefined;
  if (ids) chownSync(root, ids.uid, ids.gid);
  const as = ids ? { uid: ids.uid, gid: ids.gid } : {};
  const init = spawnSync(
    join(bin, 'initdb'),
    ['-D', data, '-U', 'syncjournal', '--auth=trust', '-E', 'UTF8', '--no-sync', '--locale=C'],
    { ...as, encoding: 'utf8' },
  );
  if (init.status !== 0) throw new Error(`initdb failed:\n${init.stderr}`);
  const port = await freePort();
  const server = spawn(
    join(bin, 'postgres'),
    [
      '-D',
      data,
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-k',
      root,
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=200',
    ],
    { ...as, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  server.stderr.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ready = spawnSync(join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port)]);
    if (ready.status === 0) break;
    if (server.exitCode !== null || Date.now() > deadline) {
      throw new Error(`the throwaway PostgreSQL server did not start:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `postgres://syncjournal@127.0.0.1:${port}/postgres`,
    stop: async () => {
      server.kill('SIGINT');
      await new Promise((r) => server.once('exit', r));
      rmSync(root, { recursive: true, force: true });
    },
  };
}

function findPostgresBin(): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base)
    ? readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'postgres')))
    : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) {
    throw new Error(
      'No PostgreSQL server to test the shared journal against. Run `bash scripts/setup.sh` ' +
        "(installs Debian's postgresql), or set SYNCJOURNAL_TEST_POSTGRES_URL to a server " +
        'where the tests may create databases.',
    );
  }
  return join(base, newest, 'bin');
}

function userIds(name: string): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      s.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}
