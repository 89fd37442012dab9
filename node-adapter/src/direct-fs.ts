import * as fsSync from 'node:fs';
import * as fsPromises from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/**
 * The calls of `node:fs/promises` that the local tree and the folder bucket make,
 * answered by Node's blocking calls on the calling thread — except `sync` (fsync),
 * the one call that waits for the disk by design, which stays on libuv's threadpool.
 *
 * Why: on a local disk an `lstat`, `open` or `rename` takes a few microseconds in the
 * kernel, while sending it to the threadpool and back costs 30–50 µs of CPU (a
 * futex wake, an eventfd write, a promise). A first sync makes ~25 such calls per
 * file, so at 10,000 files the round trips alone cost more CPU than the syscalls.
 * The results are the same; only who waits changes. File contents are read and written
 * the same way: a first sync of 600 MB of 1–40 MB files took as long as with the
 * threadpool (6.1–8.2 s against 7.6–8.5 s, alternated) for less CPU, and reading a
 * large file's chunks after its first on the threadpool was no faster (7.6–8.7 s).
 *
 * Not for network or FUSE filesystems, where one call can take a round trip (or hang
 * with the server): there the threadpool keeps four calls in flight and the event loop
 * free. {@link fsCallsFor} tells which a folder gets.
 */

/** Closes the descriptor of a handle that was dropped unclosed, as Node does for a `FileHandle`. */
const unclosed = new FinalizationRegistry<number>((fd) => {
  try {
    fsSync.closeSync(fd);
  } catch {
    // Nothing to report to: the handle that owned it is gone.
  }
});

/**
 * A file opened by {@link directFs}: an fd read and written with blocking calls. Like a
 * `FileHandle`, closing it twice is harmless (the second close must never close whatever
 * file has been given the same descriptor number since), and one dropped without a close
 * is closed when it is collected.
 */
export class DirectFileHandle {
  #closed = false;

  constructor(readonly fd: number) {
    unclosed.register(this, fd, this);
  }

  async read(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number | null,
  ): Promise<{ bytesRead: number; buffer: Uint8Array }> {
    return { bytesRead: fsSync.readSync(this.fd, buffer, offset, length, position), buffer };
  }

  async write(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number | null,
  ): Promise<{ bytesWritten: number; buffer: Uint8Array }> {
    return { bytesWritten: fsSync.writeSync(this.fd, buffer, offset, length, position), buffer };
  }

  stat(): Promise<fsSync.Stats>;
  stat(options: { bigint: true }): Promise<fsSync.BigIntStats>;
  async stat(options?: { bigint: true }): Promise<fsSync.Stats | fsSync.BigIntStats> {
    return options ? fsSync.fstatSync(this.fd, options) : fsSync.fstatSync(this.fd);
  }

  async chmod(mode: number): Promise<void> {
    fsSync.fchmodSync(this.fd, mode);
  }

