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
});
