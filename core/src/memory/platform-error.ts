/**
 * An error shaped like the one a real platform throws (Node's `EACCES`, the AWS
 * SDK's `ServiceUnavailable`), for the faults the memory adapters inject. It is not a
 * SyncJournalError on purpose: the engine must cope with foreign errors it did not
 * make, and tests branch on `code` exactly as they would against the real thing.
 */
export interface PlatformError extends Error {
  readonly code: string;
}

/** Makes a {@link PlatformError} with `name` and `code` both set to `code`. */
export function platformError(code: string, message: string): PlatformError {
  const error = new Error(message) as Error & { code: string };
  error.name = code;
  error.code = code;
  return error;
}
