import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, hashCanonical, NonCanonicalValueError } from '../../src/index.js';

describe('canonicalJson', () => {
  it('sorts keys at every depth and drops whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } })).toBe('{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
  });

  it('writes numbers in their shortest stable form', () => {
    expect(canonicalJson([1.0, 1e21, 0.1, -0, 1e-7])).toBe('[1,1e+21,0.1,0,1e-7]');
  });

  it.each([
    ['NaN', { a: [1, Number.NaN] }, '$.a[1]'],
    ['Infinity', { x: Number.POSITIVE_INFINITY }, '$.x'],
    ['undefined', { u: undefined }, '$.u'],
    ['a function', { f: () => 1 }, '$.f'],
    ['a bigint', [10n], '$[0]'],
    ['a Date', { when: new Date(0) }, '$.when'],
  ])('rejects %s and names where it is', (_name, value, path) => {
    expect(() => canonicalJson(value)).toThrow(NonCanonicalValueError);
    try {
      canonicalJson(value);
    } catch (error) {
      expect((error as NonCanonicalValueError).path).toBe(path);
    }
  });

  it('rejects cycles', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow(/circular/);
  });

  it('round-trips any JSON value and ignores key order', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalJson(value);
        expect(canonicalJson(JSON.parse(text))).toBe(text);
        const reordered = JSON.parse(JSON.stringify(value, (_k, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v)));
        expect(hashCanonical(reordered)).toBe(hashCanonical(value));
      }),
    );
  });

  it('rejects a hole of a sparse array and names where it is, instead of writing invalid JSON', () => {
    // eslint-disable-next-line no-sparse-arrays
    const sparse = [1, , 3];
    expect(() => canonicalJson(sparse)).toThrow(NonCanonicalValueError);
    expect(() => canonicalJson({ a: [0, new Array(2)] })).toThrow(/\$\.a\[1\]\[0\] .*: hole in a sparse array/);
    expect(canonicalJson([1, null, 3])).toBe('[1,null,3]');
  });

  it('is valid JSON that parses back to the same canonical form, for any JSON-like value (holes rejected)', () => {
    fc.assert(
      fc.property(jsonLike, (value) => {
        if (hasHole(value)) {
          expect(() => canonicalJson(value)).toThrow(/hole in a sparse array/);
          return;
        }
        const text = canonicalJson(value);
        expect(canonicalJson(JSON.parse(text))).toBe(text);
      }),
      { numRuns: 500 },
    );
  });
});

/** Strings with any code unit: astral characters, lone surrogates, U+0000, escapes. */
const anyText = fc.string({
  unit: fc.oneof(
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit)),
    fc.constantFrom('\u0000', '"', '\\', '\n', '\u2028', '__proto__', 'é', 'e\u0301'),
  ),
  maxLength: 8,
});

/** Numbers at the edges of the ECMAScript form: -0, subnormals, exponents, beyond 2^53. */
const anyNumber = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.constantFrom(-0, 5e-324, -5e-324, Number.MAX_VALUE, Number.MIN_VALUE, 1e21, 1e-7, 2 ** 53 + 2, -(2 ** 63), 0.1 + 0.2),
);

const jsonLike: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    anyNumber,
    anyText,
    fc.array(tie('value'), { maxLength: 5 }),
    fc.sparseArray(tie('value'), { maxLength: 5 }),
    fc.dictionary(anyText, tie('value'), { maxKeys: 5 }),
  ),
})).value;

function hasHole(value: unknown): boolean {
  if (Array.isArray(value))
    return Array.from({ length: value.length }, (_, i) => i).some((i) => !(i in value) || hasHole(value[i]));
  if (typeof value === 'object' && value !== null) return Object.values(value).some(hasHole);
  return false;
}
