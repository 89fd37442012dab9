import { type SerializedError, SyncJournalError } from '@syncjournal/core';
import { type TransferHandler, transferHandlers } from 'comlink';

/**
 * Errors keep their class and code across the worker boundary: comlink's handler for
 * thrown values is replaced by one that sends a {@link SyncJournalError} as its JSON
 * and rebuilds the registered class on the other side. Other errors keep their name
 * and message. Imported for its effect on both sides (worker and page).
 */
const builtIn = transferHandlers.get('throw') as TransferHandler<{ value: unknown }, unknown>;

type Thrown =
  | { kind: 'syncjournal'; error: SerializedError }
  | { kind: 'error'; error: { name: string; message: string; stack?: string } }
  | { kind: 'value'; value: unknown };

const handler: TransferHandler<{ value: unknown }, Thrown> = {
  canHandle: (value): value is { value: unknown } => builtIn.canHandle(value),
  serialize({ value }) {
    if (value instanceof SyncJournalError)
      return [{ kind: 'syncjournal', error: value.toJSON() }, []];
    if (value instanceof Error) {
      const error = {
        name: value.name,
        message: value.message,
        ...(value.stack ? { stack: value.stack } : {}),
      };
      return [{ kind: 'error', error }, []];
    }
    return [{ kind: 'value', value }, []];
  },
  deserialize(thrown) {
    if (thrown.kind === 'syncjournal') throw SyncJournalError.fromJSON(thrown.error);
    if (thrown.kind === 'error') throw Object.assign(new Error(thrown.error.message), thrown.error);
    throw thrown.value;
  },
};

transferHandlers.set('throw', handler as TransferHandler<unknown, unknown>);
