import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defineFlow, defineStep, InvalidDefinitionError, type StepModule } from '../../src/index.js';
import {
  declaredNeeds,
  dependentsOf,
  downstreamIndexes,
  flowGraph,
  graphProblems,
  parseStepRef,
  topologicalOrder,
  type StepLinks,
} from '../../src/core/step-graph.js';

const source: StepModule = { kind: 'source', run: () => ({ outputs: [] }) };
const transform: StepModule = { kind: 'transform', run: () => ({ outputs: [] }) };

const link = (id: string, extra: Partial<StepLinks> = {}): StepLinks => ({ id, kind: 'transform', ...extra });

describe('a flow as a graph of steps', () => {
  it('reads a list without links as the chain it always was: each step needs the one before, a source nothing', () => {
    const steps = [link('a', { kind: 'source' }), link('b'), link('c'), link('d', { kind: 'source' }), link('e')];
    expect(steps.map((_, i) => declaredNeeds(steps, i))).toEqual([[], ['a'], ['b'], [], ['d']]);
    const graph = flowGraph(steps);
    expect(graph.needs).toEqual([[], [0], [1], [], [3]]);
    expect(graph.order).toEqual([0, 1, 2, 3, 4]);
  });

  it('orders a diamond and a forward reference, ties by the order of the definition', () => {
    const steps = [
      link('d', { needs: ['b', 'c'] }),
      link('a', { kind: 'source' }),
      link('c', { needs: ['a'] }),
      link('b', { needs: ['a'] }),
    ];
    const graph = flowGraph(steps);
    expect(graph.order.map((i) => steps[i]?.id)).toEqual(['a', 'c', 'b', 'd']);
    expect(graph.needs[0]).toEqual([3, 2]);
    expect(graph.dependents[1]).toEqual([2, 3]);
    expect(downstreamIndexes(graph, 1)).toEqual([0, 2, 3]);
    expect(downstreamIndexes(graph, 2)).toEqual([0]);
  });

  it('needs the steps its named inputs read, in the order they are first named', () => {
    const steps = [
      link('prep', { kind: 'source' }),
      link('fetch', { kind: 'source' }),
      link('dock', { inputs: { receptor: { step: 'fetch', output: 'pdb' }, ligands: { step: 'prep', output: null }, again: { step: 'fetch', output: null } } }),
    ];
    expect(declaredNeeds(steps, 2)).toEqual(['fetch', 'prep']);
  });

  it('names a cycle in the direction data flows, from its earliest step', () => {
    const steps = [link('s', { kind: 'source' }), link('a', { needs: ['c'] }), link('b', { needs: ['a'] }), link('c', { needs: ['b', 's'] })];
    expect(graphProblems(steps).map((p) => p.message)).toEqual(['the steps form a cycle: a → b → c → a']);
    expect(() => flowGraph(steps)).toThrow(InvalidDefinitionError);
    expect(graphProblems([link('s', { kind: 'source' }), link('x', { needs: ['x'] })]).map((p) => p.message)).toEqual(['the steps form a cycle: x → x']);
  });

  it('refuses unknown and duplicate needs, a source with needs, clashing input names and inputs outside needs', () => {
    const problems = graphProblems([
      link('s', { kind: 'source', needs: ['t'] }),
      link('t', { kind: 'source' }),
      link('u', { needs: ['s', 's', 'nope'] }),
      link('v', { needs: ['s'], inputs: { Mol: { step: 's', output: null }, mol: { step: 't', output: null }, 'bad name': { step: 's', output: null } } }),
    ]);
    expect(problems.map((p) => [p.stepIndex, p.field, p.message])).toEqual([
      [0, 'needs', 'step "s" is a source: it reads no input, so it needs nothing'],
      [2, 'needs', 'step "u" needs "s" twice'],
      [2, 'needs', 'step "u" needs "nope", which is not a step of this flow'],
      [3, 'inputs', 'inputs "Mol" and "mol" of step "v" differ only in case: they would name the same input directory'],
      [3, 'inputs', 'input "mol" of step "v" reads "t", which is not among its needs (s)'],
      [3, 'inputs', 'input name "bad name" of step "v": use letters, digits, \'_\' or \'-\', starting with a letter or \'_\' (max 64)'],
    ]);
  });

  it('accepts a condition on a step upstream, directly or not, and refuses one on any other step', () => {
    const when = (step: string) => ({ step, output: null, path: '$.passed', op: '>' as const, value: 0 });
    const steps = [link('a', { kind: 'source' }), link('b'), link('c', { when: when('a') }), link('d', { kind: 'source' }), link('e', { needs: ['d'], when: when('b') })];
    expect(graphProblems(steps).map((p) => [p.stepIndex, p.field, p.message])).toEqual([
      [4, 'when', 'step "e" has a condition on "b", which is not among its needs, direct or indirect'],
    ]);
    const bad = graphProblems([link('a', { kind: 'source' }), link('b', { when: { step: 'a', output: null, path: 'passed', op: 'exists' } })]);
    expect(bad.map((p) => p.message)).toEqual(['step "b": path "passed": a path starts with "$" (the output\'s payload), not "p"']);
  });

  it('reads STEP and STEP.OUTPUT references, with dots in step ids', () => {
    const ids = ['read', 'read.v2', 'fetch'];
    expect(parseStepRef('read', ids)).toEqual({ step: 'read', output: null });
    expect(parseStepRef('read.v2', ids)).toEqual({ step: 'read.v2', output: null });
    expect(parseStepRef('read.v2.molecules', ids)).toEqual({ step: 'read.v2', output: 'molecules' });
    expect(parseStepRef('fetch.pdb', ids)).toEqual({ step: 'fetch', output: 'pdb' });
    expect(parseStepRef('dock.poses', ids)).toBeUndefined();
    expect(parseStepRef('fetch.', ids)).toBeUndefined();
  });
});

