import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** Options of {@link startS3rver}. */
export interface S3rverOptions {
  /** Buckets to create before it starts listening. */
  buckets?: readonly string[];
  /**
   * Replaces s3rver's key enumeration for listings with one in S3's order (see
   * {@link S3RVER_LISTING_PATCH}). Off, s3rver lists as it ships.
   */
  fixListingOrder?: boolean;
}

/** A running s3rver child process. */
export interface S3rverProcess {
  /** The endpoint, `http://127.0.0.1:<port>` (path-style). */
  readonly url: string;
  /** s3rver checks SigV4 signatures made with these fixed credentials. */
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
  /** Stops the process and removes its data directory. */
  stop(): Promise<void>;
}

/**
 * Why the listing patch exists. s3rver 3.7.1 keeps each key as a file path and lists
 * by walking directories depth first, then filters `start-after` with JavaScript's
 * UTF-16 string order. So it lists `a/b.md` before `a-b.md` (S3 lists by UTF-8 bytes:
 * `-` < `/`), and when a page ends inside `a/`, the next page silently drops `a-b.md`
 * (and a key above U+FFFF after one in U+E000–U+FFFF). The patch enumerates every key
 * under the bucket, sorts by UTF-8 bytes and compares `start-after` the same way;
 * everything else (continuation tokens, XML, objects, metadata) stays s3rver's.
 */
export const S3RVER_LISTING_PATCH = `
  const FilesystemStore = require(join(lib, 'stores/filesystem.js'));
  const S3Object = require(join(lib, 'models/object.js'));
  const { walk } = require(join(lib, 'utils.js'));
  const suffix = '._S3rver_object';
  FilesystemStore.prototype.listObjects = async function (bucket, options) {
    const { delimiter = '', startAfter = '', prefix = '', maxKeys = Infinity } = options;
    const bucketPath = this.getBucketPath(bucket);
    const bytes = (key) => Buffer.from(key, 'utf8');
    const keys = [...walk(bucketPath)]
      .filter((p) => p.endsWith(suffix))
      .map((p) => p.slice(bucketPath.length + 1, -suffix.length))
      .filter((key) => key.startsWith(prefix) && Buffer.compare(bytes(key), bytes(startAfter)) > 0)
      .sort((a, b) => Buffer.compare(bytes(a), bytes(b)));
    const commonPrefixes = new Set();
    const listed = [];
    let isTruncated = false;
    for (const key of keys) {
      const at = delimiter ? key.slice(prefix.length).indexOf(delimiter) : -1;
      if (at !== -1) { commonPrefixes.add(key.slice(0, prefix.length + at + 1)); continue; }
      if (listed.length >= maxKeys) { isTruncated = true; break; }
      listed.push(key);
    }
    const objects = await Promise.all(listed.map(async (key) =>
      new S3Object(bucket, key, null, await this.getMetadata(bucket, key))));
    return { objects, commonPrefixes: [...commonPrefixes].sort(), isTruncated };
  };
`;

/**
 * Starts s3rver 3.7.1 in a child process on 127.0.0.1 with a fresh data directory.
 * It runs under `node --openssl-legacy-provider`: its continuation tokens use a
 * cipher OpenSSL 3 only offers from the legacy provider, so paginated listings fail
 * without it.
 */
export async function startS3rver(options: S3rverOptions = {}): Promise<S3rverProcess> {
  const directory = await mkdtemp(join(tmpdir(), 'syncjournal-s3rver-'));
  const main = createRequire(import.meta.url).resolve('s3rver');
  const script = `
    const { join } = require('node:path');
    const lib = ${JSON.stringify(dirname(main))};
    ${options.fixListingOrder ? S3RVER_LISTING_PATCH : ''}
    const S3rver = require(${JSON.stringify(main)});
    const server = new S3rver({
      port: 0,
      address: '127.0.0.1',
      directory: ${JSON.stringify(directory)},
      silent: true,
      configureBuckets: ${JSON.stringify((options.buckets ?? []).map((name) => ({ name })))},
    });
    server.run().then((address) => process.stdout.write(JSON.stringify({ port: address.port }) + '\\n'));
    process.on('SIGTERM', () => server.close().finally(() => process.exit(0)));
  `;
  const child = spawn(process.execPath, ['--openssl-legacy-provider', '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    const port = await firstLinePort(child);
    return {
      url: `http://127.0.0.1:${port}`,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      async stop() {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = once(child, 'exit');
          child.kill('SIGTERM');
          await exited;
        }
        await rm(directory, { recursive: true, force: true });
      },
    };
  } catch (error) {
    child.kill('SIGKILL');
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
}

/** Waits (at most 20 s) for the child's `{"port":…}` line. */
function firstLinePort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => fail(new Error('s3rver did not start within 20 s')), 20_000);
    const fail = (error: Error) => {
      clearTimeout(timer);
      reject(new Error(`${error.message}\n${stderr}`));
    };
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const line = stdout.split('\n')[0];
      if (stdout.includes('\n') && line) {
        clearTimeout(timer);
        try {
          resolve((JSON.parse(line) as { port: number }).port);
        } catch (error) {
          fail(error as Error);
        }
      }
    });
    child.once('error', fail);
    child.once('exit', (code, signal) =>
      fail(new Error(`s3rver exited (${code ?? signal}) before listening`)),
    );
  });
}
