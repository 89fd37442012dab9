import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Plugin } from 'vite';

/**
 * The AWS SDK's browser build parses XML with `DOMParser`, which dedicated workers do
 * not have — and the sync engine runs in a worker. This Vite plugin gives the SDK its
 * other XML parser (plain JavaScript, no DOM) in every bundle: page and worker alike.
 */
export function awsXmlParserWithoutDom(): Plugin {
  const require = createRequire(import.meta.url);
  const pkg = dirname(require.resolve('@aws-sdk/xml-builder/package.json'));
  const parser = join(pkg, 'dist-es', 'xml-parser.js');
  return {
    name: 'syncjournal:aws-xml-parser-without-dom',
    enforce: 'pre',
    resolveId(source, importer) {
      if (
        importer?.includes(`${join('@aws-sdk', 'xml-builder')}`) &&
        /^\.\/xml-parser(\.browser)?(\.js)?$/.test(source)
      ) {
        return parser;
      }
      return null;
    },
  };
}
