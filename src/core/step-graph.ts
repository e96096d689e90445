import type { Condition } from './condition.js';
import { conditionProblem } from './condition.js';
import { InvalidDefinitionError } from './errors.js';

/** An upstream output a step reads by name: a step's only output (`output` null) or one of its outputs. */
export interface InputRef {
  readonly step: string;
  readonly output: string | null;
}

/** What a step says about its place in the graph (the fields of `StepDefinition` that link steps). */
export interface StepLinks {
  readonly id: string;
  readonly kind: string;
  /** The steps whose outputs are its input, in that order. Absent: see `resolveNeeds`. */
  readonly needs?: readonly string[];
  /** Named inputs (`ctx.inputs.NAME`); their steps are needs too. */
  readonly inputs?: Readonly<Record<string, InputRef>>;
  /** Run only when an upstream output satisfies this; Skipped otherwise. */
  readonly when?: Condition;
}

/** Where a definition's links are wrong: the step (its index), the field and what is wrong. */
export interface GraphProblem {
  readonly stepIndex: number;
  readonly field: 'needs' | 'inputs' | 'when';
  readonly message: string;
}

/** The steps of a flow as a directed acyclic graph, by index in the definition's order. */
export interface FlowGraph {
  /** Per step: the steps it needs, in its needs order (its input is their outputs, in that order). */
  readonly needs: readonly (readonly number[])[];
  /** Per step: the steps that need it directly, in definition order. */
  readonly dependents: readonly (readonly number[])[];
  /** Every step once, each after all it needs; among steps free to go, the earlier in the definition first. */
  readonly order: readonly number[];
}

/**
 * `STEP` or `STEP.OUTPUT` as a reference to an upstream output, given the flow's step ids (which may
 * themselves hold dots): a whole id is that step's only output, else the longest id followed by a dot
 * names the step and the rest its output. Undefined when it names no step.
 */
export function parseStepRef(ref: string, stepIds: readonly string[]): InputRef | undefined {
  if (stepIds.includes(ref)) return { step: ref, output: null };
  const step = stepIds.filter((id) => ref.startsWith(`${id}.`) && ref.length > id.length + 1).sort((a, b) => b.length - a.length)[0];
  return step === undefined ? undefined : { step, output: ref.slice(step.length + 1) };
}

const INPUT_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

/**
 * The ids a step needs. Declared `needs` are kept as written; `inputs` alone need their steps, in the
 * order they are first named. With neither, a source needs nothing and any other step needs the step
 * before it: a flow written as a list is the chain it always was.
 */
export function declaredNeeds(steps: readonly StepLinks[], index: number): readonly string[] {
  const step = steps[index];
  if (step === undefined) throw new RangeError(`no step at index ${index}`);
  if (step.needs !== undefined) return step.needs;
  if (step.inputs !== undefined) return [...new Set(Object.values(step.inputs).map((ref) => ref.step))];
  return listNeeds(steps, index);
}

/** What step `index` needs when it declares nothing: nothing for a source or the first step, else the step before it. */
export function listNeeds(steps: readonly StepLinks[], index: number): readonly string[] {
  const step = steps[index];
  if (step === undefined || step.kind === 'source' || index === 0) return [];
  return [(steps[index - 1] as StepLinks).id];
}

