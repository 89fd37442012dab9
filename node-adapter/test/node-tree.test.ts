import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import * as nodeFs from 'node:fs/promises';
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createSyncEngine,
  type FileStat,
  ManualClock,
  MemoryJournal,
  MemoryStore,
  type WalkItem,
} from '@syncjournal/core';
import { runTreeConformance, type TreeFixture } from '@syncjournal/core/testing';
import { memfs } from 'memfs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nodeHasher } from '../src/node-hasher.js';
import { type NodeFs, NodeTree, type NodeTreeOptions } from '../src/node-tree.js';

const utf8 = (text: string) => new TextEncoder().encode(text);

async function readText(tree: NodeTree, path: string): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of tree.read(path)) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

async function walkAll(tree: NodeTree): Promise<WalkItem[]> {
  const items: WalkItem[] = [];
  for await (const item of tree.walk()) items.push(item);
  return items;
}

async function* failingAfter(first: string, error: Error): AsyncIterable<Uint8Array> {
  yield utf8(first);
  throw error;
}

function errno(code: string): Error & { code: string } {
  return Object.assign(new Error(`${code}: injected`), { code });
}

/** Runs `hook` around calls to an fs method; `call` performs the real call. */
type Hook = (args: unknown[], call: () => Promise<unknown>) => Promise<unknown>;

/** Wraps a real fs module (disk or memfs), recording every call and running hooks. */
function wrapFs(base: NodeFs, hooks: Partial<Record<keyof NodeFs, Hook>> = {}) {
  const calls: Array<{ op: string; args: unknown[] }> = [];
  const fs = new Proxy(base, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.push({ op: String(prop), args });
        const call = () => Promise.resolve(value.apply(target, args));
        const hook = hooks[prop as keyof NodeFs];
        return hook ? hook(args, call) : call();
      };
    },
  });
  return { fs, calls };
}

/**
 * Does the temp dir find a file made as `made` by the name `lookedUp`? Found with plain
 * fs, independently of the tree's probe.
 */
