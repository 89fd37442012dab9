import { canonicalJson } from '../canonical-json.js';
import { InvalidEventError } from '../errors.js';
import type { Clock } from '../ports/clock.js';
import type { Hasher } from '../ports/hasher.js';
import { eventHashOfPayloadText } from './chain.js';
import {
  EVENT_KINDS,
  type JournalEvent,
  type JournalEventInput,
  PATH_EVENT_KINDS,
} from './events.js';

const KNOWN_KINDS: ReadonlySet<string> = new Set(EVENT_KINDS);

/** An event ready to store, with its payload's canonical JSON (hashed and stored). */
export interface PreparedEvent {
  event: JournalEvent;
  payloadText: string;
}

/**
 * Checks an event a journal is asked to append and gives it its place in the chain:
 * `seq`, a normalised time, and its hash after `prevHash`. Every journal uses it, so
 * they refuse the same events: an unknown kind, a run that is not a positive integer,
 * a path event without a path, a bad time, and a NUL anywhere (Postgres text and jsonb
 * cannot hold one, so no journal accepts it). Throws {@link InvalidEventError}.
 */
export function prepareEvent(
  input: JournalEventInput,
  seq: number,
  prevHash: string,
  deps: { hasher: Hasher; clock: Clock },
): PreparedEvent {
  if (!KNOWN_KINDS.has(input.kind)) {
    throw new InvalidEventError(`unknown event kind "${input.kind}"`);
  }
  if (!Number.isInteger(input.run) || input.run < 1) {
    throw new InvalidEventError(`run must be a positive integer, got ${input.run}`);
  }
  const path = input.path ?? null;
  if (PATH_EVENT_KINDS.has(input.kind) && !path) {
    throw new InvalidEventError(`a ${input.kind} event needs a path`);
  }
  const payloadText = canonicalJson(input.payload);
  if (path?.includes('\u0000') || payloadText.includes('\\u0000')) {
    throw new InvalidEventError('an event holds a NUL character, which Postgres cannot store', {
      kind: input.kind,
    });
  }
  const time = new Date(input.at ?? deps.clock.now());
  if (Number.isNaN(time.getTime())) throw new InvalidEventError(`"${input.at}" is not a time`);
  // Normalised so the hash survives a timestamptz round trip.
  const at = time.toISOString();
  const head = { seq, run: input.run, at, kind: input.kind, path };
  const hash = eventHashOfPayloadText(deps.hasher, prevHash, head, payloadText);
  return {
    event: { ...head, payload: input.payload, prevHash, hash } as JournalEvent,
    payloadText,
  };
}
