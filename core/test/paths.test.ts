import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { comparePaths } from '../src/index.js';

const sign = (n: number) => Math.sign(n);

describe('comparePaths', () => {
  it('orders like the UTF-8 bytes (S3 and the "C" collation), for any Unicode', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
        const bytes = Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
        expect(sign(comparePaths(a, b))).toBe(sign(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it('differs from JavaScript’s default order above U+FFFF', () => {
    const astral = '\u{1F600}';
    const highBmp = '\uFFFD';
    expect([highBmp, astral].sort()).toEqual([astral, highBmp]);
    expect([astral, highBmp].sort(comparePaths)).toEqual([highBmp, astral]);
  });

  it('puts a directory’s files before names that extend it with a higher character', () => {
    expect(['a0', 'a/b', 'a', 'a-b'].sort(comparePaths)).toEqual(['a', 'a-b', 'a/b', 'a0']);
  });
});
