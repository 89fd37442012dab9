/**
 * Reads the fenced code blocks of a Markdown page, with the `<!-- doc-test … -->`
 * directives written just before each one, and splits shell blocks into the commands a
 * reader would type. docs-commands.test.ts runs them.
 */

/** Languages whose blocks are commands to run. */
export const SHELL_LANGUAGES: ReadonlySet<string> = new Set([
  'sh',
  'bash',
  'shell',
  'zsh',
  'console',
]);

/** The directives a page may give a block (see docs/development.md). */
export const DIRECTIVE_KEYS: ReadonlySet<string> = new Set([
  'setup', // shell the reader would already have done (a teammate's edit, a killed run)
  'exit', // the exit code the block is documented to end with (default 0)
  'expect', // text the block's output must contain
  'output', // on a text block: the output of the shell block before it
  'new-host', // another machine: a fresh home folder and shell; buckets and databases stay
  'cwd', // `repo`: run the block from the repository, as the page says to
  'bucket', // NAME [versioning] [snapshots]: how the test S3 server creates that bucket
  'file', // on a code block: the reader saves it under this name before the next command
]);

/** One `<!-- doc-test key: value -->` comment. */
export interface Directive {
  key: string;
  value: string;
}

/** A fenced code block of a page. */
export interface DocBlock {
  /** The page, relative to the repository (`docs/recovery.md`). */
  page: string;
  /** The line of the opening fence, from 1. */
  line: number;
  /** The first word of the fence's info string (`sh`, `text`…; empty when none). */
  lang: string;
  body: string;
  /** The directives in the comments between the previous content and the fence. */
  directives: Directive[];
}

/** A command of a shell block, as the reader types it. */
export interface DocCommand {
  /** The command as shown, continuation lines and heredocs included. */
  text: string;
  /** One line, trailing comment dropped, spaces collapsed: how the run-elsewhere table names it. */
  key: string;
  /** The line of its first line in the page. */
  line: number;
}

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/;
const DIRECTIVE = /^doc-test\s+([a-z-]+)(?::\s*([\s\S]*))?$/;

/** Every fenced block of `markdown`, in page order. Throws on a malformed directive. */
export function docBlocks(page: string, markdown: string): DocBlock[] {
  const lines = markdown.split('\n');
  const blocks: DocBlock[] = [];
  let pending: Directive[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const fence = FENCE.exec(line);
    if (fence) {
      const marker = fence[2] ?? '```';
      const end = findFenceEnd(lines, i + 1, marker);
      blocks.push({
        page,
        line: i + 1,
        lang: (fence[3] ?? '').toLowerCase(),
        body: lines.slice(i + 1, end).join('\n'),
        directives: pending,
      });
      pending = [];
      i = end;
      continue;
    }
    if (line.trimStart().startsWith('<!--')) {
      const end = findCommentEnd(lines, i);
      const text = lines
        .slice(i, end + 1)
        .join('\n')
        .trim()
        .replace(/^<!--/, '')
        .replace(/-->$/, '')
        .trim();
      if (text.startsWith('doc-test')) pending.push(parseDirective(page, i + 1, text));
      else pending = [];
      i = end;
      continue;
    }
    if (line.trim() !== '' && pending.length > 0) {
      throw new Error(
        `${page}:${i + 1}: a doc-test directive must come just before a fenced block`,
      );
    }
  }
  if (pending.length > 0) throw new Error(`${page}: a doc-test directive at the end of the page`);
  return blocks;
}

function findFenceEnd(lines: readonly string[], from: number, marker: string): number {
  for (let j = from; j < lines.length; j++) {
    const closing = (lines[j] ?? '').trim();
    if (closing.startsWith(marker) && closing.replaceAll(marker[0] ?? '`', '') === '') return j;
  }
  return lines.length;
}

function findCommentEnd(lines: readonly string[], from: number): number {
  for (let j = from; j < lines.length; j++) if ((lines[j] ?? '').includes('-->')) return j;
  return lines.length - 1;
}

function parseDirective(page: string, line: number, text: string): Directive {
  const match = DIRECTIVE.exec(text);
  const key = match?.[1] ?? '';
  if (!match || !DIRECTIVE_KEYS.has(key)) {
    throw new Error(`${page}:${line}: unknown doc-test directive "${text.split('\n')[0]}"`);
  }
  return { key, value: (match[2] ?? '').trim() };
}

/** The values of every directive `key` of a block. */
export function directiveValues(block: DocBlock, key: string): string[] {
  return block.directives.filter((d) => d.key === key).map((d) => d.value);
}

/** Whether the block has the directive `key`. */
export function hasDirective(block: DocBlock, key: string): boolean {
  return block.directives.some((d) => d.key === key);
}

/**
 * The commands of a shell block. In a `console` block only `$ ` lines (and their
 * continuations) are commands; the rest is output. Elsewhere every line is, except
 * blank lines and comments; a line ending in `\` continues on the next, and a heredoc
 * runs to its terminator.
 */
export function blockCommands(block: DocBlock): DocCommand[] {
  const lines = block.body.split('\n');
  const console = block.lang === 'console';
  const commands: DocCommand[] = [];
  for (let i = 0; i < lines.length; i++) {
    let first = lines[i] ?? '';
    if (console) {
      if (!first.startsWith('$ ')) continue;
      first = first.slice(2);
    }
    if (first.trim() === '' || first.trimStart().startsWith('#')) continue;
    const start = i;
    const parts = [first];
    while ((parts.at(-1) ?? '').endsWith('\\') && i + 1 < lines.length)
      parts.push(lines[++i] ?? '');
    const heredoc = /<<-?\s*['"]?(\w+)['"]?/.exec(parts.join('\n'));
    if (heredoc) {
      while (i + 1 < lines.length) {
        const next = lines[++i] ?? '';
        parts.push(next);
        if (next.trim() === heredoc[1]) break;
      }
    }
    const text = parts.join('\n');
    commands.push({ text, key: commandKey(text), line: block.line + 1 + start });
  }
  return commands;
}

/** A command on one line, without its trailing comment and with single spaces. */
export function commandKey(text: string): string {
  return text
    .replace(/\\\n/g, ' ')
    .replace(/[ \t]#\s.*$/gm, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * Blocks without a language whose first line looks like a command: the harness would
 * not run them, so a page must label them (`sh`) or show them as `text`.
 */
export function unlabeledCommandBlocks(blocks: readonly DocBlock[]): DocBlock[] {
  return blocks.filter(
    (b) => b.lang === '' && /^\s*(\$ |syncjournal |npx |npm |node |bash )/.test(b.body),
  );
}
