import { playwright } from '@vitest/browser-playwright';
import { defineConfig } from 'vitest/config';
import { awsXmlParserWithoutDom } from './web-adapter/build/aws-xml-parser.js';
import { chromiumArgs, chromiumPath } from './web-adapter/build/chromium.js';

/** Debian's Chromium, driven by playwright; nothing is downloaded (`playwright install` is never run). */
const chromium = playwright({
  launchOptions: { executablePath: chromiumPath, args: chromiumArgs },
});

/** Tests that run inside that Chromium. */
const inChromium = {
  enabled: true,
  headless: true,
  provider: chromium,
  instances: [{ browser: 'chromium' as const }],
};

// Workspace packages resolve to their TypeScript sources through the "source"
// export condition, so tests never run against a stale dist/.
const resolve = { conditions: ['source'] };

/** How code is bundled for Chromium: the AWS SDK without DOMParser, page and workers alike. */
const bundledForChromium = {
  resolve,
  plugins: [awsXmlParserWithoutDom()],
  worker: { plugins: () => [awsXmlParserWithoutDom()] },
  optimizeDeps: {
    // Bundled before the first test: found later (the S3 store is imported only by the
    // tests that use it), Vite re-bundles and reloads the page mid-run, failing the test
    // that was importing.
    include: ['@aws-sdk/client-s3'],
    rolldownOptions: { plugins: [awsXmlParserWithoutDom()] },
  },
};

export default defineConfig({
  resolve,
  ssr: { resolve: { conditions: ['source'], externalConditions: ['source'] } },
  test: {
    globalSetup: ['./scripts/test-postgres.ts'],
    projects: [
      { resolve, test: { name: 'core', include: ['core/test/**/*.test.ts'] } },
      {
        resolve,
        test: {
          name: 'journal-schema',
          include: ['journal-schema/test/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        resolve,
        test: {
          name: 'node',
          include: ['node-adapter/test/**/*.test.ts', 'bench/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        ...bundledForChromium,
        test: {
          name: 'browser',
          include: ['web-adapter/test/**/*.browser.test.ts'],
          globalSetup: ['./web-adapter/test/s3-server.setup.ts'],
          testTimeout: 60_000,
          browser: inChromium,
        },
      },
      {
        resolve,
        test: {
          // The notes demo, built and served, in a Chromium that playwright-core drives
          // with a persistent profile (offline, reload, restart), plus the Node CLI.
          name: 'e2e',
          include: ['web-adapter/e2e/**/*.e2e.test.ts'],
          globalSetup: ['./web-adapter/e2e/build-demo.setup.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        ...bundledForChromium,
        test: {
          name: 'browser-bench',
          include: ['web-adapter/bench/**/*.bench.ts'],
          globalSetup: ['./web-adapter/test/s3-server.setup.ts'],
          testTimeout: 300_000,
          browser: inChromium,
        },
      },
      {
        resolve,
        test: {
          name: 'property',
          include: ['property-tests/test/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
