import { statfsSync } from 'node:fs';
import * as fsPromises from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { directFs, fsCallsFor, isRealFs, localFsFor } from '../src/direct-fs.js';

let dir: string;
beforeEach(async () => {
  dir = await fsPromises.mkdtemp(join(tmpdir(), 'syncjournal-direct-'));
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await fsPromises.rm(dir, { recursive: true, force: true });
});

/** The error code a call rejects with, or 'ok'. */
async function outcome(call: () => Promise<unknown>): Promise<string> {
  try {
    await call();
    return 'ok';
  } catch (error) {
    return String((error as { code?: unknown }).code);
  }
}

describe('directFs answers as node:fs/promises does', () => {
  it('reads, writes and stats an open file the same way', async () => {
    const bytes = new TextEncoder().encode('hello, direct world');
    for (const [name, fs] of [
      ['direct', directFs],
      ['promises', fsPromises],
    ] as const) {
      const path = join(dir, `${name}.txt`);
      const out = await fs.open(path, 'wx');
      expect((await out.write(bytes, 0, 5, null)).bytesWritten).toBe(5);
      expect((await out.write(bytes, 5, bytes.length - 5, null)).bytesWritten).toBe(
        bytes.length - 5,
      );
      await out.sync();
      expect((await out.stat()).size).toBe(bytes.length);
      expect((await out.stat({ bigint: true })).size).toBe(BigInt(bytes.length));
      await out.close();

      const handle = await fs.open(path, 'r');
      const buffer = new Uint8Array(64);
      expect((await handle.read(buffer, 0, 5, 7)).bytesRead).toBe(5);
      expect(new TextDecoder().decode(buffer.subarray(0, 5))).toBe('direc');
      expect((await handle.read(buffer, 0, 64, 100)).bytesRead).toBe(0);
      await handle.close();
      expect(await fsPromises.readFile(path, 'utf8')).toBe('hello, direct world');
    }
  });

  it('rejects with the same error codes, as rejections rather than throws', async () => {
    const file = join(dir, 'file');
    await fsPromises.writeFile(file, 'x');
    const calls: Array<[string, (fs: typeof directFs) => Promise<unknown>]> = [
      ['open a missing file', (fs) => fs.open(join(dir, 'missing'), 'r')],
      ['create over a file with wx', (fs) => fs.open(file, 'wx')],
      ['lstat under a file', (fs) => fs.lstat(join(file, 'below'))],
      ['mkdir where a file is', (fs) => fs.mkdir(file)],
      ['rmdir a file', (fs) => fs.rmdir(file)],
      ['rename a missing file', (fs) => fs.rename(join(dir, 'missing'), join(dir, 'to'))],
      ['realpath a missing path', (fs) => fs.realpath(join(dir, 'missing'))],
      ['readdir a file', (fs) => fs.readdir(file, { withFileTypes: true })],
      ['unlink a missing file', (fs) => fs.unlink(join(dir, 'missing'))],
    ];
    for (const [what, call] of calls) {
      const direct = call(directFs); // a blocking call that fails must still return a promise
      expect(direct, what).toBeInstanceOf(Promise);
      const codes = [await outcome(() => direct), await outcome(() => call(fsPromises as never))];
      expect(codes[0], what).not.toBe('ok');
      expect(codes[0], what).toBe(codes[1]);
    }
  });
});

describe('which calls a folder gets', () => {
  it('follows statfs on Linux, judging a missing folder by the nearest one above it', () => {
    vi.stubEnv('SYNCJOURNAL_FS_CALLS', '');
    const here = fsCallsFor(dir);
    if (process.platform === 'linux') {
      // FUSE (0x65735546) and NFS (0x6969) are remote; tmpdir() is whatever this machine has.
      const remote = [0x65735546, 0x6969].includes(statfsSync(dir).type);
      expect(here).toBe(remote ? 'threadpool' : 'direct');
    } else {
      expect(here).toBe('threadpool');
    }
    expect(fsCallsFor(join(dir, 'not', 'yet', 'made'))).toBe(here);
    expect(isRealFs(localFsFor(dir))).toBe(true);
    expect(localFsFor(dir) === directFs).toBe(here === 'direct');
  });

  it('SYNCJOURNAL_FS_CALLS decides for every folder', () => {
    vi.stubEnv('SYNCJOURNAL_FS_CALLS', 'threadpool');
    expect(fsCallsFor(dir)).toBe('threadpool');
    expect(localFsFor(dir)).toBe(fsPromises);
    vi.stubEnv('SYNCJOURNAL_FS_CALLS', 'direct');
    expect(fsCallsFor(join(dir, 'missing'))).toBe('direct');
    expect(localFsFor(dir)).toBe(directFs);
  });

  it('tells the real filesystem from a wrapper', () => {
    expect(isRealFs(directFs)).toBe(true);
    expect(isRealFs(fsPromises)).toBe(true);
    expect(isRealFs({ ...fsPromises })).toBe(false);
  });
});

describe('DirectFileHandle', () => {
  it('closes once: a second close leaves a file that reused the descriptor open', async () => {
    const path = join(dir, 'f');
    await fsPromises.writeFile(path, 'abc');
    const first = await directFs.open(path, 'r');
    await first.close();
    const second = await directFs.open(path, 'r'); // the kernel hands out the lowest free fd
    expect(second.fd).toBe(first.fd);
    await first.close();
    const buffer = new Uint8Array(3);
    expect((await second.read(buffer, 0, 3, 0)).bytesRead).toBe(3);
    await second.close();
  });
});
