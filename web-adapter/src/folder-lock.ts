import { registerErrorClass, SyncJournalError } from '@syncjournal/core';

/** Another worker (another tab) owns this folder. */
export class FolderLockedError extends SyncJournalError {
  constructor(root: string) {
    super(
      'folder-locked',
      `The notes folder ${root} is open in another tab or worker. Nothing was read or written here; close the other one, or use it.`,
      { root },
    );
  }
}
registerErrorClass('FolderLockedError', FolderLockedError);

/**
 * Holds the Web Lock that makes this worker the only owner of an OPFS folder (sync
 * access handles are exclusive, and two writers would race), until `release`.
 */
export async function lockFolder(root: string): Promise<() => void> {
  return new Promise((resolve, reject) => {
    navigator.locks
      .request(`syncjournal:${root}`, { ifAvailable: true }, (lock) => {
        if (!lock) {
          reject(new FolderLockedError(root));
          return undefined;
        }
        return new Promise<void>((release) => resolve(release));
      })
      .catch(reject);
  });
}
