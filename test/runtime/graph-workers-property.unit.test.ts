// Random graphs run by 1–3 workers sharing one store, with Transient failures and workers that die in
// the middle of an attempt (their heartbeat stops, their attempt never returns): every flow completes
// with the values and hashes of one engine running it alone, each lost attempt recorded once.
import { AsyncLocalStorage } from 'node:async_hooks';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defineFlow, defineStep, FlowEngine, FlowWorker, MemoryFlowStore, type FlowDefinition, type StepModule } from '../../src/index.js';
import { systemClock, type Clock } from '../../src/runtime/clock.js';
import { waitUntil } from '../support/wait-until.js';

interface Node {
  needs: number[];
  /** Transient failures of its first attempts (after a lost one, if any). */
  transient: number;
  /** Its first attempt is lost: the worker running it dies. */
  lost: boolean;
}

const graph = fc.integer({ min: 1, max: 7 }).chain((n) =>
  fc.tuple(
    ...Array.from({ length: n }, (_, i) =>
      fc.record({ needs: fc.subarray(Array.from({ length: i }, (_, k) => k)), transient: fc.integer({ min: 0, max: 1 }), lost: fc.boolean() }),
    ),
  ),
);

const RETRY = { maxRetries: 3, backoff: { kind: 'none' as const }, retryOn: ['Transient' as const] };

/** Which worker runs the code at hand (the async context of its `run`). */
const runningIn = new AsyncLocalStorage<number>();

/** A worker that can die: its heartbeat stops, it claims nothing more, its attempt in flight never returns. */
interface Mortal {
  clock: Clock;
  die(): void;
  dead(): boolean;
  stop: AbortController;
}

function mortal(): Mortal {
  let dead = false;
  const stop = new AbortController();
  return {
    clock: { ...systemClock, every: (ms, tick) => systemClock.every(ms, () => (dead ? undefined : tick())) },
    die: () => {
      dead = true;
      stop.abort();
    },
    dead: () => dead,
    stop,
  };
}

function flowOf(nodes: readonly Node[], faults: { workers: Mortal[] } | null): FlowDefinition {
  const attempts = new Map<string, number>();
  return defineFlow(
    'random-dag-workers',
    nodes.map((node, i) => {
      const id = `s${i}`;
      const module: StepModule = {
        kind: node.needs.length === 0 ? 'source' : 'transform',
        version: '1',
        run: async (ctx) => {
          const attempt = (attempts.get(id) ?? 0) + 1;
          attempts.set(id, attempt);
          await new Promise((resolve) => setTimeout(resolve, (i * 7 + attempt * 3) % 5));
          if (faults !== null && node.lost && attempt === 1) {
            faults.workers[runningIn.getStore() ?? -1]?.die();
            return new Promise<never>(() => undefined); // a dead process never answers
          }
          const failing = faults !== null && attempt - (node.lost ? 1 : 0) <= node.transient;
          if (failing) throw Object.assign(new Error(`${id} attempt ${attempt}`), { errorClass: 'Transient', code: 'FLAKY' });
          const from = ctx.input.map((a) => (a as unknown as { payload: { value: number } }).payload.value);
          const value = from.reduce((acc, v) => (acc * 31 + v) % 1_000_003, i + 7);
          return { outputs: [{ kind: 'node', payload: { value } }] };
        },
      };
      return defineStep(id, module, {}, { needs: node.needs.map((k) => `s${k}`) });
    }),
  );
}

async function alone(definition: FlowDefinition): Promise<{ fingerprint: string | null; steps: [string, string, string | null, string[]][] }> {
  const store = new MemoryFlowStore();
  const engine = new FlowEngine({ store, concurrency: 1, retryPolicy: RETRY });
  const flow = await engine.runToEnd(await engine.startFlow(definition), definition);
  return { fingerprint: flow.flowFingerprint, steps: flow.steps.map((s) => [s.stepId, s.status, s.fingerprint, s.outputs]) };
}

/** The property: the flow completes with the values and hashes of one engine alone; `onLosses` counts runs in which a worker died. */
function completesAsAlone(onLosses: () => void) {
  return fc.asyncProperty(graph, fc.integer({ min: 1, max: 3 }), async (drawn, count) => {
    // Each loss kills a worker: at most count - 1 of them, so that one is left to finish.
    let losses = 0;
    const nodes = drawn.map((n) => ({ ...n, lost: n.lost && losses < count - 1 && ++losses > 0 }));
    const clean = await alone(flowOf(nodes, null));
    const workers = Array.from({ length: count }, () => mortal());
    const definition = flowOf(nodes, { workers });
    const store = new MemoryFlowStore();
    const flowId = await new FlowEngine({ store, retryPolicy: RETRY }).startFlow(definition);
    const runs = workers.map((w, index) =>
      runningIn.run(index, () =>
        new FlowWorker({
          store,
          resolve: () => Promise.resolve({ definition, retryPolicy: RETRY }),
          owner: `w${index}`,
          clock: w.clock,
          leaseMs: 250,
          heartbeatMs: 40,
          pollMs: 20,
        }).run({ signal: w.stop.signal }),
      ),
    );
    await waitUntil(async () => (await store.list(flowId)).at(-1)?.type === 'FlowCompleted', 'the flow to complete', 30_000);
    for (const w of workers) w.stop.abort();
    // A dead worker's run never returns (its attempt hangs): only the living ones are awaited.
    await Promise.all(runs.filter((_, i) => !(workers[i] as Mortal).dead()));
    const flow = await new FlowEngine({ store }).open(flowId, definition);
    expect(flow.flow.steps.map((s) => [s.stepId, s.status, s.fingerprint, s.outputs])).toEqual(clean.steps);
    expect(flow.flow.flowFingerprint).toBe(clean.fingerprint);
    const errors = await store.listErrors(flowId);
    const lostRows = errors.filter((e) => e.details.error_code === 'WORKER_LOST').map((e) => `${e.stepId}#${e.attemptNumber}`);
    expect(lostRows.sort()).toEqual(nodes.flatMap((n, i) => (n.lost ? [`s${i}#1`] : [])).sort());
    const transientRows = errors.filter((e) => e.details.error_code === 'FLAKY').length;
    expect(transientRows).toBe(nodes.reduce((sum, n) => sum + n.transient, 0));
    if (losses > 0) onLosses();
  });
}

describe('random graphs on several workers', () => {
  it('complete with the hashes of one engine alone, whichever workers die mid-attempt, each loss recorded once', async () => {
    // Runs in which a worker died: the property must have met some (about 6 in 10 runs do).
    let withLosses = 0;
    await fc.assert(completesAsAlone(() => (withLosses += 1)), { numRuns: 20 });
    expect(withLosses).toBeGreaterThan(0);
  }, 300_000);

  // A counterexample once found: the coordinator dies in an attempt of its own; the worker that takes
  // the flow over opens a step's item and runs it, while the dead coordinator's loop, held up past its
  // lease, took that step for lost (it knew no item of it) and the running holder then closed the item
  // on the retry: the flow never ended.
  it('complete when a coordinator held up past its lease sees a step of the one that took over', async () => {
    await fc.assert(completesAsAlone(() => undefined), { seed: -2028412680, path: '9:3:3:0:4', endOnFailure: true });
  }, 120_000);
});
