import { defineConfig } from 'vitest/config';

// Workspace packages resolve to their TypeScript sources through the "source"
// export condition, so tests never run against a stale dist/.
const resolve = { conditions: ['source'] };

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
          include: ['node-adapter/test/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
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
