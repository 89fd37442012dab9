import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runStart, sampleRun } from '@syncjournal/journal-schema/testing';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openJournal } from '../src/index.js';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * New journal data directories start as a copy of a database fresh from initdb, kept in
 * the user's cache folder by the first one created. These tests point the cache at
 * a temp folder and check that journals made either way work alike.
 */
describe('journal templates for new data directories', () => {
  let root: string;
  const saved = {
    cache: process.env.XDG_CACHE_HOME,
    toggle: process.env.SYNCJOURNAL_JOURNAL_TEMPLATE,
  };
  const template = () => join(root, 'cache', 'syncjournal', 'pglite-0.5.16-initdb');

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'sj-template-'));
    process.env.XDG_CACHE_HOME = join(root, 'cache');
    delete process.env.SYNCJOURNAL_JOURNAL_TEMPLATE;
  });
  afterEach(async () => {
    for (const [key, value] of [
      ['XDG_CACHE_HOME', saved.cache],
      ['SYNCJOURNAL_JOURNAL_TEMPLATE', saved.toggle],
    ] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await rm(root, { recursive: true, force: true });
  });

  /** Opens a journal at `name`, records a run, verifies the chain and closes it. */
  async function useJournal(name: string) {
    const journal = await openJournal(join(root, name));
    try {
      const run = await journal.startRun(runStart('pair-1'));
      await journal.append(sampleRun(run));
      expect(await journal.verify()).toMatchObject({ ok: true });
      // Created either way, the journal runs with its own settings (a 16 MiB buffer pool).
      const settings = await sql<{ shared_buffers: string }>`show shared_buffers`.execute(
        journal.db,
      );
      expect(settings.rows).toEqual([{ shared_buffers: '16MB' }]);
      return { run, manifest: (await journal.manifest('pair-1')).map((r) => r.path) };
    } finally {
      await journal.close();
    }
  }

  /** The template's list: its folders, and its files with their size and SHA-256. */
  const list = () => join(template(), 'syncjournal-template.json');
  async function readList(): Promise<{ files: { path: string; size: number; sha256: string }[] }> {
    return JSON.parse(await readFile(list(), 'utf8'));
  }
  const expectGoodTemplate = async () => {
    const { files } = await readList();
    expect(files.map((f) => f.path)).toEqual(
      expect.arrayContaining(['PG_VERSION', 'global/pg_control']),
    );
    for (const file of files) {
      const bytes = await readFile(join(template(), file.path));
      expect({ path: file.path, size: bytes.length, sha256: sha256(bytes) }).toEqual(file);
    }
  };

  it('keeps a template from the first journal and creates the next from it, with the same result', async () => {
    // The dump an earlier version kept goes once a template folder replaces it.
    await mkdir(dirname(template()), { recursive: true });
    await writeFile(`${template()}.tar.gz`, "an earlier version's template");
    const first = await useJournal('first');
    await expectGoodTemplate();
    await expect(stat(`${template()}.tar.gz`)).rejects.toMatchObject({ code: 'ENOENT' });
    // Nothing of syncjournal's in it: migrations run on every new journal.
    expect(await readdir(join(template(), 'base'))).not.toContain('syncjournal');
    const kept = await stat(list());
    const second = await useJournal('second');
    expect(second).toEqual(first);
    // Copied, not rebuilt: a journal created by initdb would have kept a new template.
    expect((await stat(list())).mtimeMs).toBe(kept.mtimeMs);
    // A journal that exists is reopened as it is, its events intact.
    const journal = await openJournal(join(root, 'second'));
    try {
      expect(await journal.verify()).toMatchObject({ ok: true, events: sampleRun(1).length + 1 });
    } finally {
      await journal.close();
    }
  });

  it('forgets a damaged template and creates the journal by initdb instead, keeping a good one', async () => {
    await useJournal('first');
    const damages: Array<[string, () => Promise<void>]> = [
      [
        // A file PGlite would open as it is: only the list tells.
        'a file changed, same size',
        async () => {
          const path = join(template(), 'postgresql.conf');
          const bytes = await readFile(path);
          // Inside the comment on its first line.
          bytes[5] = bytes[5] === 0x3d ? 0x2d : 0x3d;
          await writeFile(path, bytes);
        },
      ],
      ['a file cut short', () => truncate(join(template(), 'global', 'pg_control'), 10)],
      ['a file missing', () => rm(join(template(), 'global', 'pg_control'))],
      ['a list that is not JSON', () => writeFile(list(), '{"format":1,')],
      ['a folder with no list', () => rm(list())],
      [
        'a list that names a file outside the data directory',
        async () => {
          // There to be read: only the path check keeps it from being written to root/.
          await writeFile(join(dirname(template()), 'outside'), '');
          const data = await readList();
          data.files.push({ path: '../outside', size: 0, sha256: sha256(new Uint8Array()) });
          await writeFile(list(), JSON.stringify(data));
        },
      ],
      [
        // Passes its checks, but PGlite cannot open it.
        'a list rewritten over a broken control file',
        async () => {
          const path = join(template(), 'global', 'pg_control');
          await truncate(path, 10);
          const bytes = await readFile(path);
          const data = await readList();
          const entry = data.files.find((f) => f.path === 'global/pg_control')!;
          Object.assign(entry, { size: bytes.length, sha256: sha256(bytes) });
          await writeFile(list(), JSON.stringify(data));
        },
      ],
    ];
    for (const [i, [what, damage]] of damages.entries()) {
      await damage();
      const name = `second-${i}`;
      expect((await useJournal(name)).manifest, what).toEqual(['notes/a.md', 'notes/b.md', 'z.md']);
      await expectGoodTemplate();
      expect(await readdir(root), what).not.toContain('outside');
      await rm(join(dirname(template()), 'outside'), { force: true });
      // Nothing left of a copy given up, and nothing of the damaged template.
      expect((await readdir(dirname(template()))).sort(), what).toEqual(['pglite-0.5.16-initdb']);
    }
  });

  it('creates two journals at once with no template: both work, one template is kept', async () => {
    const [a, b] = await Promise.all([useJournal('a'), useJournal('b')]);
    expect(a).toEqual(b);
    await expectGoodTemplate();
    expect(await readdir(dirname(template()))).toEqual(['pglite-0.5.16-initdb']);
  });

  it('keeps no template when SYNCJOURNAL_JOURNAL_TEMPLATE=0', async () => {
    process.env.SYNCJOURNAL_JOURNAL_TEMPLATE = '0';
    await useJournal('first');
    await expect(stat(template())).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
