// npm run docs:cli: regenerates docs/cli.md from the CLI's help text.
import { writeFileSync } from 'node:fs';
import { cliReference } from '../node-adapter/dist/cli/reference.js';

writeFileSync(new URL('../docs/cli.md', import.meta.url), cliReference());
