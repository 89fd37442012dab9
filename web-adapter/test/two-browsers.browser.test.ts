import { afterAll, describe, expect, inject, it } from 'vitest';
import { openSyncWorker } from '../src/client.js';
import type { SyncApiOptions } from '../src/sync-api.js';

const workers: Worker[] = [];
afterAll(() => {
  for (const w of workers) w.terminate();
});

/** A browser client in its own worker, folder and journal, on one S3 bucket prefix. */
function client(name: string, prefix: string, policy?: SyncApiOptions['policy']) {
  const worker = new Worker(new URL('../src/worker.ts', import.meta.url), { type: 'module' });
  workers.push(worker);
  return openSyncWorker(worker, {
    root: `${name}-${prefix}`,
    journal: 'memory://',
    clientId: name,
    ...(policy ? { policy } : {}),
    store: {
      kind: 's3',
      url: `s3://browser/${prefix}/`,
      endpoint: inject('s3Endpoint'),
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'syncjournal-test', secretAccessKey: 'syncjournal-test' },
    },
  });
}

describe('two browser clients on one S3 bucket', () => {
  it('an edit on one reaches the other; a conflict keeps both and resolves without loss', async () => {
    const prefix = `two-${Date.now()}`;
    const alice = await client('alice', prefix);
    const bob = await client('bob', prefix);
    await alice.writeFile('notes/plan.md', 'base');
    expect((await alice.sync()).report).toMatchObject({ status: 'in-sync', uploaded: 1 });
    expect((await bob.sync()).report).toMatchObject({ status: 'in-sync', downloaded: 1 });
    expect(await bob.readText('notes/plan.md')).toBe('base');

    // Both edit offline; Alice syncs first, Bob's sync finds the conflict.
    await alice.writeFile('notes/plan.md', 'alice was here');
    await bob.writeFile('notes/plan.md', 'bob was here');
    await alice.sync();
    const { report } = await bob.sync();
    expect(report.status).toBe('conflicts');
    const [conflict] = await bob.conflicts('open');
    expect(conflict).toMatchObject({ path: 'notes/plan.md', kind: 'both-changed' });
    const copy = conflict!.kept.find((k) => k.side === 'local')!.path;
    expect(await bob.readText('notes/plan.md')).toBe('alice was here');
    expect(await bob.readText(copy)).toBe('bob was here');

    // Bob keeps his version: it takes the name; Alice's goes to the trash, journaled.
    const resolved = await bob.resolve('notes/plan.md', 'local');
    expect(resolved.resolution).toBe('keep-local');
    expect(await bob.readText('notes/plan.md')).toBe('bob was here');
    expect((await bob.sync()).report.status).toBe('in-sync');
    expect((await alice.sync()).report.status).toBe('in-sync');
    expect(await alice.readText('notes/plan.md')).toBe('bob was here');
    const timeline = (await bob.log('notes/plan.md')).map((e) => e.kind);
    expect(timeline).toContain('conflict.recorded');
    expect(timeline).toContain('conflict.resolved');
    await alice.close();
    await bob.close();
  });
});
