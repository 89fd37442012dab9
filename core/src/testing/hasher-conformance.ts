import { describe, expect, it } from 'vitest';
import { encodeUtf8 } from '../memory/bytes.js';
import type { Clock } from '../ports/clock.js';
import { EMPTY_SHA256, type Hasher, hashOf } from '../ports/hasher.js';

/** Published SHA-256 test vectors (FIPS 180-2), shared by every platform's hasher. */
export const SHA256_VECTORS: ReadonlyArray<{ input: string; hash: string }> = [
  { input: '', hash: EMPTY_SHA256 },
  { input: 'abc', hash: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad' },
  {
    input: 'abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq',
    hash: '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
  },
];

/**
 * The Hasher port's conformance suite: the same digest as every other platform for
 * the same bytes, whatever the chunking, with strings hashed as UTF-8.
 */
export function runHasherConformance(name: string, hasher: Hasher): void {
  describe(`Hasher conformance: ${name}`, () => {
    it('matches the published SHA-256 vectors, as lowercase hex', () => {
      for (const { input, hash } of SHA256_VECTORS) expect(hashOf(hasher, input)).toBe(hash);
    });

    it('hashes a string as its UTF-8 bytes', () => {
      expect(hashOf(hasher, 'é')).toBe(hashOf(hasher, new Uint8Array([0xc3, 0xa9])));
      expect(hashOf(hasher, '😀')).toBe(hashOf(hasher, new Uint8Array([0xf0, 0x9f, 0x98, 0x80])));
    });

    it('gives the same digest however the bytes are chunked', () => {
      const bytes = new Uint8Array(100_003);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + 7) & 0xff;
      const whole = hashOf(hasher, bytes);
      for (const size of [1, 63, 64, 65, 4096, 65_536]) {
        const state = hasher.create();
        for (let at = 0; at < bytes.length; at += size) state.update(bytes.subarray(at, at + size));
        expect(state.digest()).toBe(whole);
      }
      expect(hashOf(hasher, bytes.subarray(0, 50_000), bytes.subarray(50_000))).toBe(whole);
    });

    const digestBytes = hasher.digestBytes?.bind(hasher);
    if (digestBytes) {
      it('digests bytes in memory to the same digest as streaming', async () => {
        for (const { input, hash } of SHA256_VECTORS) {
          expect(await digestBytes(encodeUtf8(input))).toBe(hash);
        }
        const bytes = new Uint8Array(1_000_003);
        for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + 17) & 0xff;
        expect(await digestBytes(bytes)).toBe(hashOf(hasher, bytes));
      });
    }

    it('keeps states apart: several hashes in progress at once', () => {
      const a = hasher.create();
      const b = hasher.create();
      a.update('ab');
      b.update('a');
      a.update('c');
      b.update('bc');
      const c = hasher.create();
      c.update('');
      expect([a.digest(), b.digest(), c.digest()]).toEqual([
        SHA256_VECTORS[1]!.hash,
        SHA256_VECTORS[1]!.hash,
        EMPTY_SHA256,
      ]);
    });

    it('hashes a million "a" to the published digest', () => {
      const state = hasher.create();
      const chunk = new Uint8Array(1000).fill(0x61);
      for (let i = 0; i < 1000; i++) state.update(chunk);
      expect(state.digest()).toBe(
        'cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0',
      );
    });
  });
}

/** The Clock port's conformance suite: integer milliseconds that never go backwards. */
export function runClockConformance(name: string, clock: Clock): void {
  describe(`Clock conformance: ${name}`, () => {
    it('reads integer milliseconds since the epoch that never decrease', () => {
      let last = clock.now();
      for (let i = 0; i < 1000; i++) {
        const now = clock.now();
        expect(Number.isInteger(now)).toBe(true);
        expect(now).toBeGreaterThanOrEqual(last);
        last = now;
      }
      expect(last).toBeGreaterThan(Date.UTC(2000, 0, 1));
    });
  });
}
