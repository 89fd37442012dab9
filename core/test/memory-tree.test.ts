import { describe, expect, it } from 'vitest';
import { ManualClock, MemoryTree } from '../src/index.js';
import { runTreeConformance } from '../src/testing/index.js';

async function read(tree: MemoryTree, path: string): Promise<string> {
  let text = '';
  for await (const chunk of tree.read(path)) text += new TextDecoder().decode(chunk);
  return text;
}

async function walk(tree: MemoryTree) {
  const items = [];
  for await (const item of tree.walk()) items.push(item);
  return items;
}

const bytes = (text: string) => new TextEncoder().encode(text);

for (const caseInsensitive of [false, true]) {
  runTreeConformance(`MemoryTree (${caseInsensitive ? 'case-insensitive' : 'case-sensitive'})`, {
    create: () => ({ tree: new MemoryTree({ caseInsensitive }) }),
    caseInsensitive,
    makeUnreadable: ({ tree }, path) => tree.failDirectory(path),
    makeSymlink: ({ tree }, path) => tree.addSymlink(path),
  });
}

runTreeConformance('MemoryTree (macOS-like: ignores case and accent encoding)', {
  create: () => ({
    tree: new MemoryTree({ caseInsensitive: true, normalizationInsensitive: true }),
  }),
  caseInsensitive: true,
  normalizationInsensitive: true,
});

runTreeConformance('MemoryTree (FAT-like 2 s mtimes, manual clock)', {
  create: () => ({
    tree: new MemoryTree({ clock: new ManualClock(), timestampGranularityMs: 2000 }),
  }),
  caseInsensitive: false,
});

