import { readProjections } from '@syncjournal/core/testing';
import { openPGliteJournal } from '@syncjournal/journal-schema';
import { runJournalTests, runStart, sampleRun } from '@syncjournal/journal-schema/testing';
import { describe, expect, it } from 'vitest';
import { createWebHasher } from '../src/web-hasher.js';

const hasher = await createWebHasher();

// The journal's whole test body (conformance, tamper evidence, rollback, a newer
// schema refused) on PGlite inside Chromium, hashing with the browser's hasher.
runJournalTests('PGlite in Chromium', {
  hasher,
  upkeep: true,
  open: () => openPGliteJournal({ hasher, dataDir: 'memory://' }),
});

describe('a PGlite journal in IndexedDB', () => {
  it('keeps its runs when closed and opened again, and still verifies', async () => {
    const dataDir = `idb://syncjournal-test-${Date.now()}`;
    const first = await openPGliteJournal({ hasher, dataDir });
    const run = await first.startRun(runStart('pair-1'));
    await first.append(sampleRun(run));
    const before = await readProjections(first);
    await first.close();

    const again = await openPGliteJournal({ hasher, dataDir });
    try {
      expect(await readProjections(again)).toEqual(before);
      expect(await again.verify()).toMatchObject({ ok: true });
      expect(again.location).toBe(dataDir);
    } finally {
      await again.close();
      await new Promise<void>((resolve, reject) => {
        const request = indexedDB.deleteDatabase(`/pglite/${dataDir.slice('idb://'.length)}`);
        request.onsuccess = () => resolve();
        request.onerror = () => reject(request.error);
      });
    }
  });
});
