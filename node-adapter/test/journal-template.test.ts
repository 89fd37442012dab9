import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { runStart, sampleRun } from '@syncjournal/journal-schema/testing';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openJournal } from '../src/index.js';

/**
 * New journal data directories start from a dump of a database fresh from initdb, kept
 * in the user's cache folder by the first one created. These tests point the cache at
 * a temp folder and check that journals made either way work alike.
 */
describe('journal templates for new data directories', () => {
  let root: string;
  const saved = {
    cache: process.env.XDG_CACHE_HOME,
    toggle: process.env.SYNCJOURNAL_JOURNAL_TEMPLATE,
  };
  const template = () => join(root, 'cache', 'syncjournal', 'pglite-0.5.16-initdb.tar.gz');

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

  it('keeps a template from the first journal and creates the next from it, with the same result', async () => {
    const first = await useJournal('first');
    const kept = await stat(template());
    expect(kept.size).toBeGreaterThan(1_000_000);
    const second = await useJournal('second');
    expect(second).toEqual(first);
    // Loaded, not rebuilt: a journal created by initdb would have saved a new template.
    expect((await stat(template())).mtimeMs).toBe(kept.mtimeMs);
    // A journal that exists is reopened as it is, its events intact.
    const journal = await openJournal(join(root, 'second'));
    try {
      expect(await journal.verify()).toMatchObject({ ok: true, events: sampleRun(1).length + 1 });
    } finally {
      await journal.close();
    }
  });

  it('forgets a damaged template and creates the journal by initdb instead', async () => {
    await useJournal('first');
    // Not gzip at all; and gzip that holds no data directory (PGlite refuses it).
    const damaged = [Buffer.from('not a tarball'), gzipSync('not a tarball either')];
    for (const [i, bytes] of damaged.entries()) {
      await writeFile(template(), bytes);
      expect((await useJournal(`second-${i}`)).manifest).toEqual([
        'notes/a.md',
        'notes/b.md',
        'z.md',
      ]);
      expect((await stat(template())).size).toBeGreaterThan(1_000_000);
    }
  });

  it('keeps no template when SYNCJOURNAL_JOURNAL_TEMPLATE=0', async () => {
    process.env.SYNCJOURNAL_JOURNAL_TEMPLATE = '0';
    await useJournal('first');
    await expect(stat(template())).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