/** Every problem of the steps' links: unknown, duplicate or self needs, inputs, conditions, and cycles. */
export function graphProblems(steps: readonly StepLinks[]): GraphProblem[] {
  const problems: GraphProblem[] = [];
  const indexOf = new Map(steps.map((s, i) => [s.id, i]));
  const needs: number[][] = steps.map((step, index) => {
    const ids = declaredNeeds(steps, index);
    const add = (field: GraphProblem['field'], message: string): void => void problems.push({ stepIndex: index, field, message });
    if (step.kind === 'source' && (step.needs?.length ?? 0) + Object.keys(step.inputs ?? {}).length > 0)
      add(step.needs !== undefined ? 'needs' : 'inputs', `step ${JSON.stringify(step.id)} is a source: it reads no input, so it needs nothing`);
    const seen = new Set<string>();
    for (const id of ids) {
      if (seen.has(id)) add('needs', `step ${JSON.stringify(step.id)} needs ${JSON.stringify(id)} twice`);
      seen.add(id);
      if (!indexOf.has(id)) add(step.needs !== undefined ? 'needs' : 'inputs', `step ${JSON.stringify(step.id)} needs ${JSON.stringify(id)}, which is not a step of this flow`);
    }
    for (const problem of inputProblems(step)) add('inputs', problem);
    return [...seen].flatMap((id) => (indexOf.has(id) ? [indexOf.get(id) as number] : []));
  });
  const cycle = findCycle(steps, needs);
  if (cycle !== null)
    problems.push({ stepIndex: cycle[0] as number, field: 'needs', message: `the steps form a cycle: ${[...cycle, cycle[0] as number].map((i) => steps[i]?.id).join(' → ')}` });
  else
    steps.forEach((step, index) => {
      if (step.when === undefined) return;
      const problem = conditionProblem(step.when);
      if (problem !== undefined) problems.push({ stepIndex: index, field: 'when', message: `step ${JSON.stringify(step.id)}: ${problem}` });
      const target = indexOf.get(step.when.step);
      if (target === undefined || !upstreamIndexes(needs, index).has(target))
        problems.push({
          stepIndex: index,
          field: 'when',
          message: `step ${JSON.stringify(step.id)} has a condition on ${JSON.stringify(step.when.step)}, which is not among its needs, direct or indirect`,
        });
    });
  return problems;
}

/** Named inputs: names usable as `ctx.inputs.NAME` and `{in.NAME}`, none two that differ only in case, steps among the needs. */
function inputProblems(step: StepLinks): string[] {
  if (step.inputs === undefined) return [];
  const problems: string[] = [];
  const lower = new Map<string, string>();
  for (const [name, ref] of Object.entries(step.inputs)) {
    if (!INPUT_NAME.test(name)) problems.push(`input name ${JSON.stringify(name)} of step ${JSON.stringify(step.id)}: use letters, digits, '_' or '-', starting with a letter or '_' (max 64)`);
    const clash = lower.get(name.toLowerCase());
    if (clash !== undefined) problems.push(`inputs ${JSON.stringify(clash)} and ${JSON.stringify(name)} of step ${JSON.stringify(step.id)} differ only in case: they would name the same input directory`);
    lower.set(name.toLowerCase(), name);
    if (step.needs !== undefined && !step.needs.includes(ref.step))
      problems.push(`input ${JSON.stringify(name)} of step ${JSON.stringify(step.id)} reads ${JSON.stringify(ref.step)}, which is not among its needs (${step.needs.join(', ') || 'none'})`);
  }
  return problems;
}

/** The graph of `steps`; throws `InvalidDefinitionError` listing every problem of their links. */
export function flowGraph(steps: readonly StepLinks[]): FlowGraph {
  const problems = graphProblems(steps);
  if (problems.length > 0) throw new InvalidDefinitionError(problems.map((p) => p.message).join('; '));
  const indexOf = new Map(steps.map((s, i) => [s.id, i]));
  const needs = steps.map((_, index) => declaredNeeds(steps, index).map((id) => indexOf.get(id) as number));
  const dependents = dependentsOf(needs);
  const order = topologicalOrder(needs);
  if (order === null) throw new InvalidDefinitionError('the steps form a cycle');
  return { needs, dependents, order };
}

/**
 * Each step after every step it needs; among steps free to go, the earlier in the definition first
 * (Kahn's algorithm, the free steps kept in a heap: linear in the links, not quadratic in the steps).
 * Null when the needs hold a cycle (or an index out of range).
 */
export function topologicalOrder(needs: readonly (readonly number[])[]): number[] | null {
  if (needs.some((list) => list.some((i) => !Number.isInteger(i) || i < 0 || i >= needs.length))) return null;
  const waiting = needs.map((list) => new Set(list).size);
  const dependents = dependentsOf(needs);
  const free = new MinHeap();
  waiting.forEach((count, index) => {
    if (count === 0) free.push(index);
  });
  const order: number[] = [];
  for (let next = free.pop(); next !== undefined; next = free.pop()) {
    order.push(next);
    for (const dependent of dependents[next] ?? []) {
      const left = (waiting[dependent] as number) - 1;
      waiting[dependent] = left;
      if (left === 0) free.push(dependent);
    }
  }
  return order.length === needs.length ? order : null;
}

