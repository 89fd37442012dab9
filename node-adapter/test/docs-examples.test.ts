import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, it, vi } from 'vitest';
import { type DocBlock, docBlocks } from './doc-blocks.js';

// The examples in docs/ are run, so they cannot go stale.
const root = new URL('../../', import.meta.url).pathname;

/** The TypeScript blocks of docs/embedding.md, in page order. */
async function embeddingExamples(): Promise<DocBlock[]> {
  const page = 'docs/embedding.md';
  return docBlocks(page, await readFile(join(root, page), 'utf8')).filter((b) => b.lang === 'ts');
}

/** Writes an example next to the tests and imports it, with `names` exported. */
async function runExample(code: string, file: string, names: string[]): Promise<unknown> {
  const dir = join(root, 'node-adapter/test/.generated');
  await mkdir(dir, { recursive: true });
  const path = join(dir, file);
  await writeFile(path, `${code}\nexport { ${names.join(', ')} };\n`);
  return import(/* @vite-ignore */ path);
}

it('runs the embedding example in docs/embedding.md', async () => {
  const [inMemory] = await embeddingExamples();
  expect(inMemory).toBeDefined();
  const example = (await runExample(inMemory!.body, 'embedding-example.ts', [
    'report',
    'plan',
    'journal',
  ])) as {
    report: { status: string; run: number };
    plan: unknown[];
    journal: { close(): Promise<void> };
  };
  expect(example.report).toMatchObject({ status: 'in-sync', run: 1 });
  expect(example.plan).toEqual([]);
  await example.journal.close();
});

it('runs the Node tool example in docs/embedding.md: it prints what its comment says', async () => {
  const nodeTool = (await embeddingExamples()).find((b) => b.body.includes('NodeTree.open'));
  expect(nodeTool).toBeDefined();
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  try {
    const { base } = (await runExample(nodeTool!.body, 'embedding-node-tool.ts', ['base'])) as {
      base: string;
    };
    expect(log).toHaveBeenCalledWith('in-sync', 1);
    await rm(base, { recursive: true, force: true });
  } finally {
    log.mockRestore();
  }
});
