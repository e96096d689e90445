import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  assertStorable,
  canonicalJson,
  classifyError,
  isStorableText,
  makeStorable,
  PermanentError,
  storableFailure,
  storableText,
  UnstorableValueError,
} from '../../src/index.js';

describe('storable text', () => {
  it.each([
    ['U+0000', 'a\u0000b', 'a\ufffdb'],
    ['a lone high surrogate', 'x\ud83d', 'x\ufffd'],
    ['a lone low surrogate', '\ude00y', '\ufffdy'],
    ['a reversed pair', '\ude00\ud83d', '\ufffd\ufffd'],
  ])('replaces %s with U+FFFD', (_name, text, storable) => {
    expect(isStorableText(text)).toBe(false);
    expect(storableText(text)).toBe(storable);
  });

  it('keeps every other string as it is, astral characters included', () => {
    for (const text of ['', 'plain', 'é', '😀', 'C1=CC=CC=C1', '\u0001\u001f', '\ufffd']) {
      expect(isStorableText(text)).toBe(true);
      expect(storableText(text)).toBe(text);
    }
  });

  it('names the first unstorable value or key by its path', () => {
    expect(() => assertStorable({ a: [1, { b: 'ok' }, 'bad\u0000'] })).toThrow(UnstorableValueError);
    expect(() => assertStorable({ a: [1, { b: 'ok' }, 'bad\u0000'] })).toThrow(/^Value at \$\.a\[2\] cannot be stored: it contains U\+0000/);
    expect(() => assertStorable({ ['k\ud800']: 1 })).toThrow(/\$\.k\ufffd cannot be stored: its key contains a lone UTF-16 surrogate \(U\+D800\)/);
    expect(() => assertStorable({ a: [null, true, 1.5, 'é😀'] })).not.toThrow();
  });

  it('makeStorable replaces in values and keys and keeps each original, escaped, by path', () => {
    const { value, originals } = makeStorable({ a: 'x\u0000', list: ['ok', '\ud800'], ['k\u0000']: 1 }, 'details');
    expect(value).toEqual({ a: 'x\ufffd', list: ['ok', '\ufffd'], ['k\ufffd']: 1 });
    expect(originals).toEqual({
      'details.a': '"x\\u0000"',
      'details.list[1]': '"\\ud800"',
      'details.k\ufffd (key)': '"k\\u0000"',
    });
    expect(Object.values(originals).every(isStorableText)).toBe(true);
  });

  it('makeStorable always gives a storable value with the same shape', () => {
    const text = fc.string({ unit: fc.oneof(fc.constantFrom('\u0000', '\ud800', '\udc00', 'a', '😀'), fc.string({ minLength: 1, maxLength: 1 })) });
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 3 }).chain((v) => fc.tuple(fc.constant(v), text)), ([json, extra]) => {
        const value = { json, extra, [extra]: [extra] };
        const made = makeStorable(value).value;
        expect(() => assertStorable(made)).not.toThrow();
        expect(() => canonicalJson(made)).not.toThrow();
        if (isStorableText(extra)) expect(made).toEqual(value);
      }),
    );
  });
});

describe('storableFailure', () => {
  it('keeps a storable failure as it is', () => {
    const failure = classifyError(new PermanentError('plain', { details: { n: 1 } }));
    expect(storableFailure(failure)).toBe(failure);
  });

  it('makes message, code, stack and details storable, keeps the class, and records the originals', () => {
    const failure = classifyError(new PermanentError('bad\u0000text', { code: 'E\ud800', details: { note: 'x\u0000' } }));
    const stored = storableFailure(failure);
    expect(stored).toMatchObject({
      errorClass: 'Permanent',
      message: 'bad\ufffdtext',
      code: 'E\ufffd',
      details: {
        note: 'x\ufffd',
        unstorable_text: { message: '"bad\\u0000text"', code: '"E\\ud800"', 'details.note': '"x\\u0000"' },
      },
    });
    expect(stored.stack).toContain('bad\ufffdtext');
    expect(() => assertStorable(stored)).not.toThrow();
  });
});