/** For each step, the steps that need it, in definition order (each once). */
export function dependentsOf(needs: readonly (readonly number[])[]): number[][] {
  const dependents: number[][] = needs.map(() => []);
  needs.forEach((list, index) => {
    for (const need of new Set(list)) dependents[need]?.push(index);
  });
  return dependents;
}

/** The smallest number first: the free steps of `topologicalOrder`. */
class MinHeap {
  private readonly items: number[] = [];

  push(value: number): void {
    const items = this.items;
    let at = items.push(value) - 1;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if ((items[parent] as number) <= value) break;
      items[at] = items[parent] as number;
      at = parent;
    }
    items[at] = value;
  }

  pop(): number | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    let at = 0;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child = right < items.length && (items[right] as number) < (items[left] as number) ? right : left;
      if ((items[child] as number) >= last) break;
      items[at] = items[child] as number;
      at = child;
    }
    items[at] = last;
    return top;
  }
}

/** The needs of a flow of `count` steps written as a list, as every log before graphs: each step needs the one before it. */
export function chainNeeds(count: number): number[][] {
  return Array.from({ length: count }, (_, i) => (i === 0 ? [] : [i - 1]));
}

/**
 * Whether `needs` are the list's (`chainNeeds`): then a log need not record them. Asked several times
 * per step of a flow whose needs never change, so the answer is kept per needs array (the arrays are
 * never changed in place: every state of a flow shares its first one).
 */
export function isChain(needs: readonly (readonly number[])[]): boolean {
  let chain = CHAINS.get(needs);
  if (chain === undefined) {
    chain = needs.every((list, i) => (i === 0 ? list.length === 0 : list.length === 1 && list[0] === i - 1));
    CHAINS.set(needs, chain);
  }
  return chain;
}

const CHAINS = new WeakMap<readonly (readonly number[])[], boolean>();

/** The steps `index` needs, directly or through others. */
export function upstreamIndexes(needs: readonly (readonly number[])[], index: number): Set<number> {
  const found = new Set<number>();
  const stack = [...(needs[index] ?? [])];
  while (stack.length > 0) {
    const next = stack.pop() as number;
    if (found.has(next)) continue;
    found.add(next);
    stack.push(...(needs[next] ?? []));
  }
  return found;
}

/** The steps that need `index`, directly or through others, in definition order. */
export function downstreamIndexes(graph: FlowGraph, index: number): number[] {
  const found = new Set<number>();
  const stack = [...(graph.dependents[index] ?? [])];
  while (stack.length > 0) {
    const next = stack.pop() as number;
    if (found.has(next)) continue;
    found.add(next);
    stack.push(...(graph.dependents[next] ?? []));
  }
  return [...found].sort((a, b) => a - b);
}

/** A cycle of needs as step indexes in data order (each needed by the next), from its earliest step; null when there is none. */
function findCycle(steps: readonly StepLinks[], needs: readonly (readonly number[])[]): number[] | null {
  const state = steps.map(() => 'new');
  const path: number[] = [];
  const visit = (index: number): number[] | null => {
    state[index] = 'open';
    path.push(index);
    for (const need of needs[index] ?? []) {
      if (state[need] === 'open') return path.slice(path.indexOf(need));
      if (state[need] === 'new') {
        const found = visit(need);
        if (found !== null) return found;
      }
    }
    path.pop();
    state[index] = 'done';
    return null;
  };
  for (let index = 0; index < steps.length; index++) {
    if (state[index] !== 'new') continue;
    const found = visit(index);
    if (found === null) continue;
    // Found walking from a step to what it needs: reversed, each step is needed by the next.
    const cycle = [...found].reverse();
    const start = cycle.indexOf(Math.min(...cycle));
    return [...cycle.slice(start), ...cycle.slice(0, start)];
  }
  return null;
}
