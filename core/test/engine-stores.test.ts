import type { PostgresJournal } from '@syncjournal/journal-schema';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObjectStore } from '../src/index.js';
import { bucket, hashText, openTestJournal, world } from './engine-harness.js';

let journal: PostgresJournal;
beforeAll(async () => {
  journal = await openTestJournal();
});
afterAll(() => journal.close());

describe.each([
  { conditionalWrites: true, versioning: false },
  { conditionalWrites: false, versioning: false },
  { conditionalWrites: true, versioning: true },
  { conditionalWrites: false, versioning: true },
])('on a store with %o', (capabilities) => {
  it('a teammate write that lands after the listing is never overwritten', async () => {
    const w = world(journal, capabilities);
    const a = w.client('alice');
    const b = w.client('bob');
    a.write('a.md', 'v1');
    a.write('other.md', 'o');
    await a.sync();
    a.write('a.md', 'alice');
    // The teammate writes once alice's engine has listed, before it checks or writes.
    const store = w.store;
    let raced = false;
    const teammate = (key: string) => {
      if (key === 'a.md' && !raced) {
        raced = true;
        store.putText('a.md', 'teammate', { sha256: hashText('teammate') });
      }
    };
    const racing: ObjectStore = {
      capabilities: store.capabilities,
      list: (cursor) => store.list(cursor),
      head: async (key) => {
        teammate(key);
        return store.head(key);
      },
      get: (key, options) => store.get(key, options),
      put: async (key, body, options) => {
        teammate(key);
        return store.put(key, body, options);
      },
      delete: (key, options) => store.delete(key, options),
      copy: (from, to) => store.copy(from, to),
    };
    const { report } = await a.sync({ store: racing });
    expect(raced).toBe(true);
    expect(report.status).toBe('conflicts');
    expect(Object.values(bucket(store)).sort()).toEqual(['alice', 'o', 'teammate']);
    await b.sync();
    expect(Object.values(b.listing()).sort()).toEqual(['alice', 'o', 'teammate']);
  });

  it('a remote delete stays recoverable: by version id, or by a trash copy', async () => {
    const w = world(journal, capabilities);
    const a = w.client('alice');
    a.write('a.md', 'precious');
    a.write('other.md', 'o');
    await a.sync();
    a.tree.remove('a.md');
    await a.sync();
    const [tomb] = await journal.tombstones(a.pair.id, 'a.md');
    if (capabilities.versioning) {
      expect(tomb?.versionId).toBeTruthy();
      expect(tomb?.trash).toBeNull();
      const { body } = await w.store.get('a.md', { versionId: tomb!.versionId! });
      const chunks: Uint8Array[] = [];
      for await (const c of body) chunks.push(c);
      expect(new TextDecoder().decode(Buffer.concat(chunks))).toBe('precious');
    } else {
      expect(tomb?.trash).toMatch(/^\.syncjournal\/trash\/alice\/\d+\/a\.md$/);
      expect(w.store.readText(tomb!.trash!)).toBe('precious');
    }
  });
});
