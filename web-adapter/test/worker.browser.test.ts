import { NoOpenConflictError, NotFoundError, type ProgressEvent } from '@syncjournal/core';
import { afterAll, describe, expect, it } from 'vitest';
import { FolderLockedError, openSyncWorker, progressListener } from '../src/client.js';

const root = `worker-test-${Date.now()}`;
const workers: Worker[] = [];
const spawn = () => {
  const worker = new Worker(new URL('../src/worker.ts', import.meta.url), { type: 'module' });
  workers.push(worker);
  return worker;
};
afterAll(() => {
  for (const w of workers) w.terminate();
});

describe('the sync API in a dedicated worker (comlink)', () => {
  const options = {
    root,
    journal: 'memory://',
    store: { kind: 'memory' as const },
    clientId: 'browser-test',
  };

  it('saves, lists, syncs with progress, and answers status, history and log', async () => {
    const api = await openSyncWorker(spawn(), options);
    // Closed whatever happens: a test that failed half-way leaves the folder to the next.
    try {
      await api.writeFile('notes/a.md', '# A');
      await api.writeFile('b.md', new TextEncoder().encode('bee'));
      expect((await api.list()).map((f) => [f.path, f.size])).toEqual([
        ['b.md', 3],
        ['notes/a.md', 3],
      ]);
      expect(await api.readText('notes/a.md')).toBe('# A');

      const plan = await api.plan();
      expect(plan.map((op) => [op.action, op.path])).toEqual([
        ['upload', 'b.md'],
        ['upload', 'notes/a.md'],
      ]);
      const events: ProgressEvent[] = [];
      const { report } = await api.sync(
        {},
        progressListener((e) => events.push(e)),
      );
      expect(report).toMatchObject({ status: 'in-sync', uploaded: 2 });
      expect(events.map((e) => e.phase)).toContain('apply');
      // Every event was heard before sync answered, the last upload's included.
      expect(events.at(-1)).toMatchObject({ phase: 'apply', done: 2, total: 2 });

      const status = await api.status();
      expect(status).toMatchObject({ openConflicts: 0, files: 2, lastRun: { status: 'in-sync' } });
      expect((await api.history()).map((r) => r.mode)).toEqual(['sync', 'dry-run']);
      const log = await api.log('b.md');
      expect(log.map((e) => e.kind)).toContain('op.applied');

      await api.deleteFile('b.md');
      expect((await api.sync()).report).toMatchObject({ status: 'in-sync', deletedRemote: 1 });
      const restored = await api.restore('b.md');
      expect(restored.to).toBe('b.md');
      expect(await api.readText('b.md')).toBe('bee');
    } finally {
      await api.close();
    }
  });

  it('keeps error classes and codes across the boundary', async () => {
    const api = await openSyncWorker(spawn(), options);
    try {
      const missing = await api.readText('missing.md').catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(NotFoundError);
      expect(missing).toMatchObject({ code: 'not-found' });
      const none = await api.resolve('b.md', 'local').catch((e: unknown) => e);
      expect(none).toBeInstanceOf(NoOpenConflictError);
      expect((none as Error).message).toMatch(/no open conflict/);
    } finally {
      await api.close();
    }
  });

  it('lets one worker own a folder: a second one is refused until the first closes', async () => {
    const first = await openSyncWorker(spawn(), options);
    const refused = await openSyncWorker(spawn(), options).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(FolderLockedError);
    expect(refused).toMatchObject({ code: 'folder-locked' });
    await first.close();
    const second = await openSyncWorker(spawn(), options);
    expect(await second.readText('notes/a.md')).toBe('# A');
    await second.close();
  });
});
