import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStart, sampleRun } from '@syncjournal/journal-schema/testing';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openJournal } from '../src/index.js';

/**
 * A PGlite data directory keeps copies of its manifest, listing and baseline in
 * `<dir>.cache/` (the journal's own suite checks when a copy may be used; these check
 * the files). A row changed behind the journal's back, which only a test does, shows
 * whether a read came from the copy or from the table.
 */
describe('projection copies beside a PGlite data directory', () => {
  let root: string;
  let dir: string;
  const saved = process.env.SYNCJOURNAL_PROJECTION_CACHE;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'sj-copies-'));
    dir = join(root, 'journal');
    delete process.env.SYNCJOURNAL_PROJECTION_CACHE;
    const journal = await openJournal(dir);
    await journal.append(sampleRun(await journal.startRun(runStart('pair-1'))));
    await journal.close();
  });
  afterEach(async () => {
    if (saved === undefined) delete process.env.SYNCJOURNAL_PROJECTION_CACHE;
    else process.env.SYNCJOURNAL_PROJECTION_CACHE = saved;
    await rm(root, { recursive: true, force: true });
  });

  /** Opens the journal, changes z.md's size in the table only, reads it, closes. */
  async function sizeOfZ(change: number): Promise<number | undefined> {
    const journal = await openJournal(dir);
    try {
      await sql`update manifest set size = ${change} where path = 'z.md'`.execute(journal.db);
      return (await journal.manifest('pair-1')).find((r) => r.path === 'z.md')?.size;
    } finally {
      await journal.close();
    }
  }

  it('reads a copy written by an earlier process, and the table again once the copies are gone', async () => {
    const first = await openJournal(dir);
    const original = (await first.manifest('pair-1')).find((r) => r.path === 'z.md')?.size;
    await first.close();
    expect((await readdir(`${dir}.cache`)).filter((n) => n.startsWith('manifest-'))).toHaveLength(
      1,
    );
    expect(await sizeOfZ(1)).toBe(original);
    // Deleting the copies is always safe: the next read is the table's.
    await rm(`${dir}.cache`, { recursive: true });
    expect(await sizeOfZ(2)).toBe(2);
    // No temp file is left beside the copy.
    expect((await readdir(`${dir}.cache`)).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('keeps no copies with SYNCJOURNAL_PROJECTION_CACHE=0', async () => {
    process.env.SYNCJOURNAL_PROJECTION_CACHE = '0';
    expect(await sizeOfZ(1)).toBe(1);
    expect(await sizeOfZ(2)).toBe(2);
    await expect(readdir(`${dir}.cache`)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('reads the table when the copies cannot be written', async () => {
    await writeFile(`${dir}.cache`, 'a file where the folder would be');
    expect(await sizeOfZ(1)).toBe(1);
    expect(await sizeOfZ(2)).toBe(2);
  });
});
