// A step's views of its whole flow (ctx.errorHistory, ctx.cachedSteps, ctx.flowSteps) are built when the
// step reads them, once, from the state its attempt started from; a step that reads none builds none.
import { describe, expect, it } from 'vitest';
import { errorHistory } from '../../src/core/error-history.js';
import { flowStepEntries } from '../../src/core/flow-steps.js';
import type { FlowInstance } from '../../src/core/flow-state.js';
import { FlowEngine, type StepContext, type StepDefinition } from '../../src/index.js';
import { withFlowViews } from '../../src/runtime/flow-views.js';
import { runAttempt } from '../../src/runtime/step-runner.js';
import { MemoryBlobStore } from '../../src/stores/blobs/memory-blob-store.js';
import { MemoryFlowStore } from '../../src/stores/memory-store.js';
import { demoFlow } from '../support/demo-flow.js';

/** A failed-then-retried flow's state, and a copy of it that counts how often its steps are walked. */
async function watchedFlow(): Promise<{ flow: FlowInstance; watched: FlowInstance; walks: () => number }> {
  const store = new MemoryFlowStore();
  const engine = new FlowEngine({ store, retryPolicy: { maxRetries: 2, backoff: { kind: 'none' } } });
  const definition = demoFlow(['Transient']);
  const handle = await engine.start(definition);
  const flow = await engine.runToEnd(handle);
  let walks = 0;
  const watched = new Proxy(flow, {
    get: (target, key, receiver) => {
      if (key === 'steps') walks += 1;
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
  return { flow, watched, walks: () => walks };
}

const attempt = { attempt: 1, flowId: '00000000-0000-4000-8000-000000000000', stepId: 'probe', baseDir: '.' };

function probe(read: (ctx: StepContext) => void): StepDefinition {
  return { id: 'probe', kind: 'transform', baseParams: {}, run: (ctx) => (read(ctx), { outputs: [] }) };
}

describe('flow views of a step context', () => {
  it('are not built for a step that reads none of them', async () => {
    const { watched, walks } = await watchedFlow();
    const context = withFlowViews({ input: [], ...attempt }, watched);
    const result = await runAttempt(probe(() => undefined), context, { timeoutMs: null }, { blobs: new MemoryBlobStore() });
    expect(result.ok).toBe(true);
    expect(walks()).toBe(0);
  });

  it('are built once when read, and say what the eager lists said', async () => {
    const { flow, watched, walks } = await watchedFlow();
    const context = withFlowViews({ input: [], ...attempt }, watched);
    const seen: unknown[] = [];
    const result = await runAttempt(
      probe((ctx) => seen.push(ctx.flowSteps, ctx.flowSteps, ctx.errorHistory, ctx.cachedSteps)),
      context,
      { timeoutMs: null },
      { blobs: new MemoryBlobStore() },
    );
    expect(result.ok).toBe(true);
    const [steps, again, errors, cached] = seen;
    expect(steps).toBe(again);
    expect(steps).toEqual(flowStepEntries(flow));
    expect(errors).toEqual(errorHistory(flow));
    expect(errors).toHaveLength(1); // the middle step's Transient failure
    expect(cached).toEqual([]);
    const afterFirstReads = walks();
    expect(afterFirstReads).toBeGreaterThan(0);
    void (context.flowSteps, context.errorHistory, context.cachedSteps);
    expect(walks()).toBe(afterFirstReads);
  });

  it('cross to a step thread as plain lists', () => {
    const { flowSteps, errorHistory: errors } = structuredClone(withFlowViews({ ...attempt }, { steps: [], needs: [] } as unknown as FlowInstance));
    expect(flowSteps).toEqual([]);
    expect(errors).toEqual([]);
  });
});
