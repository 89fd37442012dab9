import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { type PreviewServer, preview } from 'vite';
import {
  type S3TestServer,
  startS3TestServer,
} from '../../node-adapter/test-support/s3-test-server.js';
import { chromiumArgs, chromiumPath } from '../build/chromium.js';
import { demoViteConfig } from '../demo/demo-server.js';

/** Where screenshots go: `test-artifacts/browser/` at the repository root (kept by CI). */
export const artifacts = new URL('../../test-artifacts/browser/', import.meta.url).pathname;

/** The built demo served on 127.0.0.1, its bucket on the S3 test server (versioning on). */
export async function serveDemo(outDir: string): Promise<{
  url: string;
  s3: S3TestServer;
  stop(): Promise<void>;
}> {
  const s3 = await startS3TestServer({ versioning: true });
  s3.bucket('notes');
  const server: PreviewServer = await preview({
    ...demoViteConfig({ endpoint: s3.url, outDir }),
    configFile: false,
    logLevel: 'error',
    preview: { host: '127.0.0.1', port: 0, strictPort: true },
  });
  const url = server.resolvedUrls?.local[0];
  if (!url) throw new Error('the demo preview server has no URL');
  await mkdir(artifacts, { recursive: true });
  return {
    url,
    s3,
    async stop() {
      await server.close();
      await s3.stop();
    },
  };
}

/** A fresh profile directory: the page's OPFS, IndexedDB journal and service worker live there. */
export function newProfile(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'syncjournal-profile-'));
}

/** Debian's Chromium on a persistent profile, driven by playwright-core. */
export async function launch(profile: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    args: chromiumArgs,
    headless: true,
    viewport: { width: 1200, height: 760 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return { context, page };
}

/** Opens the app and waits until its worker, folder and journal are open. */
export async function openApp(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
}

/** Waits until the service worker controls the page, so it will load with the network off. */
export async function waitOfflineReady(page: Page): Promise<void> {
  // Strings, not functions: these run in the page, and this file is typed for Node.
  await page.waitForFunction('navigator.serviceWorker.controller !== null', undefined, {
    timeout: 60_000,
  });
}

/**
 * The status line's text once it matches `pattern` — or, so a failure shows at once
 * with its message, once it reports an error.
 */
export async function syncState(page: Page, pattern: RegExp): Promise<string> {
  const el = "document.getElementById('sync-state')";
  await page.waitForFunction(
    `${pattern}.test(${el}.textContent) || ${el}.dataset.tone === 'error'`,
    undefined,
    { timeout: 60_000 },
  );
  return (await page.textContent('#sync-state')) ?? '';
}