async function tmpFinds(made: string, lookedUp: string): Promise<boolean> {
  const dir = await mkdtemp(join(tmpdir(), 'syncjournal-names-'));
  try {
    await writeFile(join(dir, made), '');
    return await stat(join(dir, lookedUp)).then(
      () => true,
      () => false,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const diskCaseInsensitive = await tmpFinds('probe', 'PROBE');
// An NFC name looked up by its NFD spelling (macOS folds them).
const diskNormalizationInsensitive = await tmpFinds('probe-\u00e9', 'probe-e\u0301');
const posix = process.platform !== 'win32';
// chmod 000 does not stop root (as these tests run in CI containers), nor Windows.
const canLock = posix && process.getuid?.() !== 0;

interface DiskFixture extends TreeFixture {
  tree: NodeTree;
  base: string;
  root: string;
  trash: string;
  outside: string;
  locked: string[];
}

async function diskFixture(options: Partial<NodeTreeOptions> = {}): Promise<DiskFixture> {
  const base = await mkdtemp(join(tmpdir(), 'syncjournal-tree-'));
  const root = join(base, 'root');
  const trash = join(base, 'state', 'trash');
  const outside = join(base, 'outside');
  await mkdir(root);
  const tree = await NodeTree.open({ root, trashDir: trash, ...options });
  const fixture: DiskFixture = {
    tree,
    base,
    root,
    trash,
    outside,
    locked: [],
    async teardown() {
      for (const path of fixture.locked) await chmod(path, 0o755);
      await rm(base, { recursive: true, force: true });
    },
  };
  return fixture;
}

// On a local disk the tree makes blocking calls (direct-fs.ts); on a network or FUSE
// filesystem it sends them to the threadpool (`node:fs/promises`): both run the suite.
for (const [calls, fs] of [
  ['direct calls', undefined],
  ['threadpool calls', nodeFs],
] as const) {
  runTreeConformance<DiskFixture>(`NodeTree on disk, ${calls}`, {
    create: () => diskFixture(fs ? { fs } : {}),
    caseInsensitive: diskCaseInsensitive,
    normalizationInsensitive: diskNormalizationInsensitive,
    ...(posix
      ? {
          makeSymlink: ({ root }: DiskFixture, path: string, target: string) =>
            symlink(join(root, target), join(root, path)),
        }
      : {}),
    ...(canLock
      ? {
          makeUnreadable: async (fixture: DiskFixture, path: string) => {
            const abs = join(fixture.root, path);
            await chmod(abs, 0);
            fixture.locked.push(abs);
          },
        }
      : {}),
  });
}

const MEM_ROOT = '/home/user/Notes';
const MEM_TRASH = '/home/user/.syncjournal/trash/pair-1';

async function memFixture(hooks: Partial<Record<keyof NodeFs, Hook>> = {}, root = MEM_ROOT) {
  const { vol } = memfs();
  await vol.promises.mkdir(root, { recursive: true });
  const wrapped = wrapFs(vol.promises, hooks);
  const tree = await NodeTree.open({ root, trashDir: MEM_TRASH, fs: wrapped.fs });
  return { tree, fs: vol.promises, calls: wrapped.calls };
}

/**
 * Hooks that make memfs fold names as macOS does to accent encoding: every path is
 * looked up, and stored, in NFC.
 */
const FOLDS_ACCENTS: Partial<Record<keyof NodeFs, Hook>> = Object.fromEntries(
  (
    [
      'lstat',
      'stat',
      'readdir',
      'open',
      'rename',
      'link',
      'unlink',
      'mkdir',
      'rmdir',
      'utimes',
      'copyFile',
      'realpath',
    ] as const
  ).map((op) => [
    op,
    (args: unknown[], call: () => Promise<unknown>) => {
      for (let i = 0; i < args.length; i++) {
        if (typeof args[i] === 'string') args[i] = (args[i] as string).normalize('NFC');
      }
      return call();
    },
  ]),
);

// memfs checks permissions even for root, so chmod 000 makes a directory unreadable.
runTreeConformance('NodeTree on memfs folding accent encoding (as macOS does)', {
  create: () => memFixture(FOLDS_ACCENTS),
  caseInsensitive: false,
  normalizationInsensitive: true,
});

runTreeConformance('NodeTree on memfs', {
  create: () => memFixture(),
  caseInsensitive: false,
  makeUnreadable: async ({ fs }, path) => fs.chmod(`${MEM_ROOT}/${path}`, 0),
  makeSymlink: async ({ fs }, path, target) =>
    fs.symlink(`${MEM_ROOT}/${target}`, `${MEM_ROOT}/${path}`),
});

const BAD_PATHS = [
  '',
  '/etc/passwd',
  '../escape.md',
  'a/../../escape.md',
  './a.md',
  'a/./b.md',
  'a//b.md',
  'a/',
  'a\\..\\b.md',
  'a\0b.md',
  '.syncjournal-tmp-0123',
  'dir/.syncjournal-tmp-x',
];

describe('NodeTree safety on disk', () => {
  let f: DiskFixture;
  beforeEach(async () => {
    f = await diskFixture();
    await mkdir(f.outside);
    await writeFile(join(f.outside, 'secret.md'), 'secret');
  });
  afterEach(async () => {
    await f.teardown?.();
  });

  const outsideListing = async () => (await readdir(f.outside)).sort();

  if (posix)
    describe('symbolic links', () => {
      beforeEach(async () => {
        await f.tree.write('a.md', utf8('a'));
        await f.tree.write('real/x.md', utf8('x'));
        await symlink(join(f.outside, 'secret.md'), join(f.root, 'out-file'));
        await symlink(f.outside, join(f.root, 'out-dir'));
        await symlink(join(f.root, 'a.md'), join(f.root, 'in-file'));
        await symlink(join(f.root, 'real'), join(f.root, 'in-dir'));
        await symlink(join(f.root, 'real'), join(f.root, 'real', 'loop'));
      });

      it('walks every link as skipped, inside or outside the root, and never into one', async () => {
        expect(await walkAll(f.tree)).toEqual([
          expect.objectContaining({ kind: 'file', path: 'a.md' }),
          { kind: 'skipped', path: 'in-dir', reason: 'symlink' },
          { kind: 'skipped', path: 'in-file', reason: 'symlink' },
          { kind: 'skipped', path: 'out-dir', reason: 'symlink' },
          { kind: 'skipped', path: 'out-file', reason: 'symlink' },
          { kind: 'skipped', path: 'real/loop', reason: 'symlink' },
          expect.objectContaining({ kind: 'file', path: 'real/x.md' }),
        ]);
      });

      it('refuses any path whose parent is a link, to the outside or inside', async () => {
        const location = await f.tree.trash('a.md');
        for (const link of ['out-dir', 'in-dir', 'real/loop']) {
          const refusals: Array<() => Promise<unknown>> = [
            () => f.tree.stat(`${link}/secret.md`),
            () => readText(f.tree, `${link}/secret.md`),
            () => f.tree.write(`${link}/new.md`, utf8('x')),
            () => f.tree.write(`${link}/secret.md`, utf8('x')),
            () => f.tree.write(`${link}/sub/new.md`, utf8('x')),
            () => f.tree.trash(`${link}/secret.md`),
            () => f.tree.restore(location, `${link}/restored.md`),
            () => f.tree.mkdir(`${link}/sub`),
          ];
          for (const refused of refusals) {
            await expect(refused()).rejects.toMatchObject({ code: 'unsafe-path' });
          }
        }
        expect(await outsideListing()).toEqual(['secret.md']);
        expect(await readFile(join(f.outside, 'secret.md'), 'utf8')).toBe('secret');
        expect((await readdir(join(f.root, 'real'))).sort()).toEqual(['loop', 'x.md']);
      });

      it('treats a link at the path itself as no file, and replaces only the link', async () => {
        expect(await f.tree.stat('out-file')).toBeUndefined();
        await expect(readText(f.tree, 'out-file')).rejects.toMatchObject({ code: 'not-found' });
        await expect(f.tree.trash('out-file')).rejects.toMatchObject({ code: 'not-found' });
        await expect(f.tree.write('out-file', utf8('x'), { expect: null })).rejects.toMatchObject({
          code: 'precondition-failed',
        });
        await f.tree.write('out-file', utf8('replaced'));
        expect((await lstat(join(f.root, 'out-file'))).isFile()).toBe(true);
        expect(await readFile(join(f.outside, 'secret.md'), 'utf8')).toBe('secret');
      });

      it('does not read through a link slipped in between the check and the open', async () => {
        const { fs } = wrapFs(nodeFs, {
          open: async (args, call) => {
            if (args[0] === join(f.root, 'a.md') && args[1] === 'r') {
              await rm(join(f.root, 'a.md'));
              await symlink(join(f.outside, 'secret.md'), join(f.root, 'a.md'));
            }
            return call();
          },
        });
        const tree = new NodeTree({ root: f.root, trashDir: f.trash, fs });
        await expect(readText(tree, 'a.md')).rejects.toMatchObject({ code: 'not-found' });
      });
    });

  if (posix)
    it('walks FIFOs and sockets as skipped special files', async () => {
      await f.tree.write('b.md', utf8('b'));
      execFileSync('mkfifo', [join(f.root, 'a-fifo')]);
      const server = createServer();
      await new Promise<void>((done) => server.listen(join(f.root, 'c-socket'), done));
      try {
        expect(await walkAll(f.tree)).toEqual([
          { kind: 'skipped', path: 'a-fifo', reason: 'special' },
          expect.objectContaining({ kind: 'file', path: 'b.md' }),
          { kind: 'skipped', path: 'c-socket', reason: 'special' },
        ]);
        expect(await f.tree.stat('a-fifo')).toBeUndefined();
        await expect(readText(f.tree, 'a-fifo')).rejects.toMatchObject({ code: 'not-found' });
      } finally {
        await new Promise((done) => server.close(done));
      }
    });

  if (posix)
    it('walks a name that no tree path can spell as skipped', async () => {
      await writeFile(join(f.root, 'back\\slash.md'), 'x');
      expect(await walkAll(f.tree)).toEqual([
        { kind: 'skipped', path: 'back\\slash.md', reason: 'name' },
      ]);
    });

  it('refuses malformed paths before touching the filesystem', async () => {
    const { fs, calls } = wrapFs(nodeFs);
    const tree = new NodeTree({ root: f.root, trashDir: f.trash, fs });
    for (const path of BAD_PATHS) {
      const refusals: Array<() => Promise<unknown>> = [
        () => tree.stat(path),
        () => readText(tree, path),
        () => tree.write(path, utf8('x')),
        () => tree.write(path, utf8('x'), { expect: null, keepPrevious: true }),
        () => tree.trash(path),
        () => tree.mkdir(path),
        () => tree.restore('1-20260101T000000.000Z/a.md', path),
        () => tree.restore(path, 'fine.md'),
      ];
      for (const refused of refusals) {
        await expect(refused(), JSON.stringify(path)).rejects.toMatchObject({
          code: 'unsafe-path',
          data: { path },
        });
      }
    }
    expect(calls).toEqual([]);
    expect(await readdir(f.root)).toEqual([]);
    expect(await outsideListing()).toEqual(['secret.md']);
  });

  it('writes through a .syncjournal-tmp- file beside the target, which the walk never shows', async () => {
    const { fs, calls } = wrapFs(nodeFs);
    const tree = new NodeTree({ root: f.root, trashDir: f.trash, fs });
    await tree.write('dir/note.md', utf8('x'));
    const temps = calls.filter((call) => call.op === 'open' && call.args[1] === 'wx');
    expect(temps).toHaveLength(1);
    expect(String(temps[0]?.args[0])).toMatch(
      new RegExp(
        `^${join(f.root, 'dir', '.syncjournal-tmp-').replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')}\\d+-[0-9a-f]{16}-[0-9a-z]+$`,
      ),
    );
    expect(await readdir(join(f.root, 'dir'))).toEqual(['note.md']);
    // A temp file left by a crash stays out of the walk.
    await writeFile(join(f.root, 'dir', '.syncjournal-tmp-0123456789abcdef'), 'partial');
    await writeFile(join(f.root, '.syncjournal-tmp-fedcba9876543210'), 'partial');
    expect((await walkAll(tree)).map((item) => item.path)).toEqual(['dir/note.md']);
  });

  it('leaves the target and the folder untouched when the data stream fails', async () => {
    await f.tree.write('note.md', utf8('original'));
    const before = await f.tree.stat('note.md');
    const failure = new Error('hash mismatch');
    await expect(f.tree.write('note.md', failingAfter('partial', failure))).rejects.toBe(failure);
    await expect(
      f.tree.write('new/deep/file.md', failingAfter('partial', failure), { expect: null }),
    ).rejects.toBe(failure);
    await expect(
      f.tree.write('note.md', failingAfter('partial', failure), { keepPrevious: true }),
    ).rejects.toBe(failure);
    expect(await readText(f.tree, 'note.md')).toBe('original');
    expect(await f.tree.stat('note.md')).toEqual(before);
    expect(await readdir(f.root)).toEqual(['note.md']);
    expect(await readdir(f.trash)).toEqual([]);
  });

  it('checks expect immediately before the rename', async () => {
    const { stat: scanned } = await f.tree.write('note.md', utf8('scanned'));
    async function* download(edit: () => Promise<void>): AsyncIterable<Uint8Array> {
      yield utf8('from the ');
      await edit();
      yield utf8('remote');
    }
    // A user edit while the download streams in: same inode, new size.
    const edit = () => writeFile(join(f.root, 'note.md'), 'the user edit');
    await expect(
      f.tree.write('note.md', download(edit), { expect: scanned, keepPrevious: true }),
    ).rejects.toMatchObject({ code: 'precondition-failed', data: { side: 'local' } });
    expect(await readText(f.tree, 'note.md')).toBe('the user edit');
    // Same size and inode, only the mtime moved.
    const current = (await f.tree.stat('note.md')) as FileStat;
    const touch = () => utimes(join(f.root, 'note.md'), 1_700_000_000, 1_700_000_000);
    await expect(
      f.tree.write('note.md', download(touch), { expect: current }),
    ).rejects.toMatchObject({ code: 'precondition-failed' });
    // A file that appears where nothing was expected.
    const create = () => writeFile(join(f.root, 'fresh.md'), 'created by the user');
    await expect(
      f.tree.write('fresh.md', download(create), { expect: null }),
    ).rejects.toMatchObject({ code: 'precondition-failed' });
    expect(await readText(f.tree, 'fresh.md')).toBe('created by the user');
    expect((await readdir(f.root)).sort()).toEqual(['fresh.md', 'note.md']);
    expect(await readdir(f.trash)).toEqual([]);
  });

  it('keepPrevious hard-links the old file into the trash, so the target is never missing', async () => {
    const { stat: old } = await f.tree.write('dir/note.md', utf8('old'));
    const presentAtRename: boolean[] = [];
    const { fs } = wrapFs(nodeFs, {
      rename: async (args, call) => {
        presentAtRename.push(
          await lstat(String(args[1])).then(
            () => true,
            () => false,
          ),
        );
        return call();
      },
    });
    const tree = new NodeTree({ root: f.root, trashDir: f.trash, fs });
    const { trashed } = await tree.write('dir/note.md', utf8('new'), { keepPrevious: true });
    expect(presentAtRename).toEqual([true]);
    expect(trashed).toMatch(/^1-\d{8}T\d{6}\.\d{3}Z\/dir\/note\.md$/);
    const kept = await lstat(join(f.trash, trashed as string), { bigint: true });
    expect(String(kept.ino)).toBe(old.ino);
    expect(await readFile(join(f.trash, trashed as string), 'utf8')).toBe('old');
    expect(await readText(tree, 'dir/note.md')).toBe('new');
  });

  it('keepPrevious and restore copy where hard links fail', async () => {
    const mtimeMs = Date.UTC(2024, 5, 1, 12, 0, 0, 123);
    await f.tree.write('note.md', utf8('old'), { mtimeMs });
    const { fs, calls } = wrapFs(nodeFs, {
      link: async () => {
        throw errno('EXDEV');
      },
    });
    const tree = new NodeTree({ root: f.root, trashDir: f.trash, fs });
    const { trashed } = await tree.write('note.md', utf8('new'), { keepPrevious: true });
    expect(calls.some((call) => call.op === 'copyFile')).toBe(true);
    const kept = await lstat(join(f.trash, trashed as string));
    expect(kept.mtimeMs).toBe(mtimeMs);
    expect(await readFile(join(f.trash, trashed as string), 'utf8')).toBe('old');
    const restored = await tree.restore(trashed as string, 'kept/note.md');
    expect(restored.mtimeMs).toBe(mtimeMs);
    expect(await readText(tree, 'kept/note.md')).toBe('old');
    expect(await readText(tree, 'note.md')).toBe('new');
    expect(await readdir(f.trash)).toEqual([]);
    expect((await readdir(f.root)).sort()).toEqual(['kept', 'note.md']);
  });

  it('keepPrevious by copy: a save that lands during the copy is kept, never replaced', async () => {
    await f.tree.write('note.md', utf8('old'));
    const scanned = await f.tree.stat('note.md');
    const { fs } = wrapFs(nodeFs, {
      link: async () => {
        throw errno('EXDEV');
      },
      copyFile: async (_args, call) => {
        const copied = await call();
        // The user's editor saves meanwhile (a new file renamed over the old one).
        await writeFile(join(f.root, '.save.tmp'), 'saved in the editor');
        await rename(join(f.root, '.save.tmp'), join(f.root, 'note.md'));
        return copied;
      },
    });
    const tree = new NodeTree({ root: f.root, trashDir: f.trash, fs });
    await expect(
      tree.write('note.md', utf8('from the bucket'), { expect: scanned, keepPrevious: true }),
    ).rejects.toMatchObject({ code: 'precondition-failed' });
    expect(await readText(tree, 'note.md')).toBe('saved in the editor');
    expect(await readdir(f.trash)).toEqual([]);
    expect((await readdir(f.root)).sort()).toEqual(['note.md']);
  });

  it('recreates a parent that a concurrent trash removed just before the write', async () => {
    await f.tree.write('a/old.md', utf8('old'));
    const location = await f.tree.trash('a/old.md');
    const removed: string[] = [];
    const removeOnce = async (dir: string) => {
      if (removed.includes(dir)) return;
      removed.push(dir);
      await rm(join(f.root, dir), { recursive: true });
    };
    const { fs } = wrapFs(nodeFs, {
      open: async (args, call) => {
        if (args[1] === 'wx') await removeOnce('a');
        return call();
      },
      link: async (args, call) => {
        if (args[1] === join(f.root, 'b', 'old.md')) await removeOnce('b');
        return call();
      },
    });
    const tree = new NodeTree({ root: f.root, trashDir: f.trash, fs });
    await tree.write('a/new.md', utf8('new'), { expect: null });
    await tree.restore(location, 'b/old.md');
    expect(removed).toEqual(['a', 'b']);
    expect(await readText(tree, 'a/new.md')).toBe('new');
    expect(await readText(tree, 'b/old.md')).toBe('old');
  });

  it('applies mtimeMs exactly, before the rename', async () => {
    const mtimeMs = Date.UTC(2024, 0, 1, 0, 0, 0, 123);
    const { stat } = await f.tree.write('dated.md', utf8('x'), { mtimeMs });
    expect(stat.mtimeMs).toBe(mtimeMs);
    expect((await lstat(join(f.root, 'dated.md'))).mtimeMs).toBe(mtimeMs);
  });

  describe('trash', () => {
    it('uses locations relative to the trash dir, each in its own slot', async () => {
      await f.tree.write('dir/note.md', utf8('x'));
      const location = await f.tree.trash('dir/note.md');
      expect(location).toMatch(/^\d+-\d{8}T\d{6}\.\d{3}Z\/dir\/note\.md$/);
      expect(await readFile(join(f.trash, location), 'utf8')).toBe('x');
      await f.tree.restore(location, 'dir/note.md');
      // The emptied slot is tidied away.
      expect(await readdir(f.trash)).toEqual([]);
      await expect(f.tree.restore(location, 'again.md')).rejects.toMatchObject({
        code: 'not-found',
      });
      await expect(f.tree.restore('../outside/secret.md', 'stolen.md')).rejects.toMatchObject({
        code: 'unsafe-path',
      });
      await expect(f.tree.restore('/etc/hostname', 'stolen.md')).rejects.toMatchObject({
        code: 'unsafe-path',
      });
    });

    it('removes the parents it emptied, but never the root', async () => {
      await f.tree.write('only.md', utf8('x'));
      await f.tree.trash('only.md');
      expect((await stat(f.root)).isDirectory()).toBe(true);
      await f.tree.write('a/keep.md', utf8('k'));
      await f.tree.write('a/b/c/d.md', utf8('d'));
      await f.tree.trash('a/b/c/d.md');
      expect(await readdir(join(f.root, 'a'))).toEqual(['keep.md']);
    });

    it('moves across devices by copy, rename aside and unlink', async () => {
      const mtimeMs = Date.UTC(2023, 1, 2, 3, 4, 5, 678);
      await f.tree.write('dir/note.md', utf8('keep me'), { mtimeMs });
      const { fs } = wrapFs(nodeFs, {
        rename: async (args, call) => {
          if (String(args[1]).startsWith(f.trash)) throw errno('EXDEV');
          return call();
        },
      });
      const tree = new NodeTree({ root: f.root, trashDir: f.trash, fs });
      const location = await tree.trash('dir/note.md', {
        expect: (await tree.stat('dir/note.md')) as FileStat,
      });
      expect(await readdir(f.root)).toEqual([]);
      expect((await lstat(join(f.trash, location))).mtimeMs).toBe(mtimeMs);
      await tree.restore(location, 'dir/note.md');
      expect(await readText(tree, 'dir/note.md')).toBe('keep me');
    });

    it('across devices, an edit made during the copy stays in place', async () => {
      const { stat: scanned } = await f.tree.write('note.md', utf8('scanned'));
      const { fs } = wrapFs(nodeFs, {
        rename: async (args, call) => {
          if (String(args[1]).startsWith(f.trash)) throw errno('EXDEV');
          if (String(args[1]).includes('.syncjournal-tmp-')) {
            await writeFile(join(f.root, 'note.md'), 'edited during the copy');
          }
          return call();
        },
      });
      const tree = new NodeTree({ root: f.root, trashDir: f.trash, fs });
      await expect(tree.trash('note.md', { expect: scanned })).rejects.toMatchObject({
        code: 'precondition-failed',
      });
      expect(await readText(tree, 'note.md')).toBe('edited during the copy');
      expect(await readdir(f.root)).toEqual(['note.md']);
      expect(await readdir(f.trash)).toEqual([]);
    });
  });

  describe('walk', () => {
    it('yields directories it may not list as unreadable, where their files sort, and walks on', async () => {
      for (const path of ['a/x.md', 'a-b.md', 'a0.md', 'b/in.md', 'b/sub/deep.md', 'c.md']) {
        await f.tree.write(path, utf8('x'));
      }
      const { fs } = wrapFs(nodeFs, {
        readdir: async (args, call) => {
          if (args[0] === join(f.root, 'a')) throw errno('EACCES');
          if (args[0] === join(f.root, 'b', 'sub')) throw errno('EPERM');
          return call();
        },
      });
      const tree = new NodeTree({ root: f.root, trashDir: f.trash, fs });
      const items = await walkAll(tree);
      expect(items.map((item) => [item.kind, item.path])).toEqual([
        ['file', 'a-b.md'],
        ['unreadable', 'a'],
        ['file', 'a0.md'],
        ['file', 'b/in.md'],
        ['unreadable', 'b/sub'],
        ['file', 'c.md'],
      ]);
      expect(items[1]).toMatchObject({
        code: 'EACCES',
        message: expect.stringContaining('EACCES'),
      });
      expect(items[4]).toMatchObject({ code: 'EPERM' });
    });

    it('throws when the root itself cannot be listed or is gone', async () => {
      const { fs } = wrapFs(nodeFs, {
        readdir: async (args, call) => {
          if (args[0] === f.root) throw errno('EACCES');
          return call();
        },
      });
      const tree = new NodeTree({ root: f.root, trashDir: f.trash, fs });
      await expect(walkAll(tree)).rejects.toMatchObject({ code: 'EACCES' });
      await rm(f.root, { recursive: true });
      await expect(walkAll(f.tree)).rejects.toMatchObject({ code: 'tree-root-missing' });
    });

    it('walks on a worker thread in the built package: the same items, the same errors', async () => {
      // Under vitest the sources are TypeScript, which a worker cannot load: the built
      // module is the one that walks on a worker (`npm test` builds first).
      const built = (await import('../dist/node-tree.js' as string)) as {
        NodeTree: typeof NodeTree;
      };
      for (const path of ['a.md', 'a-b/c.md', 'a/b/c/deep.md', 'z.md', 'É.md'])
        await f.tree.write(path, utf8(path));
      await writeFile(join(f.root, '.syncjournal-tmp-left'), 'temp');
      await writeFile(join(f.root, 'back\\slash.md'), 'x');
      if (posix) await symlink(join(f.root, 'a.md'), join(f.root, 'link.md'));
      const options = { root: f.root, trashDir: f.trash };
      const here = await walkAll(new NodeTree(options));
      expect(here.map((item) => [item.kind, item.path])).toEqual([
        ['file', 'a-b/c.md'],
        ['file', 'a.md'],
        ['file', 'a/b/c/deep.md'],
        ['skipped', 'back\\slash.md'],
        ...(posix ? [['skipped', 'link.md']] : []),
        ['file', 'z.md'],
        ['file', 'É.md'],
      ]);
      expect(await walkAll(new built.NodeTree(options))).toEqual(here);
      expect(await walkAll(new built.NodeTree({ ...options, walkInWorker: false }))).toEqual(here);

      // The worker walks as soon as walk() is called; a walk done here waits to be read.
      const early = new built.NodeTree(options).walk();
      const lazy = new built.NodeTree({ ...options, walkInWorker: false }).walk();
      await new Promise((resolve) => setTimeout(resolve, 3000));
      await f.tree.write('later.md', utf8('later'));
      const paths = async (walk: AsyncIterable<WalkItem>) => {
        const out: string[] = [];
        for await (const item of walk) out.push(item.path);
        return out;
      };
      expect(await paths(early)).not.toContain('later.md');
      expect(await paths(lazy)).toContain('later.md');

      await rm(f.root, { recursive: true });
      await expect(walkAll(new built.NodeTree(options))).rejects.toMatchObject({
        code: 'tree-root-missing',
      });
    });

    it.runIf(process.platform === 'linux')(
      'a walk given up before its first read stops its worker (a sync whose journal failed to open)',
      async () => {
        const built = (await import('../dist/node-tree.js' as string)) as {
          NodeTree: typeof NodeTree;
        };
        await f.tree.write('a.md', utf8('a'));
        // Each worker is a thread of this process: /proc/self/task lists them.
        const threads = () => readdirSync('/proc/self/task').length;
        // Counted once the count has held still for 50 ms: a worker of an earlier test
        // can still be being joined, and leave the list just as this one's joins it (seen
        // once in a full run: 12 for 13).
        let before = threads();
        for (let still = 0, i = 0; still < 5 && i < 300; i++) {
          await new Promise((resolve) => setTimeout(resolve, 10));
          const now = threads();
          still = now === before ? still + 1 : 0;
          before = now;
        }
        const walk = new built.NodeTree({ root: f.root, trashDir: f.trash })
          .walk()
          [Symbol.asyncIterator]();
        expect(threads()).toBe(before + 1);
        await walk.return?.();
        // The worker has exited when return() resolves; its OS thread can stay listed a
        // moment longer while Node joins it (seen once on a loaded machine: 12 for 11). The
        // wait is short: a worker left running would start (~0.1 s) and walk, not be gone.
        await expect.poll(() => threads() <= before, { timeout: 30, interval: 1 }).toBe(true);
      },
    );

    it('reports ino as a decimal string and times exactly as Node does', async () => {
      await f.tree.write('dir/note.md', utf8('x'));
      await utimes(join(f.root, 'dir/note.md'), 1_700_000_000.123456, 1_700_000_000.987654);
      const [item] = await walkAll(f.tree);
      const abs = join(f.root, 'dir/note.md');
      const plain = await lstat(abs);
      const big = await lstat(abs, { bigint: true });
      expect(item).toEqual({
        kind: 'file',
        path: 'dir/note.md',
        size: 1,
        mtimeMs: plain.mtimeMs,
        ctimeMs: plain.ctimeMs,
        ino: String(big.ino),
      });
      expect(item?.kind === 'file' && item.ino).toMatch(/^[1-9]\d*$/);
      expect(plain.mtimeMs % 1).not.toBe(0);
    });
  });

  describe('open', () => {
    it('creates the trash dir, probes inside it, and writes nothing into the root', async () => {
      await rm(f.trash, { recursive: true });
      const { fs, calls } = wrapFs(nodeFs);
      const tree = await NodeTree.open({ root: f.root, trashDir: f.trash, fs });
      expect(tree.caseInsensitive).toBe(diskCaseInsensitive);
      expect(tree.normalizationInsensitive).toBe(diskNormalizationInsensitive);
      expect(tree.timestampGranularityMs).toBe(1);
      expect(await readdir(f.trash)).toEqual([]);
      expect(await readdir(f.root)).toEqual([]);
      const touched = calls.filter((call) => !['stat', 'lstat', 'readdir'].includes(call.op));
      expect(touched.length).toBeGreaterThan(0);
      for (const call of touched) expect(String(call.args[0])).toContain(f.trash);
    });

    it('refuses a missing root and creates nothing', async () => {
      await rm(f.base, { recursive: true });
      await expect(NodeTree.open({ root: f.root, trashDir: f.trash })).rejects.toMatchObject({
        code: 'tree-root-missing',
      });
      await expect(stat(f.base)).rejects.toMatchObject({ code: 'ENOENT' });
    });

    it('never recreates a root that vanished', async () => {
      await rm(f.root, { recursive: true });
      await expect(f.tree.write('a/b.md', utf8('x'))).rejects.toMatchObject({
        code: 'tree-root-missing',
      });
      await expect(f.tree.mkdir('a')).rejects.toMatchObject({ code: 'tree-root-missing' });
      await expect(stat(f.root)).rejects.toMatchObject({ code: 'ENOENT' });
    });

    it('refuses a trash dir inside the root, or the other way round', async () => {
      for (const [root, trashDir] of [
        [f.root, join(f.root, '.trash')],
        [join(f.trash, 'sub'), f.trash],
        [f.root, f.root],
      ] as const) {
        expect(() => new NodeTree({ root, trashDir })).toThrow(
          expect.objectContaining({ code: 'tree-trash-nested' }),
        );
        await expect(NodeTree.open({ root, trashDir })).rejects.toMatchObject({
          code: 'tree-trash-nested',
        });
      }
      expect(await readdir(f.root)).toEqual([]);
    });
  });
});

describe('NodeTree on memfs', () => {
  it('probes case-insensitivity and timestamp granularity on the filesystem', async () => {
    const plain = await memFixture();
    expect(plain.tree.caseInsensitive).toBe(false);
    expect(plain.tree.timestampGranularityMs).toBe(1);

    // A filesystem that folds case: every path is looked up in lower case.
    const fold: Hook = (args, call) => {
      args[0] = String(args[0]).toLowerCase();
      return call();
    };
    const folded = await memFixture(
      { lstat: fold, stat: fold, open: fold, unlink: fold, utimes: fold, mkdir: fold },
      '/home/user/notes',
    );
    expect(folded.tree.caseInsensitive).toBe(true);
    expect([plain.tree.normalizationInsensitive, folded.tree.normalizationInsensitive]).toEqual([
      false,
      false,
    ]);
    const accents = await memFixture(FOLDS_ACCENTS);
    expect([accents.tree.caseInsensitive, accents.tree.normalizationInsensitive]).toEqual([
      false,
      true,
    ]);
    // A filesystem that refuses the accented probe name cannot hold such names: not folding.
    const refusing = await memFixture({
      open: (args, call) =>
        String(args[0]).endsWith('-probe-\u00e9')
          ? Promise.reject(Object.assign(new Error('EILSEQ'), { code: 'EILSEQ' }))
          : call(),
    });
    expect(refusing.tree.normalizationInsensitive).toBe(false);

    for (const [unit, expected] of [
      [2000, 2000],
      [1000, 1000],
    ] as const) {
      // A coarse clock: utimes stores the time rounded down to `unit`.
      const coarse = await memFixture({
        utimes: (args, call) => {
          const seconds = unit / 1000;
          args[2] = Math.floor(Number(args[2]) / seconds) * seconds;
          return call();
        },
      });
      expect(coarse.tree.timestampGranularityMs).toBe(expected);
    }
  });

  it('takes the given flags without probing', async () => {
    const { vol } = memfs();
    await vol.promises.mkdir(MEM_ROOT, { recursive: true });
    const { fs, calls } = wrapFs(vol.promises);
    const tree = await NodeTree.open({
      root: MEM_ROOT,
      trashDir: MEM_TRASH,
      fs,
      caseInsensitive: true,
      normalizationInsensitive: true,
      timestampGranularityMs: 2000,
    });
    expect([
      tree.caseInsensitive,
      tree.normalizationInsensitive,
      tree.timestampGranularityMs,
    ]).toEqual([true, true, 2000]);
    expect(calls.map((call) => call.op)).toEqual(['stat', 'mkdir']);
  });

  it('probes in the root, under a temp name, only when the trash dir is on another device', async () => {
    const { vol } = memfs();
    await vol.promises.mkdir(MEM_ROOT, { recursive: true });
    const { fs, calls } = wrapFs(vol.promises, {
      stat: async (args, call) => {
        const stats = (await call()) as object;
        return String(args[0]).startsWith(MEM_TRASH)
          ? Object.assign(Object.create(stats), { dev: 7n })
          : stats;
      },
    });
    await NodeTree.open({ root: MEM_ROOT, trashDir: MEM_TRASH, fs });
    const created = calls.filter((call) => call.op === 'open').map((call) => String(call.args[0]));
    expect(created).toHaveLength(2);
    expect(created[0]).toMatch(
      /^\/home\/user\/Notes\/\.syncjournal-tmp-\d+-[0-9a-f]{16}-[0-9a-z]+-probe$/,
    );
    expect(created[1]).toMatch(
      /^\/home\/user\/Notes\/\.syncjournal-tmp-\d+-[0-9a-f]{16}-[0-9a-z]+-probe-\u00e9$/,
    );
    expect(await vol.promises.readdir(MEM_ROOT)).toEqual([]);
  });

  it('throws when the root itself is unreadable', async () => {
    const { tree, fs } = await memFixture();
    await tree.write('a.md', utf8('a'));
    await fs.chmod(MEM_ROOT, 0);
    await expect(walkAll(tree)).rejects.toMatchObject({ code: 'EACCES' });
  });

  it('writes nothing outside the root and the trash dir', async () => {
    const { tree, fs, calls } = await memFixture();
    await fs.mkdir('/home/user/elsewhere');
    await fs.writeFile('/home/user/elsewhere/x.md', 'x');
    await fs.symlink('/home/user/elsewhere', `${MEM_ROOT}/link`);
    calls.length = 0;
    const { stat } = await tree.write('a/b.md', utf8('one'));
    await tree.write('a/b.md', utf8('two'), { expect: stat, keepPrevious: true });
    const location = await tree.trash('a/b.md');
    await tree.restore(location, 'c/d.md');
    await tree.mkdir('e/f');
    await expect(tree.write('link/x.md', utf8('x'))).rejects.toMatchObject({
      code: 'unsafe-path',
    });
    await expect(tree.write('g.md', failingAfter('x', new Error('boom')))).rejects.toThrow('boom');
    const mutating = ['open', 'rename', 'link', 'unlink', 'mkdir', 'rmdir', 'utimes', 'copyFile'];
    const written = calls
      .filter((call) => mutating.includes(call.op) && call.args[1] !== 'r')
      .flatMap((call) => call.args.filter((arg): arg is string => typeof arg === 'string'))
      .filter((arg) => arg.startsWith('/'));
    expect(written.length).toBeGreaterThan(0);
    for (const path of written) {
      const inside = [MEM_ROOT, MEM_TRASH].some(
        (dir) => path === dir || path.startsWith(`${dir}/`),
      );
      expect(inside, path).toBe(true);
    }
    expect(await fs.readdir('/home/user/elsewhere')).toEqual(['x.md']);
  });
});

describe('the engine on a real folder', () => {
  it('skips and reports remote keys the folder could not hold, and syncs the rest', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'syncjournal-unsafe-'));
    try {
      await mkdir(join(dir, 'root'));
      const tree = await NodeTree.open({ root: join(dir, 'root'), trashDir: join(dir, 'trash') });
      const clock = new ManualClock(Date.UTC(2026, 11, 7, 9, 0, 0));
      const store = new MemoryStore({ clock });
      store.putText('win\\doc.txt', 'from a Windows tool');
      store.putText('.syncjournal-tmp-abc', 'a temp name');
      store.putText('a', 'a file');
      store.putText('a/b', 'a file inside it');
      store.putText('ok.txt', 'ok');
      const engine = createSyncEngine({
        tree,
        store,
        journal: new MemoryJournal({ hasher: nodeHasher, clock }),
        hasher: nodeHasher,
        clock,
        pair: { id: 'p', local: join(dir, 'root'), remote: 'memory://bucket' },
        clientId: 'c',
      });
      for (let run = 0; run < 2; run++) {
        const { report } = await engine.sync();
        // Every run before rules 2 failed on these keys, for good.
        expect(report.status).toBe('in-sync');
        expect(report.errors).toEqual([]);
        expect(report.guards.find((g) => g.guard === 'unsafe-keys')).toMatchObject({
          verdict: 'limited',
          paths: ['.syncjournal-tmp-abc', 'a', 'a/b', 'win\\doc.txt'],
        });
        clock.advance(10_000);
      }
      expect(await readdir(join(dir, 'root'))).toEqual(['ok.txt']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
