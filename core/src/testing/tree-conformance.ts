import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { concatBytes } from '../memory/bytes.js';
import { comparePaths } from '../paths.js';
import type { LocalTree } from '../ports/tree.js';
import {
  expectCode,
  expectSameBytes,
  ORDERED_PATHS,
  patternBytes,
  readText,
  SHUFFLED_PATHS,
  utf8,
  walkAll,
  walkedFiles,
} from './helpers.js';
import { describeTreeWrites } from './tree-write-conformance.js';

/** One tree under test, fresh for each test. */
export interface TreeFixture {
  /** An empty tree. */
  tree: LocalTree;
  /** Releases it (a temp folder, an OPFS directory); must cope with what the hooks did. */
  teardown?(): void | Promise<void>;
}

/**
 * How {@link runTreeConformance} gets trees, what they are, and the platform tricks
 * it may use. The declaration and the hooks given pick which tests are registered: a
 * test that does not apply is not there, rather than skipped (a root user cannot make
 * a directory unreadable; OPFS has no symbolic links). The suite checks every tree
 * against the declaration.
 */
export interface TreeSetup<F extends TreeFixture = TreeFixture> {
  /** A fresh, empty tree for one test. */
  create(): F | Promise<F>;
  /** The `caseInsensitive` every tree from {@link create} reports. */
  readonly caseInsensitive: boolean;
  /** The `normalizationInsensitive` every tree from {@link create} reports (absent: false). */
  readonly normalizationInsensitive?: boolean;
  /** Makes the existing directory at `path` unreadable, as `chmod 000` does. */
  makeUnreadable?(fixture: F, path: string): void | Promise<void>;
  /** Makes `path` a symbolic link to `target`, both relative to the tree's root. */
  makeSymlink?(fixture: F, path: string, target: string): void | Promise<void>;
}

/**
 * The shared test suite of the {@link LocalTree} port: every tree implementation
 * runs it (memory, Node fs, OPFS), so they all behave as the port's doc comments
 * promise. It checks only those promises, and adapts to the declared `caseInsensitive`
 * and `normalizationInsensitive`.
 */
