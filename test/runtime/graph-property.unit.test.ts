import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { blockedBy, defineFlow, defineStep, FlowEngine, MemoryFlowStore, type FlowDefinition, type OnFailure, type StepModule } from '../../src/index.js';
import type { Condition } from '../../src/core/condition.js';
import type { ErrorClass } from '../../src/core/error-class.js';

type Failure = Extract<ErrorClass, 'Transient' | 'Permanent'>;

interface Node {
  needs: number[];
  /** The classes its first attempts fail with, in order; then it succeeds. */
  failures: Failure[];
  /** A condition on one of its needs' outputs (its `odd` field), or none. */
  when: { need: number; odd: boolean } | null;
}

/** A random DAG: node i needs a subset of the nodes before it (none: a source). */
const dag = fc.integer({ min: 1, max: 12 }).chain((n) =>
  fc.tuple(
    ...Array.from({ length: n }, (_, i) =>
      fc.record({
        needs: fc.subarray(Array.from({ length: i }, (_, k) => k)),
        failures: fc.array(fc.constantFrom<Failure>('Transient', 'Permanent'), { maxLength: 2 }),
        when: fc.option(fc.record({ need: fc.nat(), odd: fc.boolean() }), { nil: null }),
      }),
    ),
  ),
);

/**
 * The flow of `nodes`: each step's output is a digest of its id and its inputs' values, so any input
 * read wrong shows in the hashes. With `faults`, each step fails its first attempts as its node says.
 */
function flowOf(nodes: readonly Node[], faults: boolean, onFailure: OnFailure = 'stop'): FlowDefinition {
  const attempts = new Map<string, number>();
  return defineFlow(
    'random-dag',
    nodes.map((node, i) => {
      const id = `s${i}`;
      const module: StepModule = {
        kind: node.needs.length === 0 ? 'source' : 'transform',
        version: '1',
        run: async (ctx) => {
          const attempt = (attempts.get(id) ?? 0) + 1;
          attempts.set(id, attempt);
          // Branches in flight end in an order that varies with the graph: the commits interleave.
          await new Promise((resolve) => setTimeout(resolve, (i * 7 + attempt * 3) % 5));
          const failure = faults ? node.failures[attempt - 1] : undefined;
          if (failure !== undefined) throw Object.assign(new Error(`${id} attempt ${attempt}`), { errorClass: failure, code: `FAIL_${failure.toUpperCase()}` });
          const from = ctx.input.map((a) => (a as unknown as { payload: { value: number } }).payload.value);
          const value = from.reduce((acc, v) => (acc * 31 + v) % 1_000_003, i + 7);
          return { outputs: [{ kind: 'node', payload: { value, odd: value % 2 === 1 } }] };
        },
      };
      const need = node.when === null || node.needs.length === 0 ? undefined : node.needs[node.when.need % node.needs.length];
      const when: Condition | undefined = need === undefined || node.when === null ? undefined : { step: `s${need}`, output: null, path: '$.odd', op: '==', value: node.when.odd };
      return defineStep(id, module, {}, { needs: node.needs.map((k) => `s${k}`), ...(when === undefined ? {} : { when }) });
    }),
    { onFailure },
  );
}

/** What each node should end as, computed without the engine: its value, or null when it is skipped. */
function expectedValues(nodes: readonly Node[]): (number | null)[] {
  const values: (number | null)[] = [];
  nodes.forEach((node, i) => {
    const inputs = node.needs.map((k) => values[k] ?? null);
    const need = node.when === null || node.needs.length === 0 ? undefined : node.needs[node.when.need % node.needs.length];
    const gate = need === undefined ? null : values[need];
    const skipped =
      (node.needs.length > 0 && inputs.every((v) => v === null)) || (need !== undefined && (gate === null || gate === undefined || (gate % 2 === 1) !== node.when?.odd));
    values.push(skipped ? null : inputs.filter((v): v is number => v !== null).reduce((acc, v) => (acc * 31 + v) % 1_000_003, i + 7));
  });
  return values;
}

