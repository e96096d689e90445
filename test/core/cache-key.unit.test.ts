import { describe, expect, it } from 'vitest';
import { defineFlow, defineStep, isStepCached, withCacheForced, withRecordedCache, type StepModule } from '../../src/core/definition.js';
import { stepCacheKey, type CacheKeyInput } from '../../src/core/cache-key.js';
import { ENGINE_VERSION } from '../../src/core/fingerprint.js';
import { hashOf } from '../helpers/events.js';

const base: CacheKeyInput = {
  stepType: 'chem/descriptors',
  stepVersion: '1',
  inputHashes: [hashOf('a'), hashOf('b')],
  params: { decimals: 2, nested: { x: 1, y: [1, 2] } },
  extra: null,
};

describe('step cache key', () => {
  it('is the same for the same work, whatever the key order of the params', () => {
    expect(stepCacheKey(base)).toBe(stepCacheKey({ ...base, params: { nested: { y: [1, 2], x: 1 }, decimals: 2 } }));
    expect(stepCacheKey(base)).toBe(stepCacheKey({ ...base, engineVersion: ENGINE_VERSION }));
  });

  it('changes with each thing that enters it', () => {
    const key = stepCacheKey(base);
    const variants: CacheKeyInput[] = [
      { ...base, stepType: 'chem/report' },
      { ...base, stepVersion: '2' },
      { ...base, stepVersion: null },
      { ...base, inputHashes: [hashOf('a')] },
      { ...base, inputHashes: [hashOf('b'), hashOf('a')] },
      { ...base, params: { decimals: 3, nested: { x: 1, y: [1, 2] } } },
      { ...base, extra: { file: hashOf('csv') } },
      { ...base, engineVersion: 'chemflow-0' },
    ];
    const keys = variants.map(stepCacheKey);
    expect(keys).not.toContain(key);
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('cache settings on a definition', () => {
  const module: StepModule = { kind: 'source', version: '3', run: () => ({ outputs: [] }) };

  it('stay outside the definition hash, and --cache / --no-cache force them', () => {
    const plain = defineFlow('f', [defineStep('a', module, {})]);
    const cached = defineFlow('f', [defineStep('a', module, {}, { uses: 'x/a', cache: true })]);
    expect(cached.definitionHash).toBe(plain.definitionHash);
    expect(isStepCached(plain.steps[0]!)).toBe(false); // no step type: never cached
    expect(isStepCached(cached.steps[0]!)).toBe(true);
    const off = withCacheForced(cached, false);
    expect(isStepCached(off.steps[0]!)).toBe(false);
    expect(off.definitionHash).toBe(cached.definitionHash);
    expect(isStepCached(withCacheForced(off, true).steps[0]!)).toBe(true);
  });

  it('a choice recorded in the flow metadata is applied again by whoever continues the flow', () => {
    const flow = defineFlow('f', [defineStep('a', module, {}, { uses: 'x/a', cache: false })]);
    expect(isStepCached(withRecordedCache(flow, { flowFile: 'f.yaml', cache: true }).steps[0]!)).toBe(true);
    expect(isStepCached(withRecordedCache(withCacheForced(flow, true), { cache: false }).steps[0]!)).toBe(false);
    expect(withRecordedCache(flow, { flowFile: 'f.yaml' })).toBe(flow);
    expect(withRecordedCache(flow, { cache: 'yes' })).toBe(flow);
  });

  it('cacheable: false wins over cache: true and --cache', () => {
    const step = defineStep('a', { ...module, cacheable: false }, {}, { uses: 'x/a', cache: true });
    expect(isStepCached(step)).toBe(false);
    expect(isStepCached(withCacheForced(defineFlow('f', [step]), true).steps[0]!)).toBe(false);
  });
});
