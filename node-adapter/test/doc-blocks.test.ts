import { describe, expect, it } from 'vitest';
import { blockCommands, directiveValues, docBlocks, unlabeledCommandBlocks } from './doc-blocks.js';

// The reader of docs-commands.test.ts: what it takes for a command must be what a
// reader types, or blocks would run half or not at all.

const page = (...lines: string[]) => docBlocks('page.md', lines.join('\n'));

describe('docBlocks', () => {
  it('finds fenced blocks with their language, line and the directives just before them', () => {
    const [text, sh] = page(
      '```text',
      'output',
      '```',
      '',
      '<!-- doc-test setup: echo a > ~/a.md',
      'echo b > ~/b.md -->',
      '<!-- doc-test exit: 3 -->',
      '',
      '```sh',
      'syncjournal sync',
      '```',
    );
    expect(text).toMatchObject({ lang: 'text', line: 1, body: 'output', directives: [] });
    expect(sh).toMatchObject({ lang: 'sh', line: 9, body: 'syncjournal sync' });
    expect(directiveValues(sh!, 'setup')).toEqual(['echo a > ~/a.md\necho b > ~/b.md']);
    expect(directiveValues(sh!, 'exit')).toEqual(['3']);
  });

  it('refuses a directive that is unknown or not just before a block, and forgets other comments', () => {
    expect(() => page('<!-- doc-test skip -->', '```sh', 'x', '```')).toThrow(/unknown/);
    expect(() => page('<!-- doc-test exit: 1 -->', 'prose', '```sh', 'x', '```')).toThrow(
      /just before a fenced block/,
    );
    expect(() => page('<!-- doc-test exit: 1 -->')).toThrow(/end of the page/);
    const [block] = page('<!-- doc-test exit: 1 -->', '<!-- a note -->', '```sh', 'x', '```');
    expect(block?.directives).toEqual([]);
  });

  it('reads a fence with more backticks to its own closing fence', () => {
    const [outer] = page('````md', '```sh', 'inner', '```', '````');
    expect(outer).toMatchObject({ lang: 'md', body: '```sh\ninner\n```' });
  });

  it('reports blocks without a language that look like commands', () => {
    const blocks = page('```', 'syncjournal status', '```', '```', 'Counterexample: …', '```');
    expect(unlabeledCommandBlocks(blocks).map((b) => b.line)).toEqual([1]);
  });
});

describe('blockCommands', () => {
  it('joins continuation lines, keeps heredocs whole, and skips comments and blank lines', () => {
    const [block] = page(
      '```sh',
      '# a comment',
      'export A=1 \\',
      '  B=2',
      '',
      "cat > f.txt <<'EOF'",
      '# not a comment',
      'EOF',
      'syncjournal sync   # every pair',
      '```',
    );
    expect(blockCommands(block!).map((c) => [c.line, c.key])).toEqual([
      [3, 'export A=1 B=2'],
      [6, "cat > f.txt <<'EOF' # not a comment EOF"],
      [9, 'syncjournal sync'],
    ]);
  });

  it('takes only the $ lines of a console block', () => {
    const [block] = page('```console', '$ syncjournal status', 'client 1 · state ~', '```');
    expect(blockCommands(block!).map((c) => c.text)).toEqual(['syncjournal status']);
  });
});
