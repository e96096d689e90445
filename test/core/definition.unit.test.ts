import { describe, expect, it } from 'vitest';
import { defineFlow, defineStep, InvalidDefinitionError, type StepDefinition } from '../../src/index.js';

const step = (id: string, kind: StepDefinition['kind'] = 'transform', extra: Partial<StepDefinition> = {}): StepDefinition => ({
  id,
  kind,
  baseParams: {},
  run: () => ({ outputs: [] }),
  ...extra,
});

describe('defineFlow', () => {
  it('rejects duplicate step ids', () => {
    expect(() => defineFlow('f', [step('a', 'source'), step('b'), step('a')])).toThrow(/Duplicate step id "a" at position 2/);
  });

  it('rejects a first step that is not a source', () => {
    expect(() => defineFlow('f', [step('a', 'transform')])).toThrow(InvalidDefinitionError);
    expect(() => defineFlow('f', [step('a', 'transform')])).toThrow(/must be a source/);
  });

  it('rejects an empty flow and invalid ids', () => {
    expect(() => defineFlow('f', [])).toThrow(/no steps/);
    expect(() => defineFlow('f', [step('bad id', 'source')])).toThrow(/invalid id/);
  });

  it('rejects a step whose retry policy makes no sense, naming the step', () => {
    const retry = { maxRetries: 1.5, backoff: { kind: 'none' as const } };
    expect(() => defineFlow('f', [step('a', 'source'), step('b', 'transform', { retry })])).toThrow(
      /Step "b" has an invalid retry policy: maxRetries must be a non-negative integer, got 1.5/,
    );
  });

  it('hashes the ordered ids and versions, and nothing else', () => {
    const base = defineFlow('f', [step('a', 'source'), step('b')]).definitionHash;
    expect(defineFlow('other name', [step('a', 'source', { baseParams: { x: 1 } }), step('b', 'transform', { retry: { maxRetries: 9, backoff: { kind: 'none' } } })]).definitionHash).toBe(base);
    expect(defineFlow('f', [step('a', 'source'), step('c')]).definitionHash).not.toBe(base);
    expect(defineFlow('f', [step('a', 'source'), step('b', 'transform', { version: '2' })]).definitionHash).not.toBe(base);
    expect(defineFlow('f', [step('b', 'source'), step('a')]).definitionHash).not.toBe(defineFlow('f', [step('a', 'source'), step('b')]).definitionHash);
  });

  it('defineStep validates params through the module', () => {
    const module = {
      kind: 'source' as const,
      parseParams(params: unknown) {
        const n = (params as { n?: unknown }).n;
        if (typeof n !== 'number') throw new Error('params.n: expected a number');
        return { n };
      },
      run: () => ({ outputs: [] }),
    };
    expect(defineStep('s', module, { n: 2 }).baseParams).toEqual({ n: 2 });
    expect(() => defineStep('s', module, { n: 'x' })).toThrow(/params.n/);
  });

  it('keeps map out of the definition hash, and checks it', () => {
    const plain = defineFlow('f', [step('a', 'source'), step('b')]).definitionHash;
    for (const shardSize of [1, 7, 1000])
      expect(defineFlow('f', [step('a', 'source'), step('b', 'transform', { map: { over: 'molecules', shardSize } })]).definitionHash).toBe(plain);
    expect(() => defineFlow('f', [step('a', 'source'), step('b', 'transform', { map: { over: 'm', shardSize: 0 } })])).toThrow(
      /Step "b" has an invalid map: map.shardSize must be a positive integer, got 0/,
    );
    expect(() => defineFlow('f', [step('a', 'source'), step('b', 'transform', { map: { over: '', shardSize: 2.5 } })])).toThrow(
      /map.over must be a non-empty field name, got ""; map.shardSize must be a positive integer, got 2.5/,
    );
    expect(() => defineFlow('f', [step('a', 'source', { map: { over: 'm', shardSize: 1 } })])).toThrow(
      /Step "a" has an invalid map: a source step has no input to split into shards/,
    );
  });

  it('defineStep carries the map onto the definition', () => {
    const module = { kind: 'transform' as const, run: () => ({ outputs: [] }) };
    expect(defineStep('s', module, {}, { map: { over: 'molecules', shardSize: 3 } }).map).toEqual({ over: 'molecules', shardSize: 3 });
    expect(defineStep('s', module).map).toBeUndefined();
    const counting = { ...module, notMappable: 'it counts its batch' };
    expect(() => defineStep('s', counting, {}, { map: { over: 'm', shardSize: 3 } })).toThrow(/Step "s" cannot be mapped: it counts its batch/);
    expect(defineStep('s', counting).map).toBeUndefined();
  });
});
