import { SyncJournalError } from '../errors.js';

/**
 * Names of the temp files syncjournal's trees write before moving them in place: never
 * walked, never accepted as tree paths, never brought down from the bucket.
 */
export const TEMP_PREFIX = '.syncjournal-tmp-';

/**
 * Why a remote key cannot be brought down as a local path, or `null` when it can.
 * Pure, so a replayed plan skips exactly the same keys; `rules` is the run's
 * reconciler rules (see `RECONCILE_RULES`): 2 added backslashes and temp names.
 */
export function unsafeKeyReason(key: string, rules = 2): string | null {
  if (key.length === 0) return 'empty key';
  if (key.startsWith('/')) return 'absolute path';
  if (key.includes('\u0000')) return 'NUL character';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we look for
  if (/[\u0001-\u001f\u007f]/.test(key)) return 'control character';
  if (key.endsWith('/')) return 'directory marker';
  if (key.length > 4096) return 'path too long';
  if (rules >= 2 && key.includes('\\')) return 'backslash (a folder separator on Windows)';
  for (const segment of key.split('/')) {
    if (segment === '') return 'empty path segment';
    if (segment === '.' || segment === '..') return `"${segment}" segment`;
    if (utf8Length(segment) > 255) return 'name too long';
    if (rules >= 2 && segment.startsWith(TEMP_PREFIX))
      return `${TEMP_PREFIX}* names are syncjournal's temp files`;
  }
  return null;
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/**
 * Why `id` cannot be a client id, or `null` when it can. A client id names conflict
 * copies beside the user's files (`name.conflict-<client>-…`) and this client's trash
 * and journal backups in the bucket, so it must be one plain name: 1–64 letters, digits,
 * `.`, `_` or `-`, starting with a letter or digit.
 */
export function clientIdProblem(id: string): string | null {
  if (/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(id)) return null;
  if (id.length === 0) return 'it is empty';
  if (id.length > 64) return 'it is longer than 64 characters';
  if (!/^[A-Za-z0-9]/.test(id)) return 'it does not start with a letter or digit';
  return 'it has characters other than letters, digits, ".", "_" and "-"';
}

/**
 * The path of the local version kept beside a conflicted file:
 * `name.conflict-<client>-<UTC yyyymmddThhmmss>.ext`, with `-2`, `-3`… added when that
 * name is taken.
 */
export function conflictCopyPath(
  path: string,
  clientId: string,
  timeMs: number,
  taken: (candidate: string) => boolean,
): string {
  const slash = path.lastIndexOf('/');
  const dir = path.slice(0, slash + 1);
  const name = path.slice(slash + 1);
  const dot = name.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
  const stamp = new Date(timeMs).toISOString().replace(/[-:]/g, '').slice(0, 15);
  const base = `${dir}${stem}.conflict-${clientId}-${stamp}`;
  let candidate = `${base}${ext}`;
  for (let n = 2; taken(candidate); n++) candidate = `${base}-${n}${ext}`;
  return candidate;
}

/**
 * The trash slot where an op's kept local file goes: `run-<run>-op-<index>`. Named
 * after the op, not after the moment, so `restore` finds a version a killed run kept
 * before it could journal where (see {@link trashSlotCandidate}).
 */
export function localTrashSlot(run: number, index: number): string {
  return `run-${run}-op-${index}`;
}

/**
 * Candidate `n` of a requested trash slot: `slot`, then `slot~2`, `slot~3`… when an
 * earlier slot of that name is taken (a client whose lost journal started its runs
 * from 1 again). A slot holds one kept file and is never shared.
 */
export function trashSlotCandidate(slot: string, n: number): string {
  return n === 1 ? slot : `${slot}~${n}`;
}

/**
 * Throws unless `slot` can name a trash slot: one plain name of 1–100 letters, digits,
 * `.`, `_` or `-`, starting with a letter or digit (no `/`, no `~`, nothing a tree
 * could read as a path).
 */
export function checkTrashSlot(slot: string): void {
  if (/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(slot)) return;
  throw new SyncJournalError(
    'invalid-trash-slot',
    `${JSON.stringify(slot)} cannot name a trash slot: it must be one plain name (letters, digits, ".", "_", "-"). Nothing was changed.`,
    { slot },
  );
}
