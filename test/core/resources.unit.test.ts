import { describe, expect, it } from 'vitest';
import { addUse, admits, fitsCapacity, NO_USE, resourcesProblems } from '../../src/core/resources.js';
import { defineFlow, defineStep } from '../../src/core/definition.js';
import { InvalidDefinitionError } from '../../src/core/errors.js';

const capacity = { cpus: 4, memoryMb: 8000 };

describe('the admission rule', () => {
  it('admits an attempt whose needs fit in what the running ones leave', () => {
    expect(admits({ cpus: 2, memoryMb: 4000 }, capacity, NO_USE)).toBe(true);
    expect(admits({ cpus: 2 }, capacity, { cpus: 2, memoryMb: 7999 })).toBe(true);
    expect(admits({ cpus: 3 }, capacity, { cpus: 2, memoryMb: 0 })).toBe(false);
    expect(admits({ memoryMb: 2 }, capacity, { cpus: 0, memoryMb: 7999 })).toBe(false);
    expect(admits({ cpus: 4, memoryMb: 8000 }, capacity, NO_USE)).toBe(true);
  });

  it('always admits a step that declares nothing, even on a full worker: no resources = no waiting', () => {
    expect(admits(undefined, capacity, { cpus: 4, memoryMb: 8000 })).toBe(true);
    expect(admits({}, capacity, { cpus: 40, memoryMb: 80000 })).toBe(true);
  });

  it('tells a need that could never fit from one that must wait', () => {
    expect(fitsCapacity({ cpus: 5 }, capacity)).toBe(false);
    expect(fitsCapacity({ memoryMb: 8001 }, capacity)).toBe(false);
    expect(fitsCapacity({ cpus: 4, memoryMb: 8000 }, capacity)).toBe(true);
    expect(fitsCapacity(undefined, { cpus: 0, memoryMb: 0 })).toBe(true);
  });

  it("adds and takes back one attempt's needs", () => {
    const used = addUse(addUse(NO_USE, { cpus: 2 }, 1), { cpus: 1, memoryMb: 100 }, 1);
    expect(used).toEqual({ cpus: 3, memoryMb: 100 });
    expect(addUse(used, { cpus: 2 }, -1)).toEqual({ cpus: 1, memoryMb: 100 });
  });

  it('names invalid values', () => {
    expect(resourcesProblems({ cpus: 1, memoryMb: 10 })).toEqual([]);
    expect(resourcesProblems({ cpus: 0 })).toEqual(['cpus must be a positive integer, not 0']);
    expect(resourcesProblems({ cpus: 1.5, memoryMb: -1 })).toHaveLength(2);
  });
});

describe('resources in a definition', () => {
  const module = { kind: 'source' as const, run: () => ({ outputs: [] }) };

  it('never enter the definition hash: they are scheduling only', () => {
    const plain = defineFlow('f', [defineStep('a', module, {})]);
    const sized = defineFlow('f', [defineStep('a', module, {}, { resources: { cpus: 2, memoryMb: 500 } })]);
    expect(sized.steps[0]?.resources).toEqual({ cpus: 2, memoryMb: 500 });
    expect(sized.definitionHash).toBe(plain.definitionHash);
  });

  it('are checked when the flow is defined', () => {
    expect(() => defineFlow('f', [defineStep('a', module, {}, { resources: { cpus: 0 } })])).toThrow(InvalidDefinitionError);
    expect(() => defineFlow('f', [defineStep('a', module, {}, { resources: { cpus: 0 } })])).toThrow(/Step "a" has invalid resources: cpus must be a positive integer/);
  });
});