async function runToTheEnd(
  definition: FlowDefinition,
  concurrency = 1,
): Promise<{ fingerprint: string | null; steps: [string, string, string | null, string[]][]; retries: number; values: (number | null)[]; attempts: number[] }> {
  const store = new MemoryFlowStore();
  const engine = new FlowEngine({ store, concurrency, retryPolicy: { maxRetries: 2, backoff: { kind: 'none' }, retryOn: ['Transient'] } });
  const flowId = await engine.startFlow(definition);
  let flow = await engine.runToEnd(flowId, definition);
  let retries = 0;
  // A step failed for good (Permanent) is retried by hand, as an operator would: the one retry path.
  // Branches run at the same time may each fail for good before the flow stops: each is retried.
  while (flow.status === 'failed' && retries < 50) {
    // A flow that goes on after a failure fails only once every step that needs no Failed step ended.
    if (definition.onFailure === 'continue')
      expect(flow.steps.flatMap((s, i) => (s.status === 'Running' || (s.status === 'Pending' && blockedBy(flow, i).length === 0) ? [s.stepId] : []))).toEqual([]);
    for (const failed of flow.steps.filter((s) => s.status === 'Failed')) {
      await engine.scheduleRetry(flowId, failed.stepId, { maxRetries: 99 });
      retries += 1;
    }
    flow = await engine.runToEnd(flowId, definition);
  }
  const values = await Promise.all(
    flow.steps.map(async (s) => (s.status === 'Skipped' ? null : ((await store.getArtifacts(s.outputs))[0] as unknown as { payload: { value: number } }).payload.value)),
  );
  return { fingerprint: flow.flowFingerprint, steps: flow.steps.map((s) => [s.stepId, s.status, s.fingerprint, s.outputs]), retries, values, attempts: flow.steps.map((s) => s.attempts) };
}

describe('random graphs', () => {
  it('end, whatever fails along the way and whatever their onFailure, with the hashes of the run in which nothing failed', async () => {
    await fc.assert(
      fc.asyncProperty(dag, fc.integer({ min: 1, max: 4 }), fc.constantFrom<OnFailure>('stop', 'continue'), async (nodes, concurrency, onFailure) => {
        const clean = await runToTheEnd(flowOf(nodes, false, onFailure));
        expect(clean.fingerprint).toMatch(/^[0-9a-f]{64}$/);
        expect(clean.retries).toBe(0);
        expect(clean.values).toEqual(expectedValues(nodes));
        expect(clean.steps.map((step) => step[1])).toEqual(expectedValues(nodes).map((v) => (v === null ? 'Skipped' : 'FinishedOk')));
        // Faults, and any number of branches in flight: the same hashes.
        const faulty = await runToTheEnd(flowOf(nodes, true, onFailure), concurrency);
        expect(faulty.steps).toEqual(clean.steps);
        expect(faulty.fingerprint).toBe(clean.fingerprint);
        // A step that finished never ran again: one attempt per failure, then the one that finished.
        expect(faulty.attempts).toEqual(nodes.map((n, i) => (clean.steps[i]?.[1] === 'Skipped' ? 0 : n.failures.length + 1)));
        // Each Permanent failure is one manual retry; a Transient one retries itself, unless another
        // branch had failed the flow for good when it was recorded: then the operator's retry covers it.
        const failures = (kind: string) => nodes.reduce((sum, n, i) => sum + (clean.steps[i]?.[1] === 'Skipped' ? 0 : n.failures.filter((f) => f === kind).length), 0);
        expect(faulty.retries).toBeGreaterThanOrEqual(failures('Permanent'));
        expect(faulty.retries).toBeLessThanOrEqual(failures('Permanent') + (concurrency > 1 ? failures('Transient') : 0));
      }),
      { numRuns: 60 },
    );
  }, 120_000);
});
