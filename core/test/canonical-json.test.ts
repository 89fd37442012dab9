import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../src/index.js';

describe('canonicalJson', () => {
  it('ignores key order at every depth', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 0, y: 1 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[1,{"y":1,"z":0}]},"b":1}',
    );
  });

  it('drops undefined members and writes undefined array items as null, like JSON', () => {
    expect(canonicalJson({ a: undefined, b: [undefined, 1] })).toBe('{"b":[null,1]}');
  });

  it('refuses values JSON would change silently', () => {
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(/\$\.a is NaN/);
    expect(() => canonicalJson({ a: 1n })).toThrow(/bigint/);
    expect(() => canonicalJson([() => 1])).toThrow(/function/);
    // Named where they sit, however deep.
    expect(() => canonicalJson({ a: [1, { b: [0, Number.POSITIVE_INFINITY] }] })).toThrow(
      'canonicalJson: $.a[1].b[1] is Infinity',
    );
    expect(() => canonicalJson({ x: { y: [null, Symbol('s')] } })).toThrow(
      'canonicalJson: $.x.y[1] is a symbol, which JSON cannot hold',
    );
  });

  it('round-trips through JSON.parse, and re-serialises identically after a shuffle', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalJson(value);
        const parsed = JSON.parse(text) as unknown;
        expect(canonicalJson(parsed)).toBe(text);
        expect(canonicalJson(shuffleKeys(parsed))).toBe(text);
      }),
      { numRuns: 500 },
    );
  });
});

function shuffleKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(shuffleKeys);
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).reverse();
    return Object.fromEntries(entries.map(([k, v]) => [k, shuffleKeys(v)]));
  }
  return value;
}
