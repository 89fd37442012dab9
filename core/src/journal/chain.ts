import { canonicalJson } from '../canonical-json.js';
import type { Hasher } from '../ports/hasher.js';
import type { EventKind, EventPayloads, JournalEvent } from './events.js';

/** The `prevHash` of the first event. */
export const GENESIS_HASH = '0'.repeat(64);

/** The parts of an event its hash covers. */
export interface ChainedContent {
  seq: number;
  run: number;
  at: string;
  kind: EventKind;
  path: string | null;
  payload: EventPayloads[EventKind];
}

/**
 * An event's hash: SHA-256 over the previous event's hash and the canonical JSON of
 * its own content. Editing, deleting or reordering an event breaks the chain from
 * that event on, which is what `verify()` reports.
 */
export function eventHash(hasher: Hasher, prevHash: string, content: ChainedContent): string {
  return eventHashOfPayloadText(hasher, prevHash, content, canonicalJson(content.payload));
}

/**
 * {@link eventHash} for a caller that already holds the payload's canonical JSON (the
 * journal stores that same text, so it serialises each payload once).
 */
export function eventHashOfPayloadText(
  hasher: Hasher,
  prevHash: string,
  content: Omit<ChainedContent, 'payload'>,
  payloadText: string,
): string {
  const state = hasher.create();
  // One update: prevHash, a newline, then what canonicalJson([seq, run, at, kind, path, payload]) gives.
  state.update(
    `${prevHash}\n[${content.seq},${content.run},${JSON.stringify(content.at)},${JSON.stringify(content.kind)},${
      content.path === null ? 'null' : JSON.stringify(content.path)
    },${payloadText}]`,
  );
  return state.digest();
}

/** Why `verify()` stopped at an event. */
export type ChainBreak =
  /** The event's content no longer matches its hash: it was edited. */
  | 'hash-mismatch'
  /** The event's `prevHash` is not the previous event's hash: an event before it was replaced. */
  | 'broken-link'
  /** A sequence number is missing: the event with that `seq` was deleted. */
  | 'missing-event'
  /** The chain does not end at the recorded head: the last events were deleted or added outside the journal. */
  | 'head-mismatch'
  /** An event numbered below 1, which the journal never appends: added outside it. */
  | 'bad-seq';

/** The outcome of walking the hash chain. */
export type VerifyResult =
  | { ok: true; events: number; head: { seq: number; hash: string } }
  | {
      ok: false;
      /** Events that verified before the break. */
      events: number;
      firstBad: { seq: number; reason: ChainBreak; detail: string };
    };

/**
 * Walks a chain incrementally. Feed events in `seq` order; the first break is kept.
 */
export class ChainVerifier {
  #expectedSeq = 1;
  #prevHash = GENESIS_HASH;
  #verified = 0;
  #firstBad: { seq: number; reason: ChainBreak; detail: string } | null = null;
  readonly #hasher: Hasher;

  constructor(hasher: Hasher) {
    this.#hasher = hasher;
  }

  /** False once a break was found (further events are ignored). */
  get ok(): boolean {
    return this.#firstBad === null;
  }

  /** Checks the next event. */
  push(event: JournalEvent): void {
    if (this.#firstBad) return;
    if (event.seq !== this.#expectedSeq) {
      this.#firstBad = {
        seq: this.#expectedSeq,
        reason: 'missing-event',
        detail: `expected event ${this.#expectedSeq}, found ${event.seq}`,
      };
      return;
    }
    if (event.prevHash !== this.#prevHash) {
      this.#firstBad = {
        seq: event.seq,
        reason: 'broken-link',
        detail: `its previous-hash does not match event ${event.seq - 1}`,
      };
      return;
    }
    const actual = eventHash(this.#hasher, event.prevHash, event);
    if (actual !== event.hash) {
      this.#firstBad = {
        seq: event.seq,
        reason: 'hash-mismatch',
        detail: `${event.kind} event content does not match its hash`,
      };
      return;
    }
    this.#prevHash = event.hash;
    this.#expectedSeq = event.seq + 1;
    this.#verified++;
  }

  /** The verdict, given the head the journal recorded. */
  finish(head: { seq: number; hash: string }): VerifyResult {
    if (this.#firstBad) return { ok: false, events: this.#verified, firstBad: this.#firstBad };
    const last = this.#expectedSeq - 1;
    if (head.seq !== last || head.hash !== this.#prevHash) {
      return {
        ok: false,
        events: this.#verified,
        firstBad: {
          seq: Math.min(head.seq, last) + 1,
          reason: 'head-mismatch',
          detail: `the journal head is event ${head.seq} but the chain ends at event ${last}`,
        },
      };
    }
    return { ok: true, events: this.#verified, head: { seq: last, hash: this.#prevHash } };
  }
}
