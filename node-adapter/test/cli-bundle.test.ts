import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { describe, expect, it } from 'vitest';

// The CLI runs from a bundle (rolldown.config.mjs): its dependencies are inside it, so
// Node does not resolve and link Kysely's 258 modules one by one at every start.
const bundle = new URL('../dist/bundle/', import.meta.url);
const bin = new URL('../bin/syncjournal.js', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/** What a bundle file imports: static imports and `await import(…)`, not comments. */
function importsOf(code: string): string[] {
  const found = [
    ...code.matchAll(/^import\s[^;]*?from\s*"([^"]+)"/gm),
    ...code.matchAll(/^import\s*"([^"]+)"/gm),
    ...code.matchAll(/await import\("([^"]+)"\)/g),
  ];
  return found.map((m) => m[1]!);
}

/** Left outside the bundle on purpose: Node itself, PGlite's WebAssembly, the AWS SDK, pg. */
const external = (specifier: string) =>
  specifier.startsWith('./') ||
  specifier.startsWith('node:') ||
  builtinModules.includes(specifier) ||
  /^@electric-sql\/pglite(\/|$)/.test(specifier) ||
  specifier.startsWith('@aws-sdk/') ||
  specifier === 'pg';

describe('the bundled CLI', () => {
  it('imports only what is meant to stay outside it', () => {
    const files = readdirSync(bundle).filter((f) => f.endsWith('.js'));
    expect(files).toEqual(
      expect.arrayContaining([
        'main.js',
        'node-tree-walk-worker.js',
        'folder-store-list-worker.js',
      ]),
    );
    const imports = files.flatMap((f) => importsOf(readFileSync(new URL(f, bundle), 'utf8')));
    expect(imports).toContain('@electric-sql/pglite');
    expect(imports.filter((s) => !external(s))).toEqual([]);
  });

  it('is what bin/syncjournal.js runs', () => {
    expect(readFileSync(bin, 'utf8')).toContain("from '../dist/bundle/main.js'");
    expect(execFileSync(process.execPath, [bin, '--version'], { encoding: 'utf8' }).trim()).toBe(
      pkg.version,
    );
  });
});
