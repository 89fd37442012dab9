import { readFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { cliReference } from '../src/cli/reference.js';

it('docs/cli.md is the CLI’s own help text (run npm run docs:cli after changing the CLI)', async () => {
  const doc = await readFile(new URL('../../docs/cli.md', import.meta.url), 'utf8');
  expect(doc).toBe(cliReference());
});