  /** Flushes the file to disk on the threadpool: the one call here that waits for the device. */
  sync(): Promise<void> {
    return new Promise((resolve, reject) =>
      fsSync.fsync(this.fd, (error) => (error ? reject(error) : resolve())),
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    unclosed.unregister(this);
    fsSync.closeSync(this.fd);
  }
}

function lstat(path: string): Promise<fsSync.Stats>;
function lstat(path: string, options: { bigint: true }): Promise<fsSync.BigIntStats>;
async function lstat(path: string, options?: { bigint: true }) {
  return options ? fsSync.lstatSync(path, options) : fsSync.lstatSync(path);
}

function stat(path: string): Promise<fsSync.Stats>;
function stat(path: string, options: { bigint: true }): Promise<fsSync.BigIntStats>;
async function stat(path: string, options?: { bigint: true }) {
  return options ? fsSync.statSync(path, options) : fsSync.statSync(path);
}

/** See the module comment: `node:fs/promises`' calls, made blocking, `sync` excepted. */
export const directFs = {
  lstat,
  stat,
  async readdir(path: string, options: { withFileTypes: true }): Promise<fsSync.Dirent[]> {
    return fsSync.readdirSync(path, options);
  },
  async open(path: string, flags: string): Promise<DirectFileHandle> {
    return new DirectFileHandle(fsSync.openSync(path, flags));
  },
  async realpath(path: string): Promise<string> {
    return fsSync.realpathSync.native(path);
  },
  async rename(from: string, to: string): Promise<void> {
    fsSync.renameSync(from, to);
  },
  async link(existing: string, path: string): Promise<void> {
    fsSync.linkSync(existing, path);
  },
  async unlink(path: string): Promise<void> {
    fsSync.unlinkSync(path);
  },
  async mkdir(path: string, options?: { recursive?: boolean }): Promise<string | undefined> {
    return fsSync.mkdirSync(path, options);
  },
  async rmdir(path: string): Promise<void> {
    fsSync.rmdirSync(path);
  },
  async rm(path: string, options: { recursive?: boolean; force?: boolean }): Promise<void> {
    fsSync.rmSync(path, options);
  },
  async utimes(path: string, atime: number, mtime: number): Promise<void> {
    fsSync.utimesSync(path, atime, mtime);
  },
  async copyFile(from: string, to: string, mode?: number): Promise<void> {
    fsSync.copyFileSync(from, to, mode);
  },
  async readFile(path: string, encoding: 'utf8'): Promise<string> {
    return fsSync.readFileSync(path, encoding);
  },
  async writeFile(path: string, data: string, options?: { flag?: string }): Promise<void> {
    fsSync.writeFileSync(path, data, options);
  },
};

/**
 * `f_type` of Linux filesystems whose calls may wait on a network, a cluster or a
 * FUSE daemon (sshfs, rclone mount, s3fs; virtiofs is FUSE too). From statfs(2)'s
 * magic numbers.
 */
const REMOTE_FILESYSTEMS = new Set([
  0x6969, // NFS
  0x517b, // SMB
  0xff534d42, // CIFS
  0xfe534d42, // SMB2
  0x65735546, // FUSE
  0x01021997, // 9P
  0x00c36400, // Ceph
  0x5346414f, // AFS
  0x6b414653, // kAFS
  0x73757245, // Coda
  0x0000564c, // NCP
  0x7461636f, // OCFS2
  0x01161970, // GFS2
  0x0bd00bd0, // Lustre
  0x47504653, // GPFS
  0x20030528, // OrangeFS
]);

/**
 * Which calls the folder at `path` gets: {@link directFs} on a Linux filesystem that is
 * not known to be remote (ext4, xfs, btrfs, tmpfs, overlay, zfs…), `node:fs/promises`
 * (the threadpool) on a network or FUSE filesystem, and on other platforms, where
 * `statfs` does not say which kind a filesystem is. A folder that does not exist yet is
 * judged by the nearest folder above it that does (it will be created there).
 * `SYNCJOURNAL_FS_CALLS=threadpool` or `=direct` decides for every folder.
 */
export function fsCallsFor(path: string): 'direct' | 'threadpool' {
  const forced = process.env.SYNCJOURNAL_FS_CALLS;
  if (forced === 'direct' || forced === 'threadpool') return forced;
  if (process.platform !== 'linux') return 'threadpool';
  for (let at = resolve(path); ; at = dirname(at)) {
    try {
      return REMOTE_FILESYSTEMS.has(fsSync.statfsSync(at).type) ? 'threadpool' : 'direct';
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || at === dirname(at)) return 'threadpool';
    }
  }
}

/** The filesystem calls for the folder at `path`, as {@link fsCallsFor} chooses. */
export function localFsFor(path: string): typeof directFs | typeof fsPromises {
  return fsCallsFor(path) === 'direct' ? directFs : fsPromises;
}

/** True for the real filesystem's calls (either kind), false for memfs or a test's wrapper. */
export function isRealFs(fs: unknown): boolean {
  return fs === directFs || fs === fsPromises;
}
