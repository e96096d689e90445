import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JsonValue } from '../../src/core/canonical-json.js';
import { conditionProblem, holds, parsePath, valueAt, type Condition, type ConditionOp } from '../../src/core/condition.js';

const when = (path: string, op: ConditionOp, value?: JsonValue): Condition => ({ step: 'filter', output: null, path, op, ...(value === undefined ? {} : { value }) });

describe('conditions on an upstream output', () => {
  const payload = { passed: 3, verdicts: [{ name: 'aspirin', passes: true }], 'odd key': 'x', nothing: null };

  it('follow member, quoted and index segments', () => {
    expect(parsePath('$.verdicts[0]["name"]')).toEqual({ ok: true, segments: ['verdicts', 0, 'name'] });
    expect(valueAt(payload, ['verdicts', 0, 'passes'])).toBe(true);
    expect(holds(when('$["odd key"]', '==', 'x'), payload)).toBe(true);
    expect(holds(when('$', 'exists'), payload)).toBe(true);
  });

  it('compare as documented: equality by content, order for two numbers or two strings only', () => {
    expect(holds(when('$.passed', '>', 0), payload)).toBe(true);
    expect(holds(when('$.passed', '<=', 3), payload)).toBe(true);
    expect(holds(when('$.passed', '>', '0'), payload)).toBe(false);
    expect(holds(when('$.verdicts[0]', '==', { passes: true, name: 'aspirin' }), payload)).toBe(true);
    expect(holds(when('$.nothing', '==', null), payload)).toBe(true);
    expect(holds(when('$.nothing', 'exists'), payload)).toBe(true);
    expect(holds(when('$.verdicts[0].name', '>=', 'asp'), payload)).toBe(true);
  });

  it('find nothing on a path that leads nowhere: only `!=` holds', () => {
    for (const path of ['$.missing', '$.passed.deeper', '$.verdicts[5]', '$.verdicts.name', '$[0]'])
      expect(['==', '!=', '>', '>=', '<', '<=', 'exists'].map((op) => holds(when(path, op as ConditionOp, op === 'exists' ? undefined : 1), payload))).toEqual([
        false, true, false, false, false, false, false,
      ]);
  });

  it('are total: every payload gives true or false', () => {
    const op = fc.constantFrom<ConditionOp>('==', '!=', '>', '>=', '<', '<=', 'exists');
    const path = fc.array(fc.oneof(fc.constantFrom('.a', '.b', '[0]', '[1]', '["a"]')), { maxLength: 4 }).map((parts) => `$${parts.join('')}`);
    fc.assert(
      fc.property(fc.jsonValue(), path, op, fc.jsonValue(), (data, at, how, value) => {
        const result = holds(when(at, how, how === 'exists' ? undefined : (value as JsonValue)), data as JsonValue);
        expect(typeof result).toBe('boolean');
      }),
    );
  });

  it('say what is wrong with a path, an operator or a value before any run', () => {
    expect(conditionProblem(when('$.a[', 'exists'))).toBe('path "$.a[": unexpected "[" at position 3: expected .name, ["name"] or [index]');
    expect(conditionProblem(when('$.a', '>'))).toBe('`>` needs a value to compare with');
    expect(conditionProblem(when('$.a', 'exists', 1))).toBe('`exists` takes no value');
    expect(conditionProblem(when('$.a', '<', true))).toBe('`<` compares numbers or strings, not boolean');
    expect(conditionProblem(when('$.a', '==', [1, 2]))).toBeUndefined();
  });
});
