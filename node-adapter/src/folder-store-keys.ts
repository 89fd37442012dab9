import { SyncJournalError } from '@syncjournal/core';

/** The folder bucket's own directory; keys under it are valid except the subtrees below. */
export const STORE_DIR = '.syncjournal';

/**
 * Subtrees of {@link STORE_DIR} that hold the store's own files (sidecars, the write
 * lock, uploads in progress). They are never listed and cannot be written as keys.
 * The engine's own keys under `.syncjournal/` (trash, journal backups) are ordinary.
 */
export const RESERVED_SUBDIRS: readonly string[] = ['meta', 'locks', 'tmp'];

/**
 * Throws `unsafe-key` unless `key` names a file inside the bucket folder: no empty,
 * `.` or `..` segment, no leading `/`, no NUL, no backslash (a separator on Windows,
 * so a bucket folder written on Linux stays readable there).
 */
export function assertSafeKey(key: string): void {
  const reason = unsafeReason(key);
  if (reason !== null) {
    throw new SyncJournalError(
      'unsafe-key',
      `"${key}" cannot be a key of a folder bucket (${reason}). Nothing was read or written.`,
      { key, reason },
    );
  }
}

/** Why `key` cannot name a file in the bucket folder, or `null` when it can. */
export function unsafeReason(key: string): string | null {
  if (key === '') return 'empty key';
  if (key.startsWith('/')) return 'absolute path';
  if (key.includes('\u0000')) return 'NUL character';
  if (key.includes('\\')) return 'backslash';
  for (const segment of key.split('/')) {
    if (segment === '') return 'empty path segment';
    if (segment === '.' || segment === '..') return `"${segment}" segment`;
  }
  return null;
}

/** True for the store's own files and directories, which are never objects. */
export function isReservedKey(key: string): boolean {
  if (key === STORE_DIR) return true;
  return RESERVED_SUBDIRS.some((sub) => {
    const dir = `${STORE_DIR}/${sub}`;
    return key === dir || key.startsWith(`${dir}/`);
  });
}

/** Throws `reserved-key` for a key that would overwrite the store's own files. */
export function assertWritableKey(key: string): void {
  assertSafeKey(key);
  if (isReservedKey(key)) {
    throw new SyncJournalError(
      'reserved-key',
      `"${key}" is reserved for the folder bucket's own files (${STORE_DIR}/meta, locks, tmp). Nothing was written.`,
      { key },
    );
  }
}

/** An ETag without quotes or a weak prefix, for comparing `ifMatch` with the current one. */
export function unquoteEtag(etag: string): string {
  return etag.replace(/^W\//, '').replace(/^"|"$/g, '');
}
