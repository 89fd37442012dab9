#!/usr/bin/env node
// `npm run test:property [-- --runs N] [--seed S] [vitest args…]`: the property
// suite with a budget. --runs N sets how many cases the biggest properties run (the
// others scale from it); --seed S replays a reported failure.
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const env = { ...process.env };
const rest = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--runs' || args[i] === '--seed') {
    const value = args[++i];
    if (!/^-?\d+$/.test(value ?? '')) {
      console.error(`${args[i - 1]} needs a whole number, got ${JSON.stringify(value)}`);
      process.exit(2);
    }
    env[args[i - 1] === '--runs' ? 'SYNCJOURNAL_PROPERTY_RUNS' : 'SYNCJOURNAL_PROPERTY_SEED'] =
      value;
  } else {
    rest.push(args[i]);
  }
}
const run = spawnSync('npx', ['vitest', 'run', '--project', 'property', ...rest], {
  stdio: 'inherit',
  env,
});
process.exit(run.status ?? 1);
