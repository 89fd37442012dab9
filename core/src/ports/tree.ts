/**
 * The local side of a pair: a folder on disk, in memory, or in OPFS. Paths are
 * relative to the tree's root, use `/` separators, never start with `/`, and never
 * contain `.` or `..` segments or empty segments. An implementation never reads or
 * writes outside its root and never follows a symbolic link out of it.
 */
export interface LocalTree {
  /** True when `A.md` and `a.md` name the same file (macOS, Windows defaults). */
  readonly caseInsensitive: boolean;
  /**
   * True when two encodings of one accented name (`é` as one code point, NFC, or as `e`
   * plus a combining accent, NFD) name the same file, as on macOS (APFS and HFS+).
   * Absent means false: each spelling is its own file (Linux, Windows, OPFS).
   */
  readonly normalizationInsensitive?: boolean;
  /**
   * The resolution of the modification times this tree reports, in ms (1 on ext4 and
   * APFS as Node reports them, 2000 on FAT). A file modified within this long of a
   * scan may change again without its mtime moving, so the scanner re-hashes it next
   * time (the racy-timestamp rule).
   */
  readonly timestampGranularityMs: number;

  /**
   * Every file under the root, in {@link comparePaths} order of their full paths
   * (a directory's files come where `dir/` sorts, not where `dir` sorts).
   * Directories are not yielded; a directory or file that cannot be read is yielded
   * as `unreadable` (the walk goes on), and a symbolic link, socket or other
   * non-regular file as `skipped`. Never throws for one bad entry; throws only when
   * the root itself cannot be read.
   */
  walk(): AsyncIterable<WalkItem>;

  /** The file at `path`, or `undefined` when nothing (or a directory) is there. */
  stat(path: string): Promise<FileStat | undefined>;

  /**
   * The bytes of the file at `path`, in chunks. Throws `NotFoundError` when it is
   * missing. The stream reflects the file when reading started; writers that race it
   * are caught by the scanner's stat-after-hash check.
   */
  read(path: string): AsyncIterable<Uint8Array>;

  /**
   * Writes `data` to `path` atomically: into a temporary file beside it (never
   * visible to a walk), then renamed over the target, creating parent directories.
   * Returns the new file's stat.
   *
   * `expect` is checked immediately before the rename: `null` requires that nothing
   * is at `path`; a stat requires that the file there still has that size, mtime
   * (and inode where the tree has inodes). When the check fails nothing is changed
   * and `PreconditionFailedError` is thrown. With `keepPrevious`, a file that is
   * replaced is first moved into the trash (see {@link trash} for `trashSlot`); its
   * trash location is returned.
   */
  write(
    path: string,
    data: Uint8Array | AsyncIterable<Uint8Array>,
    options?: WriteOptions,
  ): Promise<{ stat: FileStat; trashed?: string }>;

  /**
   * Moves the file at `path` into this tree's trash (outside the root, never synced)
   * and returns its trash location, which {@link restore} accepts: `<slot>/<path>`,
   * one slot per trashed file. With `trashSlot` the slot is that name, or
   * `<trashSlot>~2`, `~3`… when it is taken (`trashSlotCandidate`); without
   * it the tree names one. `expect` works as in {@link write}. Empty parent
   * directories left behind are removed. Throws `NotFoundError` when nothing is there.
   */
  trash(path: string, options?: TrashOptions): Promise<string>;

  /** Puts a trashed file back at `path` (which must be free). */
  restore(trashLocation: string, path: string): Promise<FileStat>;

  /** The trashed file at `trashLocation`, or `undefined` when nothing is there. */
  statTrash(trashLocation: string): Promise<FileStat | undefined>;

  /** Creates a directory and its parents; does nothing if it exists. */
  mkdir(path: string): Promise<void>;
}

/** The options of {@link LocalTree.trash}. */
export interface TrashOptions {
  expect?: FileStat;
  /** The slot the trashed file goes to (see {@link LocalTree.trash}). */
  trashSlot?: string;
}

/** The options of {@link LocalTree.write}. */
export interface WriteOptions {
  expect?: FileStat | null;
  keepPrevious?: boolean;
  /** Where a replaced file is kept with `keepPrevious` (see {@link LocalTree.trash}). */
  trashSlot?: string;
  mtimeMs?: number;
}

/** What a tree knows about a file without reading it. */
export interface FileStat {
  size: number;
  /** ms since the epoch; fractional where the tree has sub-ms times. */
  mtimeMs: number;
  /** Inode number as a decimal string, where the tree has inodes. */
  ino?: string;
  /** Change time in ms, where the tree has one. */
  ctimeMs?: number;
}

/**
 * Why the walk leaves an entry out: a symbolic link, a special file (a FIFO, a socket, a
 * device), or a name that is not valid UTF-8 and so cannot be named back.
 */
export type LeftOutReason = 'symlink' | 'special' | 'name';

/** One item of {@link LocalTree.walk}. */
export type WalkItem =
  | ({ kind: 'file'; path: string } & FileStat)
  | { kind: 'unreadable'; path: string; code: string; message: string }
  | { kind: 'skipped'; path: string; reason: LeftOutReason };
