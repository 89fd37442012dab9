import { mkdir, readFile, realpath, stat } from 'node:fs/promises';
import { isAbsolute, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ObjectStore, PairFilter } from '@syncjournal/core';
import { SyncJournalError } from '@syncjournal/core';
import ignore from 'ignore';
import { FolderStore } from '../folder-store.js';
import { NodeTree } from '../node-tree.js';
import type { PairConfig, StateDir } from './state-dir.js';

/** A usage error: exit code 2, and no stack trace. */
export class UsageError extends SyncJournalError {
  constructor(message: string) {
    super('usage', message);
  }
}

/**
 * `value`, a command-line number, as a whole number of at least `min`; anything else
 * (`-3`, `1.5`, `ten`) is a usage error naming `what`.
 */
export function wholeNumber(value: string, what: string, min: number): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < min) {
    throw new UsageError(`${what} must be a whole number of at least ${min}, not "${value}".`);
  }
  return n;
}

/** The remote as a URL: `s3://…` stays; a path or `file://` URL becomes an absolute `file://` URL. */
export function normalizeRemote(remote: string): string {
  if (remote.startsWith('s3://')) return remote.replace(/\/+$/, '');
  if (remote.startsWith('file://')) return pathToFileURL(fileURLToPath(remote)).href;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(remote)) {
    throw new UsageError(
      `${remote} is not a remote syncjournal knows: use s3://bucket/prefix, file:///dir or a folder path.`,
    );
  }
  return pathToFileURL(resolve(remote)).href;
}

/** The local root as an absolute path. */
export function normalizeLocal(local: string): string {
  if (local.startsWith('file://')) return fileURLToPath(local);
  return isAbsolute(local) ? resolve(local) : resolve(process.cwd(), local);
}

/**
 * Refuses a pair whose local root, state dir and folder bucket contain one another:
 * a sync into itself loops forever, as the seeds found with a mount inside a sync folder.
 * Checked before anything is written (a new pair is not remembered, a new state dir not
 * made), and again before every run of a remembered pair, `watch` included.
 */
export async function refuseNesting(
  local: string,
  remote: string,
  stateRoot: string,
  remembered?: { pairId: string },
): Promise<void> {
  const places: Array<[string, string]> = [
    ['the local folder', await real(local)],
    ['the state dir', await real(stateRoot)],
  ];
  if (remote.startsWith('file://'))
    places.push(['the folder bucket', await real(fileURLToPath(remote))]);
  for (const [nameA, a] of places) {
    for (const [nameB, b] of places) {
      if (nameA !== nameB && (a === b || a.startsWith(b.endsWith(sep) ? b : `${b}${sep}`))) {
        const next = remembered
          ? `Pair ${remembered.pairId} was remembered before syncjournal refused such pairs: forget it (syncjournal forget ${remembered.pairId}; nothing is deleted), then sync places that do not contain one another.`
          : 'Choose places that do not contain one another.';
        throw new UsageError(
          `${nameA} (${a}) is inside ${nameB} (${b}): a sync into itself would loop forever. Nothing was changed. ${next}`,
        );
      }
    }
  }
}

/**
 * Makes ready the places of a pair that is not remembered yet, before it is: refuses a
 * local folder or folder bucket that is a file, and creates the local folder if it does
 * not exist (a first sync may download into a new folder). A remembered pair's missing
 * folder is never created: an unmounted drive must not read as an empty folder.
 */
export async function prepareNewPair(local: string, remote: string): Promise<void> {
  const places: Array<[string, string]> = [['local folder', local]];
  if (remote.startsWith('file://')) places.push(['folder bucket', fileURLToPath(remote)]);
  for (const [name, path] of places) {
    const stats = await stat(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw notReady(name, path, error.message);
    });
    if (stats && !stats.isDirectory()) throw notReady(name, path, 'it is a file, not a folder');
  }
  try {
    await mkdir(local, { recursive: true });
  } catch (error) {
    throw notReady('local folder', local, `it could not be created: ${(error as Error).message}`);
  }
}

function notReady(name: string, path: string, why: string): UsageError {
  return new UsageError(
    `The ${name} ${path} cannot be synced: ${why}. Nothing was changed and no pair was remembered. Give a folder, or a path where one can be created.`,
  );
}

async function real(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    return resolve(path);
  }
}

/** Opens the pair's local tree and remote store. */
export async function openSides(
  pair: PairConfig,
  state: StateDir,
  created: boolean,
): Promise<{ tree: NodeTree; store: ObjectStore }> {
  const tree = await NodeTree.open({ root: pair.local, trashDir: state.trashDir(pair.id) });
  return { tree, store: await openRemote(pair.remote, created) };
}

/**
 * Opens a remote (a normalized `s3://` or `file://` URL). A new pair may create its
 * bucket folder; a remembered one whose folder is gone is refused (an unmounted disk
 * must not read as an empty bucket).
 */
export async function openRemote(remote: string, create: boolean): Promise<ObjectStore> {
  if (remote.startsWith('s3://')) {
    // Loaded only for an S3 remote: the AWS SDK is a tenth of a second of every start-up.
    const { S3Store } = await import('../s3-store.js');
    const s3 = await S3Store.fromUrl(remote);
    await s3.detectCapabilities();
    return s3;
  }
  return FolderStore.open({ root: fileURLToPath(remote), create });
}

/** The pair's filters: exclude globs, an ignore file (gitignore syntax), include globs. */
export async function filterFor(pair: PairConfig): Promise<PairFilter | undefined> {
  const excludes = [...(pair.exclude ?? [])];
  if (pair.ignoreFile) {
    try {
      excludes.push(...(await readFile(pair.ignoreFile, 'utf8')).split(/\r?\n/));
    } catch (error) {
      throw new UsageError(
        `The ignore file ${pair.ignoreFile} could not be read (${(error as Error).message}).`,
      );
    }
  }
  const spec = {
    exclude: excludes.filter((l) => l.trim() && !l.startsWith('#')),
    include: pair.include ?? [],
  };
  if (spec.exclude.length === 0 && spec.include.length === 0) return undefined;
  return { spec, excluded: excludedBySpec(spec) };
}

/**
 * The predicate of a filter spec as a run journaled it, so an audit rebuilds exactly
 * the filter that run used.
 */
export function excludedBySpec(spec: unknown): (path: string) => boolean {
  const { exclude = [], include = [] } = (spec ?? {}) as { exclude?: string[]; include?: string[] };
  const ex = ignore().add(exclude);
  const inc = ignore().add(include);
  return (path) => ex.ignores(path) || (include.length > 0 && !inc.ignores(path));
}