/** The order by its definition, step by step: the earliest free step, then the steps it frees. */
function orderByDefinition(needs: readonly (readonly number[])[]): number[] | null {
  const done = new Set<number>();
  const order: number[] = [];
  while (order.length < needs.length) {
    const next = needs.findIndex((list, index) => !done.has(index) && list.every((need) => done.has(need)));
    if (next === -1) return null;
    done.add(next);
    order.push(next);
  }
  return order;
}

describe('the order steps run in', () => {
  // Needs of up to 40 steps, on any step (cycles and self-needs included), sometimes repeated.
  const needsOf = fc.integer({ min: 1, max: 40 }).chain((n) => fc.array(fc.array(fc.nat({ max: n - 1 }), { maxLength: 4 }), { minLength: n, maxLength: n }));

  it('is the earliest free step first, and null for a cycle, whatever the needs', () => {
    fc.assert(
      fc.property(needsOf, (needs) => {
        expect(topologicalOrder(needs)).toEqual(orderByDefinition(needs));
      }),
      { numRuns: 500 },
    );
  });

  it('lists each step\'s dependents once, in definition order', () => {
    fc.assert(
      fc.property(needsOf, (needs) => {
        const expected = needs.map((_, index) => needs.flatMap((list, other) => (list.includes(index) ? [other] : [])));
        expect(dependentsOf(needs)).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('is found for 20,000 chained steps without walking every step for each', () => {
    const needs = Array.from({ length: 20_000 }, (_, i) => (i === 0 ? [] : [i - 1]));
    expect(topologicalOrder(needs)).toEqual(needs.map((_, i) => i));
  });
});

describe('the definition hash of a graph', () => {
  it('is unchanged for a list without links, and changes with needs, inputs, their order and a condition', () => {
    const chain = [defineStep('a', source), defineStep('b', transform), defineStep('c', transform)];
    const hash = (steps: Parameters<typeof defineFlow>[1]) => defineFlow('f', steps).definitionHash;
    const plain = hash(chain);
    // Spelling out the default is the same graph, so the same hash (and every fingerprint stays).
    expect(hash([chain[0]!, defineStep('b', transform, {}, { needs: ['a'] }), chain[2]!])).toBe(plain);
    expect(hash([chain[0]!, defineStep('b', transform, {}, { needs: [] }), chain[2]!])).not.toBe(plain);
    const fanIn = (needs: string[]) => hash([defineStep('a', source), defineStep('b', source), defineStep('c', transform, {}, { needs })]);
    expect(fanIn(['a', 'b'])).not.toBe(fanIn(['b', 'a']));
    const when = (value: number) => hash([chain[0]!, chain[1]!, defineStep('c', transform, {}, { when: { step: 'a', output: null, path: '$.n', op: '>', value } })]);
    expect(when(1)).not.toBe(when(2));
    expect(when(1)).not.toBe(plain);
  });

  it('refuses a definition whose links are wrong', () => {
    expect(() => defineFlow('f', [defineStep('a', source), defineStep('b', transform, {}, { needs: ['c'] }), defineStep('c', transform, {}, { needs: ['b'] })])).toThrow(
      /the steps form a cycle: b → c → b/,
    );
  });
});
