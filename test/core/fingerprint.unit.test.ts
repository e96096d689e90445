import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ENGINE_VERSION, flowFingerprint, stepFingerprint, type FingerprintInput, type JsonObject } from '../../src/index.js';

const hex = fc.stringMatching(/^[0-9a-f]{64}$/);
const input = fc.record({
  engineVersion: fc.constantFrom(ENGINE_VERSION, 'chemflow-0'),
  stepId: fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/),
  inputHashes: fc.array(hex, { maxLength: 4 }),
  params: fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 2 })) as fc.Arbitrary<JsonObject>,
  definitionHash: hex,
});

describe('step fingerprint', () => {
  it('is stable and ignores the order of inputs', () => {
    fc.assert(
      fc.property(input, (i) => {
        expect(stepFingerprint(i)).toBe(stepFingerprint({ ...i, inputHashes: [...i.inputHashes].reverse() }));
      }),
    );
  });

  it('changes when and only when params, inputs, step id, definition or engine version change', () => {
    fc.assert(
      fc.property(input, input, (a, b) => {
        const same = (x: FingerprintInput, y: FingerprintInput) =>
          JSON.stringify([x.engineVersion, x.stepId, [...x.inputHashes].sort(), x.definitionHash]) ===
            JSON.stringify([y.engineVersion, y.stepId, [...y.inputHashes].sort(), y.definitionHash]) &&
          stableParams(x.params) === stableParams(y.params);
        expect(stepFingerprint(a) === stepFingerprint(b)).toBe(same(a, b));
      }),
    );
  });

  it('changes with each field on its own', () => {
    fc.assert(
      fc.property(input, hex, fc.string({ minLength: 1, maxLength: 4 }), (i, otherHash, suffix) => {
        const base = stepFingerprint(i);
        fc.pre(!i.inputHashes.includes(otherHash) && i.definitionHash !== otherHash);
        expect(stepFingerprint({ ...i, stepId: i.stepId + 'x' })).not.toBe(base);
        expect(stepFingerprint({ ...i, inputHashes: [...i.inputHashes, otherHash] })).not.toBe(base);
        expect(stepFingerprint({ ...i, definitionHash: otherHash })).not.toBe(base);
        expect(stepFingerprint({ ...i, engineVersion: `${i.engineVersion}${suffix}` })).not.toBe(base);
        expect(stepFingerprint({ ...i, params: { ...i.params, ['\u0000extra']: 1 } })).not.toBe(base);
      }),
    );
  });

  it('defaults to the engine version constant', () => {
    const i = { stepId: 's', inputHashes: [], params: {}, definitionHash: 'a'.repeat(64) };
    expect(stepFingerprint(i)).toBe(stepFingerprint({ ...i, engineVersion: ENGINE_VERSION }));
  });
});

describe('flow fingerprint', () => {
  it('depends on the order of the step fingerprints', () => {
    expect(flowFingerprint(['a', 'b'])).not.toBe(flowFingerprint(['b', 'a']));
    expect(flowFingerprint(['a', 'b'])).toBe(flowFingerprint(['a', 'b']));
  });
});

function stableParams(params: JsonObject): string {
  return JSON.stringify(params, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) : Object.is(v, -0) ? 0 : v,
  );
}