describe('MemoryTree', () => {
  it('takes mtimes from its clock, truncated to its granularity', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const tree = new MemoryTree({ clock, timestampGranularityMs: 2000 });
    clock.advance(3999);
    const { stat } = await tree.write('a.md', bytes('a'));
    expect(stat.mtimeMs).toBe(Date.UTC(2026, 0, 1) + 2000);
    expect(stat.ctimeMs).toBe(Date.UTC(2026, 0, 1) + 3999);
    const dated = await tree.write('b.md', bytes('b'), { mtimeMs: 12_345 });
    expect(dated.stat.mtimeMs).toBe(12_000);
  });

  it('gives every atomic write a new inode, as a rename does', async () => {
    const tree = new MemoryTree();
    const first = await tree.write('a.md', bytes('a'));
    const second = await tree.write('a.md', bytes('b'));
    expect(Number(second.stat.ino)).toBeGreaterThan(Number(first.stat.ino));
  });

  it('keeps the first-written spelling when case-insensitive', async () => {
    const tree = new MemoryTree({ caseInsensitive: true });
    await tree.write('Notes/Todo.md', bytes('one'));
    await tree.write('NOTES/TODO.MD', bytes('two'));
    await tree.write('notes/other.md', bytes('x'));
    expect([...tree.files().keys()]).toEqual(['Notes/Todo.md', 'Notes/other.md']);
    expect(tree.readText('notes/todo.md')).toBe('two');
  });

  describe('test helpers', () => {
    it('writeText edits in place: no expect check, same inode, explicit mtime allowed', async () => {
      const clock = new ManualClock();
      const tree = new MemoryTree({ clock });
      const { stat } = await tree.write('a.md', bytes('aaa'));
      clock.advance(5000);
      const edited = tree.writeText('a.md', 'bbb', { mtimeMs: stat.mtimeMs });
      expect(edited).toMatchObject({ size: 3, mtimeMs: stat.mtimeMs, ino: stat.ino });
      expect(edited.ctimeMs).toBe(clock.now());
      expect(await read(tree, 'a.md')).toBe('bbb');
      // Same size, mtime and inode: the expect check cannot tell; that is the racy case.
      await tree.write('a.md', bytes('ccc'), { expect: stat });
      expect(tree.readText('a.md')).toBe('ccc');
    });

    it('writeBytes, remove, files and readText act outside the port', async () => {
      const tree = new MemoryTree();
      tree.writeBytes('z/b.bin', Uint8Array.of(1, 2, 3));
      tree.writeText('a.md', 'héllo 😀');
      expect(tree.readText('a.md')).toBe('héllo 😀');
      expect(tree.files()).toEqual(
        new Map([
          ['a.md', bytes('héllo 😀')],
          ['z/b.bin', Uint8Array.of(1, 2, 3)],
        ]),
      );
      tree.remove('a.md');
      expect(tree.trashed()).toEqual([]);
      expect(() => tree.remove('a.md')).toThrow(expect.objectContaining({ code: 'not-found' }));
      expect(() => tree.readText('a.md')).toThrow(expect.objectContaining({ code: 'not-found' }));
    });

    it('files() returns copies', async () => {
      const tree = new MemoryTree();
      tree.writeText('a.md', 'a');
      tree.files().get('a.md')?.fill(0);
      expect(tree.readText('a.md')).toBe('a');
    });

    it('trashed() lists what trash and keepPrevious kept, with locations restore accepts', async () => {
      const tree = new MemoryTree();
      await tree.write('dir/a.md', bytes('one'));
      const { trashed } = await tree.write('dir/a.md', bytes('two'), { keepPrevious: true });
      const location = await tree.trash('dir/a.md');
      expect(tree.trashed()).toEqual([
        { location: trashed, path: 'dir/a.md', data: bytes('one') },
        { location, path: 'dir/a.md', data: bytes('two') },
      ]);
      expect(location).toMatch(/^trash-\d+\/dir\/a\.md$/);
      await tree.restore(location, 'b.md');
      expect(tree.trashed()).toHaveLength(1);
      await expect(tree.restore(location, 'c.md')).rejects.toMatchObject({ code: 'not-found' });
    });

    it('rejects paths the port rules out', async () => {
      const tree = new MemoryTree();
      for (const path of ['', '/a', 'a/', 'a//b', './a', 'a/../b']) {
        await expect(tree.write(path, bytes('x'))).rejects.toMatchObject({ code: 'invalid-path' });
      }
    });
  });

  describe('fault injection', () => {
    it('failDirectory yields the directory as unreadable where its files would sort', async () => {
      const tree = new MemoryTree();
      for (const path of ['a-b.md', 'a/x.md', 'a/y/z.md', 'a0.md']) tree.writeText(path, 'x');
      tree.failDirectory('a');
      expect((await walk(tree)).map((item) => [item.kind, item.path])).toEqual([
        ['file', 'a-b.md'],
        ['unreadable', 'a'],
        ['file', 'a0.md'],
      ]);
      expect((await walk(tree))[1]).toMatchObject({ code: 'EACCES' });
      await expect(read(tree, 'a/x.md')).rejects.toMatchObject({ code: 'EACCES' });
      await expect(tree.stat('a/y/z.md')).rejects.toMatchObject({ code: 'EACCES' });
      await expect(tree.write('a/new.md', bytes('x'))).rejects.toMatchObject({ code: 'EACCES' });
      await expect(tree.trash('a/x.md')).rejects.toMatchObject({ code: 'EACCES' });
      tree.healDirectory('a');
      expect(await walk(tree)).toHaveLength(4);
    });

    it('failDirectory inside a failed directory shows only the outer one', async () => {
      const tree = new MemoryTree();
      tree.writeText('a/b/c.md', 'x');
      tree.failDirectory('a/b');
      tree.failDirectory('a');
      expect((await walk(tree)).map((item) => item.path)).toEqual(['a']);
    });

    it('failDirectory("") makes the walk itself throw', async () => {
      const tree = new MemoryTree();
      tree.writeText('a.md', 'x');
      tree.failDirectory('');
      await expect(walk(tree)).rejects.toMatchObject({ code: 'EACCES' });
    });

    it('addSymlink is walked as skipped and takes the place a file would', async () => {
      const tree = new MemoryTree();
      tree.writeText('b.md', 'b');
      tree.addSymlink('a.md');
      expect(await walk(tree)).toEqual([
        { kind: 'skipped', path: 'a.md', reason: 'symlink' },
        expect.objectContaining({ kind: 'file', path: 'b.md' }),
      ]);
      expect(await tree.stat('a.md')).toBeUndefined();
      await expect(tree.write('a.md', bytes('x'), { expect: null })).rejects.toMatchObject({
        code: 'precondition-failed',
      });
      await tree.write('a.md', bytes('x'));
      expect((await walk(tree)).map((item) => item.kind)).toEqual(['file', 'file']);
    });

    it('beforeNextWrite races a user edit with the next write, once', async () => {
      const tree = new MemoryTree();
      const { stat } = await tree.write('a.md', bytes('scanned'));
      const seen: string[] = [];
      tree.beforeNextWrite((path) => {
        seen.push(path);
        tree.writeText(path, 'user edit');
      });
      await expect(tree.write('a.md', bytes('download'), { expect: stat })).rejects.toMatchObject({
        code: 'precondition-failed',
      });
      expect(seen).toEqual(['a.md']);
      expect(tree.readText('a.md')).toBe('user edit');
      const fresh = await tree.stat('a.md');
      await tree.write('a.md', bytes('download'), { expect: fresh });
      expect(seen).toEqual(['a.md']);
    });

    it('beforeNextWrite also races a trash', async () => {
      const tree = new MemoryTree();
      const { stat } = await tree.write('a.md', bytes('scanned'));
      tree.beforeNextWrite(() => void tree.writeText('a.md', 'user edit!'));
      await expect(tree.trash('a.md', { expect: stat })).rejects.toMatchObject({
        code: 'precondition-failed',
      });
      expect(tree.readText('a.md')).toBe('user edit!');
      expect(tree.trashed()).toEqual([]);
    });
  });

  it('read streams the file as it was when reading started', async () => {
    const tree = new MemoryTree();
    await tree.write('a.md', new Uint8Array(200_000).fill(1));
    const iterator = tree.read('a.md')[Symbol.asyncIterator]();
    const first = await iterator.next();
    await tree.write('a.md', bytes('replaced'));
    let total = first.value?.length ?? 0;
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) total += r.value.length;
    expect(total).toBe(200_000);
  });
});
