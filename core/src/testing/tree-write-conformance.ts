import { describe, expect, it } from 'vitest';
import type { FileStat, LocalTree } from '../ports/tree.js';
import {
  expectCode,
  expectSameBytes,
  inChunks,
  patternBytes,
  readBytes,
  readText,
  utf8,
  walkAll,
  walkedFiles,
} from './helpers.js';

/** The parts of a stat the port's `expect` compares, for equality checks. */
function identity(stat: FileStat | undefined): Pick<FileStat, 'size' | 'mtimeMs' | 'ino'> {
  if (!stat) throw new Error('expected a stat');
  return { size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino };
}

/** The write, trash and restore part of {@link runTreeConformance}. */
export function describeTreeWrites(tree: () => LocalTree): void {
  describe('write', () => {
    it('creates missing parent directories', async () => {
      await tree().write('a/b/c/note.md', utf8('deep'));
      expect(await readText(tree(), 'a/b/c/note.md')).toBe('deep');
    });

    it('returns the stat that stat() then reports', async () => {
      const { stat, trashed } = await tree().write('note.md', utf8('hello'));
      expect(trashed).toBeUndefined();
      expect(stat.size).toBe(5);
      expect(identity(await tree().stat('note.md'))).toEqual(identity(stat));
    });

    it('accepts data as a stream of chunks', async () => {
      const data = patternBytes(100_000);
      const { stat } = await tree().write('streamed.bin', inChunks(data, 7));
      expect(stat.size).toBe(data.length);
      expectSameBytes(await readBytes(tree(), 'streamed.bin'), data);
    });

    it('replaces an existing file when no expect is given', async () => {
      await tree().write('note.md', utf8('one'));
      await tree().write('note.md', utf8('three'));
      expect(await readText(tree(), 'note.md')).toBe('three');
      expect(await walkedFiles(tree())).toEqual(['note.md']);
    });

    it('leaves no temporary files behind', async () => {
      for (let i = 0; i < 5; i++) await tree().write('dir/note.md', utf8(`version ${i}`));
      await tree().write('other.md', utf8('x'), { expect: null });
      expect(await walkedFiles(tree())).toEqual(['dir/note.md', 'other.md']);
    });

    it('accepts an mtimeMs and still returns the stat that stat() reports', async () => {
      const mtimeMs = Date.UTC(2025, 0, 2, 3, 4, 6);
      const { stat } = await tree().write('dated.md', utf8('x'), { mtimeMs });
      expect(identity(await tree().stat('dated.md'))).toEqual(identity(stat));
    });
  });

  describe('write with expect', () => {
    it('null creates a file where nothing is', async () => {
      await tree().write('new.md', utf8('new'), { expect: null });
      expect(await readText(tree(), 'new.md')).toBe('new');
    });

    it('null fails when a file is there, and changes nothing', async () => {
      await tree().write('note.md', utf8('mine'));
      const before = identity(await tree().stat('note.md'));
      await expectCode(
        () => tree().write('note.md', utf8('theirs'), { expect: null }),
        'precondition-failed',
      );
      expect(await readText(tree(), 'note.md')).toBe('mine');
      expect(identity(await tree().stat('note.md'))).toEqual(before);
    });

    it('a stat succeeds while the file is unchanged (from write, stat or walk)', async () => {
      const { stat: written } = await tree().write('note.md', utf8('one'));
      const { stat: second } = await tree().write('note.md', utf8('two'), { expect: written });
      const stat = await tree().stat('note.md');
      if (!stat) throw new Error('note.md is missing');
      expect(identity(stat)).toEqual(identity(second));
      const { stat: third } = await tree().write('note.md', utf8('three'), { expect: stat });
      const [item] = await walkAll(tree());
      if (item?.kind !== 'file') throw new Error('note.md was not walked as a file');
      expect(identity(item)).toEqual(identity(third));
      await tree().write('note.md', utf8('four'), { expect: item });
      expect(await readText(tree(), 'note.md')).toBe('four');
    });

    it('a stale stat fails after the file changed, and changes nothing', async () => {
      const { stat: stale } = await tree().write('note.md', utf8('one'));
      await tree().write('note.md', utf8('edited by the user'));
      await expectCode(
        () => tree().write('note.md', utf8('from the remote'), { expect: stale }),
        'precondition-failed',
      );
      expect(await readText(tree(), 'note.md')).toBe('edited by the user');
    });

    it('a stat fails when the file is gone, and creates nothing', async () => {
      const { stat } = await tree().write('note.md', utf8('one'));
      await tree().trash('note.md');
      await expectCode(
        () => tree().write('note.md', utf8('two'), { expect: stat }),
        'precondition-failed',
      );
      expect(await tree().stat('note.md')).toBeUndefined();
      expect(await walkAll(tree())).toEqual([]);
    });

    it('keepPrevious moves the replaced file into the trash', async () => {
      await tree().write('note.md', utf8('old'));
      const { trashed } = await tree().write('note.md', utf8('new'), { keepPrevious: true });
      expect(typeof trashed).toBe('string');
      expect(await readText(tree(), 'note.md')).toBe('new');
      expect(await walkedFiles(tree())).toEqual(['note.md']);
      await tree().restore(trashed as string, 'kept/note.md');
      expect(await readText(tree(), 'kept/note.md')).toBe('old');
    });

    it('keepPrevious returns no trash location when nothing was replaced', async () => {
      const { trashed } = await tree().write('fresh.md', utf8('x'), { keepPrevious: true });
      expect(trashed).toBeUndefined();
    });
  });

  describe('trash and restore', () => {
    it('trash removes the file and returns a location that restore accepts', async () => {
      await tree().write('dir/note.md', utf8('keep me'));
      await tree().write('other.md', utf8('x'));
      const location = await tree().trash('dir/note.md');
      expect(typeof location).toBe('string');
      expect(await tree().stat('dir/note.md')).toBeUndefined();
      expect(await walkedFiles(tree())).toEqual(['other.md']);
      const stat = await tree().restore(location, 'dir/note.md');
      expect(stat.size).toBe(7);
      expect(identity(await tree().stat('dir/note.md'))).toEqual(identity(stat));
      expect(await readText(tree(), 'dir/note.md')).toBe('keep me');
    });

    it('trash throws NotFoundError when nothing is there', async () => {
      await expectCode(() => tree().trash('missing.md'), 'not-found');
    });

    it('trash with a current expect succeeds; with a stale one it keeps the file', async () => {
      const { stat: stale } = await tree().write('a.md', utf8('one'));
      const { stat: fresh } = await tree().write('a.md', utf8('three'));
      await expectCode(() => tree().trash('a.md', { expect: stale }), 'precondition-failed');
      expect(await readText(tree(), 'a.md')).toBe('three');
      await tree().trash('a.md', { expect: fresh });
      expect(await tree().stat('a.md')).toBeUndefined();
    });

    it('trash with an expect on a missing file fails', async () => {
      const { stat } = await tree().write('a.md', utf8('one'));
      await tree().trash('a.md');
      // The port allows either answer: nothing is there, and the expect cannot hold.
      const error = await tree()
        .trash('a.md', { expect: stat })
        .then(
          () => undefined,
          (e: unknown) => e as { code?: unknown },
        );
      expect(['not-found', 'precondition-failed']).toContain(error?.code);
    });

    it('trash removes the parent directories it leaves empty', async () => {
      await tree().write('p/q/r.md', utf8('x'));
      await tree().trash('p/q/r.md');
      // Were `p` still a directory, a file could not be written in its place.
      await tree().write('p', utf8('now a file'), { expect: null });
      expect(await walkedFiles(tree())).toEqual(['p']);
    });

    it('trash keeps parent directories that still hold files', async () => {
      await tree().write('p/a.md', utf8('a'));
      await tree().write('p/q/b.md', utf8('b'));
      await tree().trash('p/q/b.md');
      expect(await walkedFiles(tree())).toEqual(['p/a.md']);
      await tree().write('p/q/c.md', utf8('c'), { expect: null });
      expect(await walkedFiles(tree())).toEqual(['p/a.md', 'p/q/c.md']);
    });

    it('gives each trashing of the same path its own location', async () => {
      await tree().write('note.md', utf8('first'));
      const first = await tree().trash('note.md');
      await tree().write('note.md', utf8('second'));
      const second = await tree().trash('note.md');
      expect(first).not.toBe(second);
      await tree().restore(first, 'first.md');
      await tree().restore(second, 'second.md');
      expect(await readText(tree(), 'first.md')).toBe('first');
      expect(await readText(tree(), 'second.md')).toBe('second');
    });

    it('a trash location is <slot>/<path>, and statTrash sees what is there', async () => {
      await tree().write('d/e/note.md', utf8('kept'));
      const location = await tree().trash('d/e/note.md');
      expect(location).toMatch(/^[^/]+\/d\/e\/note\.md$/);
      expect((await tree().statTrash(location))?.size).toBe(4);
      await tree().restore(location, 'd/e/note.md');
      expect(await tree().statTrash(location)).toBeUndefined();
    });

    it('trashSlot names the slot; a taken slot gets ~2, ~3', async () => {
      await tree().write('d/a.md', utf8('one'));
      expect(await tree().trash('d/a.md', { trashSlot: 'run-3-op-7' })).toBe('run-3-op-7/d/a.md');
      await tree().write('d/a.md', utf8('two'));
      expect(await tree().trash('d/a.md', { trashSlot: 'run-3-op-7' })).toBe('run-3-op-7~2/d/a.md');
      await tree().write('b.md', utf8('three'));
      const { trashed } = await tree().write('b.md', utf8('four'), {
        keepPrevious: true,
        trashSlot: 'run-3-op-7',
      });
      // A slot holds one file: another path does not share it either.
      expect(trashed).toBe('run-3-op-7~3/b.md');
      expect((await tree().statTrash('run-3-op-7~2/d/a.md'))?.size).toBe(3);
      await tree().restore('run-3-op-7/d/a.md', 'first.md');
      await tree().restore('run-3-op-7~2/d/a.md', 'second.md');
      await tree().restore('run-3-op-7~3/b.md', 'third.md');
      expect(
        await Promise.all(['first.md', 'second.md', 'third.md'].map((p) => readText(tree(), p))),
      ).toEqual(['one', 'two', 'three']);
      expect(await tree().statTrash('run-3-op-7/d/a.md')).toBeUndefined();
    });

    it('refuses a trashSlot that is not one plain name, and changes nothing', async () => {
      await tree().write('a.md', utf8('one'));
      for (const slot of ['', 'a/b', '..', 'x~2', '.hidden']) {
        await expectCode(() => tree().trash('a.md', { trashSlot: slot }), 'invalid-trash-slot');
        await expectCode(
          () => tree().write('a.md', utf8('two'), { keepPrevious: true, trashSlot: slot }),
          'invalid-trash-slot',
        );
      }
      expect(await readText(tree(), 'a.md')).toBe('one');
    });

    it('restore recreates parent directories', async () => {
      await tree().write('deep/dir/note.md', utf8('x'));
      await tree().restore(await tree().trash('deep/dir/note.md'), 'deep/dir/note.md');
      expect(await readText(tree(), 'deep/dir/note.md')).toBe('x');
      await tree().restore(await tree().trash('deep/dir/note.md'), 'elsewhere/new/note.md');
      expect(await walkedFiles(tree())).toEqual(['elsewhere/new/note.md']);
    });

    it('restore refuses an occupied path and changes nothing', async () => {
      await tree().write('note.md', utf8('trashed'));
      const location = await tree().trash('note.md');
      await tree().write('note.md', utf8('newer'));
      await expect(tree().restore(location, 'note.md')).rejects.toThrow();
      expect(await readText(tree(), 'note.md')).toBe('newer');
      await tree().restore(location, 'note.restored.md');
      expect(await readText(tree(), 'note.restored.md')).toBe('trashed');
    });
  });
}
