import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cli, s3TestEnv, scratch } from '../../node-adapter/test/cli-harness.js';
import type { S3TestServer } from '../../node-adapter/test-support/s3-test-server.js';
import {
  artifacts,
  launch,
  newProfile,
  openApp,
  serveDemo,
  syncState,
  waitOfflineReady,
} from './harness.js';

const NOTE = 'ideas/offline.md';

describe('the notes demo in Chromium (persistent profile), with the Node CLI as a teammate', () => {
  let demo: Awaited<ReturnType<typeof serveDemo>>;
  let s3: S3TestServer;
  let profile: string;
  let context: BrowserContext;
  let page: Page;

  const bucketText = (key: string) => s3.bucket('notes').current(key)?.data?.toString('utf8');

  beforeAll(async () => {
    demo = await serveDemo(inject('demoDir'));
    s3 = demo.s3;
    profile = await newProfile();
    ({ context, page } = await launch(profile));
  });
  afterAll(async () => {
    await context?.close();
    await demo?.stop();
  });

  it('edits offline, keeps them across a reload, and syncs them when the network is back', async () => {
    await openApp(page, demo.url);
    await waitOfflineReady(page);
    expect(await page.textContent('#network')).toBe('Online');

    await context.setOffline(true);
    await page.waitForSelector('#network[data-online="false"]');
    await page.fill('#new-note input', 'ideas/offline');
    await page.click('#new-note button');
    await page.waitForSelector('#editor');
    await page.fill('#editor', 'Written with the network off.\n');
    await page.waitForSelector('#save-state:has-text("Saved in this browser")');
    await page.screenshot({ path: join(artifacts, 'editor-offline.png') });

    // Still offline: the service worker serves the app; OPFS and the journal are local.
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    await page.waitForSelector('#network[data-online="false"]', { timeout: 5_000 });
    await page.click(`#notes li[data-path="${NOTE}"] button`);
    expect(await page.inputValue('#editor')).toBe('Written with the network off.\n');
    expect(bucketText(NOTE)).toBeUndefined();

    // Back online: the app syncs by itself.
    await context.setOffline(false);
    expect(await syncState(page, /^Synced/)).toMatch(/↑1/);
    expect(bucketText(NOTE)).toBe('Written with the network off.\n');
  });

  it('shows a conflict with the CLI side by side, and resolving it loses nothing', async () => {
    const area = await scratch();
    const folder = area.path('laptop');
    const env = s3TestEnv(s3.url);
    const cliSync = () =>
      cli(['--state-dir', area.path('state'), 'sync', folder, 's3://notes/', '--json'], { env });
    expect((await cliSync()).code).toBe(0);
    expect(await readFile(join(folder, NOTE), 'utf8')).toBe('Written with the network off.\n');

    // The teammate (the CLI) edits and syncs; the browser edits the same note.
    await writeFile(join(folder, NOTE), 'Edited in the terminal.\n');
    expect((await cliSync()).json).toMatchObject({ status: 'in-sync', uploaded: 1 });
    await page.fill('#editor', 'Edited in the browser.\n');
    await page.waitForSelector('#save-state:has-text("Saved in this browser")');

    // Sync shows the plan first; applying it records the conflict.
    await page.click('#sync');
    await page.waitForSelector('#plan-dialog[open]');
    expect(await page.textContent('#plan-ops')).toContain(NOTE);
    expect(await page.locator('#plan-ops li[data-action="conflict"]').count()).toBe(1);
    await page.screenshot({ path: join(artifacts, 'plan.png') });
    await page.click('#plan-apply');
    expect(await syncState(page, /conflict/)).toMatch(/1 conflict/);

    await page.click(`#notes li[data-path="${NOTE}"] button`);
    await page.waitForSelector('.conflict-panel');
    expect(await page.textContent('.version[data-side="local"] pre')).toBe(
      'Edited in the browser.\n',
    );
    expect(await page.textContent('.version[data-side="remote"] pre')).toBe(
      'Edited in the terminal.\n',
    );
    await page.screenshot({ path: join(artifacts, 'conflict.png') });

    // Keep the browser's version: it takes the name; the terminal's goes to the trash.
    await page.click('button[data-keep="local"]');
    expect(await syncState(page, /^Resolved/)).toMatch(/the bucket’s is in the trash/);
    await page.waitForSelector('#editor');
    expect(await page.inputValue('#editor')).toBe('Edited in the browser.\n');

    // The history replays the journal: the conflict, and where the other version went.
    await page.click('button[role="tab"]:has-text("History")');
    await page.waitForSelector('.timeline');
    const history = (await page.textContent('.timeline')) ?? '';
    expect(history).toContain('conflict.recorded');
    expect(history).toMatch(
      /conflict\.resolved\s*resolved: keep-local; the remote version kept in the trash at /,
    );
    await page.screenshot({ path: join(artifacts, 'history.png'), fullPage: true });

    await page.click('#sync');
    await page.waitForSelector('#plan-dialog[open]');
    await page.click('#plan-apply');
    await syncState(page, /^Synced/);
    expect((await cliSync()).code).toBe(0);
    expect(await readFile(join(folder, NOTE), 'utf8')).toBe('Edited in the browser.\n');
    expect(bucketText(NOTE)).toBe('Edited in the browser.\n');

    // Nothing lost: the terminal's version is still a version in the bucket, and no
    // conflict copy is left behind anywhere.
    const versions = s3
      .bucket('notes')
      .versions(NOTE)
      .map((v) => v.data?.toString('utf8'));
    expect(versions).toContain('Edited in the terminal.\n');
    expect(Object.keys(await area.tree(folder))).toEqual([NOTE]);
  });

  it('keeps the notes and the journal when the browser restarts with the same profile', async () => {
    const runsBefore = await page.locator('.timeline .run').count();
    await context.close();
    ({ context, page } = await launch(profile));
    await openApp(page, demo.url);
    expect(await syncState(page, /^Last run \d+ \(in-sync\)/)).toBeTruthy();
    await page.click(`#notes li[data-path="${NOTE}"] button`);
    expect(await page.inputValue('#editor')).toBe('Edited in the browser.\n');
    await page.click('button[role="tab"]:has-text("History")');
    await page.waitForSelector('.timeline');
    expect(await page.locator('.timeline .run').count()).toBeGreaterThanOrEqual(runsBefore);
    expect(await page.textContent('.timeline')).toContain('conflict.resolved');
  });
});
