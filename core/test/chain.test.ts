import { describe, expect, it } from 'vitest';
import { ChainVerifier, eventHash, GENESIS_HASH, type JournalEvent } from '../src/index.js';
import { sha256 } from './node-sha256.js';

function chain(n: number): JournalEvent[] {
  const events: JournalEvent[] = [];
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const content = {
      seq,
      run: 1,
      at: '2026-01-01T00:00:00.000Z',
      kind: 'scan.removed' as const,
      path: `f${seq}`,
      payload: {},
    };
    const hash = eventHash(sha256, prev, content);
    events.push({ ...content, prevHash: prev, hash } as JournalEvent);
    prev = hash;
  }
  return events;
}

const verify = (events: JournalEvent[], head = events[events.length - 1]) => {
  const v = new ChainVerifier(sha256);
  for (const e of events) v.push(e);
  return v.finish(head ? { seq: head.seq, hash: head.hash } : { seq: 0, hash: GENESIS_HASH });
};

describe('the hash chain', () => {
  it('verifies an intact chain, including an empty one', () => {
    expect(verify(chain(5))).toMatchObject({ ok: true, events: 5 });
    expect(verify([])).toEqual({ ok: true, events: 0, head: { seq: 0, hash: GENESIS_HASH } });
  });

  it('covers the payload regardless of key order, and nothing else', () => {
    const a = eventHash(sha256, GENESIS_HASH, {
      seq: 1,
      run: 1,
      at: 'x',
      kind: 'op.started',
      path: 'p',
      payload: { index: 0, action: 'upload' },
    });
    const b = eventHash(sha256, GENESIS_HASH, {
      seq: 1,
      run: 1,
      at: 'x',
      kind: 'op.started',
      path: 'p',
      payload: { action: 'upload', index: 0 },
    });
    expect(a).toBe(b);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });

  it('names the first bad event: edited, missing, relinked, or a moved head', () => {
    const edited = chain(5);
    edited[2] = { ...edited[2]!, path: 'other' } as JournalEvent;
    expect(verify(edited)).toMatchObject({
      ok: false,
      events: 2,
      firstBad: { seq: 3, reason: 'hash-mismatch' },
    });

    const missing = chain(5).filter((e) => e.seq !== 4);
    expect(verify(missing)).toMatchObject({
      ok: false,
      firstBad: { seq: 4, reason: 'missing-event' },
    });

    const relinked = chain(5);
    relinked[3] = { ...relinked[3]!, prevHash: GENESIS_HASH } as JournalEvent;
    expect(verify(relinked)).toMatchObject({
      ok: false,
      firstBad: { seq: 4, reason: 'broken-link' },
    });

    const full = chain(5);
    expect(verify(full.slice(0, 4), full[4])).toMatchObject({
      ok: false,
      firstBad: { seq: 5, reason: 'head-mismatch' },
    });
  });
});