export function runTreeConformance<F extends TreeFixture>(name: string, setup: TreeSetup<F>): void {
  describe(`LocalTree conformance: ${name}`, () => {
    let fixture: F | undefined;
    beforeEach(async () => {
      fixture = await setup.create();
    });
    afterEach(async () => {
      const done = fixture;
      fixture = undefined;
      await done?.teardown?.();
    });
    const current = (): F => {
      if (!fixture) throw new Error('the tree fixture was not created');
      return fixture;
    };
    const tree = (): LocalTree => current().tree;

    it('describes itself with the declared case and normalization flags and a positive timestamp granularity', () => {
      expect(tree().caseInsensitive).toBe(setup.caseInsensitive);
      expect(tree().normalizationInsensitive ?? false).toBe(
        setup.normalizationInsensitive ?? false,
      );
      expect(tree().timestampGranularityMs).toBeGreaterThan(0);
    });

    describe('walk', () => {
      it('yields nothing for an empty tree', async () => {
        expect(await walkAll(tree())).toEqual([]);
      });

      it('yields every file in comparePaths order of full paths', async () => {
        for (const path of SHUFFLED_PATHS) await tree().write(path, utf8(path));
        const walked = await walkedFiles(tree());
        expect(walked).toEqual(ORDERED_PATHS);
        expect([...walked].sort(comparePaths)).toEqual(walked);
      });

      it('yields no directories, even empty ones', async () => {
        await tree().mkdir('empty/inner');
        await tree().write('full/file.md', utf8('x'));
        const items = await walkAll(tree());
        expect(items.map((item) => [item.kind, item.path])).toEqual([['file', 'full/file.md']]);
      });

      it('reports each file with the stat that stat() gives', async () => {
        await tree().write('one.md', utf8('one'));
        await tree().write('dir/three.md', utf8('three'));
        for (const item of await walkAll(tree())) {
          if (item.kind !== 'file') throw new Error(`unexpected ${item.kind} item ${item.path}`);
          const stat = await tree().stat(item.path);
          expect(stat).toBeDefined();
          expect(item.size).toBe(stat?.size);
          expect(item.mtimeMs).toBe(stat?.mtimeMs);
          expect(item.ino).toBe(stat?.ino);
        }
        expect((await walkAll(tree())).map((item) => item.kind === 'file' && item.size)).toEqual([
          5, 3,
        ]);
      });

      const makeUnreadable = setup.makeUnreadable?.bind(setup);
      const makeSymlink = setup.makeSymlink?.bind(setup);
      if (makeUnreadable) {
        it('yields an unreadable directory as unreadable and walks on', async () => {
          for (const path of ['d/x.md', 'd/sub/y.md', 'd-e.md', 'd0.md', 'e/z.md']) {
            await tree().write(path, utf8('x'));
          }
          await makeUnreadable(current(), 'd');
          const items = await walkAll(tree());
          const unreadable = items.filter((item) => item.kind === 'unreadable');
          expect(unreadable).toEqual([
            {
              kind: 'unreadable',
              path: 'd',
              code: expect.any(String),
              message: expect.any(String),
            },
          ]);
          expect(unreadable[0]?.kind === 'unreadable' && unreadable[0].code).not.toBe('');
          expect(await walkedFiles(tree())).toEqual(['d-e.md', 'd0.md', 'e/z.md']);
        });
      }

      if (makeSymlink) {
        it('yields a symbolic link as skipped and never follows it', async () => {
          await tree().write('a.md', utf8('a'));
          await tree().write('real/x.md', utf8('x'));
          await makeSymlink(current(), 'alias.md', 'a.md');
          await makeSymlink(current(), 'link', 'real');
          const items = await walkAll(tree());
          const skipped = items.filter((item) => item.kind === 'skipped');
          expect(skipped).toHaveLength(2);
          expect(skipped).toEqual(
            expect.arrayContaining([
              { kind: 'skipped', path: 'alias.md', reason: 'symlink' },
              { kind: 'skipped', path: 'link', reason: 'symlink' },
            ]),
          );
          expect(await walkedFiles(tree())).toEqual(['a.md', 'real/x.md']);
        });
      }
    });

    describe('stat and read', () => {
      it('stat returns undefined for a missing path and for a directory', async () => {
        await tree().write('dir/file.md', utf8('x'));
        await tree().mkdir('made');
        expect(await tree().stat('missing.md')).toBeUndefined();
        expect(await tree().stat('dir/missing.md')).toBeUndefined();
        expect(await tree().stat('dir')).toBeUndefined();
        expect(await tree().stat('made')).toBeUndefined();
      });

      it('stat reports the size and mtime of a file', async () => {
        await tree().write('note.md', utf8('hello, world'));
        const stat = await tree().stat('note.md');
        expect(stat?.size).toBe(12);
        expect(Number.isFinite(stat?.mtimeMs)).toBe(true);
      });

      it('read streams the bytes written, as Uint8Array chunks', async () => {
        const data = patternBytes(300_000);
        await tree().write('bin/data.bin', data);
        const chunks: Uint8Array[] = [];
        for await (const chunk of tree().read('bin/data.bin')) chunks.push(chunk);
        for (const chunk of chunks) expect(chunk).toBeInstanceOf(Uint8Array);
        expectSameBytes(concatBytes(chunks), data);
      });

      it('reads an empty file as no bytes', async () => {
        await tree().write('empty.md', new Uint8Array());
        expect(await readText(tree(), 'empty.md')).toBe('');
        expect((await tree().stat('empty.md'))?.size).toBe(0);
      });

      it('read throws NotFoundError for a missing file', async () => {
        await expectCode(() => readText(tree(), 'missing.md'), 'not-found');
        await expectCode(() => readText(tree(), 'no/such/dir.md'), 'not-found');
      });
    });

    describe('mkdir', () => {
      it('creates nested directories, idempotently, that files can be written into', async () => {
        await tree().mkdir('x/y/z');
        await tree().mkdir('x/y/z');
        await tree().mkdir('x/y');
        expect(await walkAll(tree())).toEqual([]);
        await tree().write('x/y/z/f.md', utf8('f'), { expect: null });
        expect(await walkedFiles(tree())).toEqual(['x/y/z/f.md']);
      });
    });

    describe('case', () => {
      if (setup.caseInsensitive) {
        it('treats differently cased paths as one file when case-insensitive', async () => {
          await tree().write('Notes/Todo.md', utf8('one'));
          expect((await tree().stat('notes/todo.md'))?.size).toBe(3);
          expect(await readText(tree(), 'NOTES/TODO.MD')).toBe('one');
          await expectCode(
            () => tree().write('notes/todo.md', utf8('two'), { expect: null }),
            'precondition-failed',
          );
          await tree().write('notes/TODO.md', utf8('three'));
          const walked = await walkedFiles(tree());
          expect(walked).toHaveLength(1);
          expect(walked[0]?.toLowerCase()).toBe('notes/todo.md');
          expect(await readText(tree(), 'Notes/Todo.md')).toBe('three');
        });
      } else {
        it('keeps differently cased paths apart when case-sensitive', async () => {
          await tree().write('Todo.md', utf8('upper'), { expect: null });
          await tree().write('todo.md', utf8('lower'), { expect: null });
          expect(await walkedFiles(tree())).toEqual(['Todo.md', 'todo.md']);
          expect(await readText(tree(), 'Todo.md')).toBe('upper');
          expect(await readText(tree(), 'todo.md')).toBe('lower');
        });
      }
    });

    describe('accent encoding (Unicode normalization)', () => {
      // "Crème" with è as one code point (NFC), and as e plus a combining grave (NFD).
      const nfc = 'Cr\u00e8me/br\u00fbl\u00e9e.md';
      const nfd = nfc.normalize('NFD');
      if (setup.normalizationInsensitive) {
        it('treats the NFC and NFD encodings of a name as one file when normalization-insensitive', async () => {
          await tree().write(nfc, utf8('one'), { expect: null });
          expect((await tree().stat(nfd))?.size).toBe(3);
          expect(await readText(tree(), nfd)).toBe('one');
          await expectCode(
            () => tree().write(nfd, utf8('two'), { expect: null }),
            'precondition-failed',
          );
          const walked = await walkedFiles(tree());
          expect(walked).toHaveLength(1);
          expect(walked[0]?.normalize('NFC')).toBe(nfc);
        });
      } else {
        it('keeps the NFC and NFD encodings of a name apart when normalization-sensitive', async () => {
          await tree().write(nfc, utf8('composed'), { expect: null });
          await tree().write(nfd, utf8('decomposed'), { expect: null });
          expect(await walkedFiles(tree())).toEqual([nfc, nfd].sort(comparePaths));
          expect(await readText(tree(), nfc)).toBe('composed');
          expect(await readText(tree(), nfd)).toBe('decomposed');
        });
      }
    });

    describeTreeWrites(tree);
  });
}
