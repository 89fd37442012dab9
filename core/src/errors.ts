/**
 * Errors with stable codes and typed data that survive JSON and postMessage.
 *
 * A user-facing message says what happened, what was kept safe, and what to do next.
 * Code that crosses a process or worker boundary rebuilds the class from `toJSON()`
 * with {@link SyncJournalError.fromJSON}.
 */
export class SyncJournalError extends Error {
  /** A stable, kebab-case identifier callers can branch on. */
  readonly code: string;
  /** Machine-readable details; JSON-safe. */
  readonly data: Readonly<Record<string, unknown>>;

  constructor(
    code: string,
    message: string,
    data: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.data = data;
  }

  /** The JSON shape used on the wire (CLI `--json`, worker messages). */
  toJSON(): SerializedError {
    return { name: this.name, code: this.code, message: this.message, data: { ...this.data } };
  }

  /** Rebuilds an error from {@link toJSON}'s output, keeping its class where it is known. */
  static fromJSON(json: SerializedError): SyncJournalError {
    const Known = errorClasses[json.name];
    const error = Known
      ? Object.create(Known.prototype as object)
      : Object.create(SyncJournalError.prototype);
    Object.assign(error, {
      name: json.name,
      code: json.code,
      message: json.message,
      data: json.data,
    });
    Object.defineProperty(error, 'stack', {
      value: `${json.name}: ${json.message}`,
      writable: true,
    });
    return error as SyncJournalError;
  }
}

/** What a {@link SyncJournalError} looks like on the wire. */
export interface SerializedError {
  name: string;
  code: string;
  message: string;
  data: Record<string, unknown>;
}

/** The journal was written by a newer syncjournal; opening it changed nothing. */
export class JournalTooNewError extends SyncJournalError {
  constructor(data: { found: number; supported: number; unknownMigrations: string[] }) {
    super(
      'journal-too-new',
      `This journal was written by a newer syncjournal (schema version ${data.found}; this version understands up to ${data.supported}). ` +
        'Nothing was changed: the journal and your files are untouched. Upgrade syncjournal to open it.',
      data,
    );
  }
}

/** Another process holds the journal (one process per PGlite data dir). */
export class JournalLockedError extends SyncJournalError {
  constructor(data: { location: string; holderPid: number; holderHost: string; since: string }) {
    super(
      'journal-locked',
      `The journal at ${data.location} is open in another process (pid ${data.holderPid} on ${data.holderHost}, since ${data.since}). ` +
        'It was not read or written, and nothing was changed. Wait for that process to finish, or stop it, then try again.',
      data,
    );
  }
}

/** An event or batch that the journal refuses to append; nothing of the batch was written. */
export class InvalidEventError extends SyncJournalError {
  constructor(reason: string, data: Record<string, unknown> = {}) {
    super(
      'journal-invalid-event',
      `The journal refused an event batch: ${reason}. Nothing of the batch was written; the journal is unchanged.`,
      { reason, ...data },
    );
  }
}

/** The journal was used after {@link Journal.close}. */
export class JournalClosedError extends SyncJournalError {
  constructor() {
    super('journal-closed', 'The journal is closed; open it again to use it.');
  }
}

const errorClasses: Record<string, { prototype: unknown }> = {
  SyncJournalError,
  JournalTooNewError,
  JournalLockedError,
  InvalidEventError,
  JournalClosedError,
};

/** Registers an error class so {@link SyncJournalError.fromJSON} can rebuild it by name. */
export function registerErrorClass(name: string, errorClass: { prototype: unknown }): void {
  errorClasses[name] = errorClass;
}

/** A file, object or version that was expected is not there. */
export class NotFoundError extends SyncJournalError {
  constructor(what: string, data: Record<string, unknown> = {}) {
    super('not-found', `${what} does not exist.`, data);
  }
}

/**
 * A write's precondition failed: the target is no longer what the plan saw (a
 * teammate wrote between the listing and the put, a local edit landed after the
 * scan). Nothing was written; the engine re-plans the path instead of overwriting.
 */
export class PreconditionFailedError extends SyncJournalError {
  constructor(side: 'local' | 'remote', path: string, detail: string) {
    super(
      'precondition-failed',
      `${path} changed on the ${side} side after it was planned (${detail}). Nothing was overwritten; it will be planned again.`,
      { side, path, detail },
    );
  }
}

registerErrorClass('NotFoundError', NotFoundError);
registerErrorClass('PreconditionFailedError', PreconditionFailedError);
