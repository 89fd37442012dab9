import { SyncJournalError } from '../errors.js';

/** `a/b/c` → `a`, `a/b`. */
export function ancestors(path: string): string[] {
  const segments = path.split('/');
  return segments.slice(1).map((_, i) => segments.slice(0, i + 1).join('/'));
}

/** Rejects paths the port rules out, so a test bug fails loudly instead of aliasing. */
export function validatePath(path: string): void {
  const bad =
    path === '' ||
    path.startsWith('/') ||
    path.includes('\0') ||
    path.split('/').some((segment) => segment === '' || segment === '.' || segment === '..');
  if (bad) {
    throw new SyncJournalError('invalid-path', `"${path}" is not a valid tree path.`, { path });
  }
}
