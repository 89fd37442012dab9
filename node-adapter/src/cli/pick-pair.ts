import { isAbsolute, relative, resolve, sep } from 'node:path';
import { UsageError } from './open-pair.js';
import type { PairConfig, StateDir } from './state-dir.js';

/**
 * The pair a path belongs to, and the path relative to its root: an absolute path (or
 * one relative to the current folder) inside a pair's folder picks that pair; a
 * pair-relative path needs `--pair` when there are several pairs.
 */
export function pickPair(
  state: StateDir,
  path: string,
  pairId?: string,
): { pair: PairConfig; path: string } {
  const pairs = state.config.pairs;
  if (pairId) {
    const pair = pairs.find((p) => p.id === pairId);
    if (!pair) throw new UsageError(`There is no pair ${pairId}; see syncjournal status.`);
    return { pair, path: inside(pair, path) ?? path };
  }
  for (const pair of pairs) {
    const rel = inside(pair, path);
    if (rel) return { pair, path: rel };
  }
  if (pairs.length === 1 && !isAbsolute(path)) return { pair: pairs[0]!, path };
  if (pairs.length === 0) throw new UsageError('No pairs yet: syncjournal sync <local> <remote>.');
  throw new UsageError(
    `${path} is not inside a pair's folder; give its full path, or --pair <id> (see syncjournal status).`,
  );
}

function inside(pair: PairConfig, path: string): string | undefined {
  const full = resolve(path);
  if (!full.startsWith(pair.local + sep)) return undefined;
  return relative(pair.local, full).split(sep).join('/');
}
