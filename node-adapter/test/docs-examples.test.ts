import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, it } from 'vitest';

// The examples in docs/ are run, so they cannot go stale.
const root = new URL('../../', import.meta.url).pathname;

it('runs the embedding example in docs/embedding.md', async () => {
  const doc = await readFile(join(root, 'docs/embedding.md'), 'utf8');
  const code = /```ts\n([\s\S]*?)```/.exec(doc)?.[1];
  expect(code).toBeDefined();
  const dir = join(root, 'node-adapter/test/.generated');
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'embedding-example.ts');
  await writeFile(file, `${code}\nexport { report, plan, journal };\n`);
  const example = (await import(/* @vite-ignore */ file)) as {
    report: { status: string; run: number };
    plan: unknown[];
    journal: { close(): Promise<void> };
  };
  expect(example.report).toMatchObject({ status: 'in-sync', run: 1 });
  expect(example.plan).toEqual([]);
  await example.journal.close();
});
