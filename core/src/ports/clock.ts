/**
 * The engine's only source of time, so tests can control it and a replayed run sees
 * the times that were journaled, never the wall clock.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch, as an integer. */
  now(): number;
}

/** The wall clock. */
export const systemClock: Clock = { now: () => Date.now() };

/** A clock that only moves when told to; for tests and replays. */
export class ManualClock implements Clock {
  #now: number;
  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }
  now(): number {
    return this.#now;
  }
  /** Moves time forward by `ms` and returns the new time. */
  advance(ms: number): number {
    this.#now += ms;
    return this.#now;
  }
}
