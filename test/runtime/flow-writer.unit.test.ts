// The one way a flow is written: decided on the latest state, appended with the expected version,
// decided again after a conflict.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConcurrencyError } from '../../src/core/errors.js';
import type { FlowEventBody } from '../../src/core/events.js';
import type { FlowInstance } from '../../src/core/flow-state.js';
import { replay } from '../../src/core/reducer.js';
import { cancelFlowReading } from '../../src/runtime/cancel.js';
import { cancelFlow, FlowEngine } from '../../src/index.js';
import { demoFlow } from '../support/demo-flow.js';
import { FlowWriter, MAX_CONFLICTS } from '../../src/runtime/flow-writer.js';
import { MemoryFlowStore } from '../../src/stores/memory-store.js';
import { flowInitialized, shapeOf, stepStarted } from '../helpers/events.js';

const shape = shapeOf();

function writerOn(store: MemoryFlowStore, flowId: string, flow: FlowInstance): FlowWriter {
  return new FlowWriter(flow, {
    load: async () => replay(flowId, await store.list(flowId), shape),
    now: () => new Date().toISOString(),
    append: async (version, events) => (await store.append(flowId, version, events)).events,
  });
}

describe('FlowWriter', () => {
  it('appends at the version it decided on; after another append it reads again and decides again, told of the conflict', async () => {
    const store = new MemoryFlowStore();
    const flowId = randomUUID();
    await store.append(flowId, 0, [flowInitialized()]);
    const writer = writerOn(store, flowId, replay(flowId, await store.list(flowId), shape));
    await store.append(flowId, 1, [stepStarted(0)]); // another process, meanwhile
    const seen: { version: number; conflict: boolean }[] = [];
    const result = await writer.update((flow, conflict) => {
      seen.push({ version: flow.version, conflict: conflict instanceof ConcurrencyError });
      const events: FlowEventBody[] = flow.steps[0]?.status === 'Running' ? [] : [{ type: 'StepStarted', stepIndex: 0, stepId: 'load', attempt: 1 }];
      return { events, result: events.length };
    });
    expect(seen).toEqual([
      { version: 1, conflict: false },
      { version: 2, conflict: true },
    ]);
    expect(result).toBe(0); // decided again: the step was started by the other, nothing to append
    expect(writer.flow.version).toBe(2);
    expect(await store.list(flowId)).toHaveLength(2);
  });

  it('a decision that throws refuses the update and appends nothing; the others waiting with it are appended', async () => {
    const store = new MemoryFlowStore();
    const flowId = randomUUID();
    await store.append(flowId, 0, [flowInitialized()]);
    const writer = writerOn(store, flowId, replay(flowId, await store.list(flowId), shape));
    const refused = writer.update(() => {
      throw new Error('not now');
    });
    const started = writer.update(() => ({ events: [{ type: 'StepStarted', stepIndex: 0, stepId: 'load', attempt: 1 }], result: 'started' }));
    await expect(refused).rejects.toThrow('not now');
    await expect(started).resolves.toBe('started');
    expect((await store.list(flowId)).map((e) => e.type)).toEqual(['FlowInitialized', 'StepStarted']);
  });

  it(`gives up after ${MAX_CONFLICTS} conflicts in a row, with the last one`, async () => {
    const store = new MemoryFlowStore();
    const flowId = randomUUID();
    await store.append(flowId, 0, [flowInitialized()]);
    let calls = 0;
    // A writer whose reads never catch up: every append is refused.
    const writer = new FlowWriter(replay(flowId, await store.list(flowId), shape), {
      load: async () => replay(flowId, (await store.list(flowId)).slice(0, 1), shape),
      now: () => new Date().toISOString(),
      append: (version) => Promise.reject(new ConcurrencyError(flowId, version, version + 1)),
    });
    const update = writer.update(() => {
      calls++;
      return { events: [{ type: 'StepStarted', stepIndex: 0, stepId: 'load', attempt: 1 }], result: undefined };
    });
    await expect(update).rejects.toBeInstanceOf(ConcurrencyError);
    expect(calls).toBe(MAX_CONFLICTS + 1);
  });
});

describe('writes that race', () => {
  it('a cancel whose read another append overtook cancels after it', async () => {
    const store = new MemoryFlowStore();
    const definition = demoFlow();
    const flowId = await new FlowEngine({ store }).startFlow(definition);
    // Another process starts the flow's first step between the cancel's read and its append.
    const racing = new Proxy(store, {
      get(target, key) {
        if (key === 'append')
          return async (...args: Parameters<MemoryFlowStore['append']>) => {
            if (args[2][0]?.type === 'FlowCancelled' && args[1] === 1) await target.append(flowId, 1, [{ type: 'StepStarted', ts: new Date().toISOString(), stepIndex: 0, stepId: 'seed', attempt: 1 }]);
            return target.append(...args);
          };
        const value: unknown = Reflect.get(target, key, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const cancelled = await cancelFlowReading(racing, flowId, 'stop');
    expect(cancelled.event).toMatchObject({ type: 'FlowCancelled', version: 3 });
    expect(cancelled.events.map((e) => e.type)).toEqual(['FlowInitialized', 'StepStarted', 'FlowCancelled']);
    expect(cancelled.flow).toEqual(replay(flowId, await store.list(flowId), definition));
  });

  it('a retry decided on a log read before a cancel is refused, and nothing is appended', async () => {
    const store = new MemoryFlowStore();
    const definition = demoFlow(['Permanent']);
    const engine = new FlowEngine({ store });
    const failed = await engine.runToEnd(await engine.startFlow(definition), definition);
    expect(failed.status).toBe('failed');
    const handle = await engine.open(failed.id, definition);
    await cancelFlow(store, failed.id);
    await expect(engine.scheduleRetry(handle, 'middle')).rejects.toMatchObject({ code: 'RETRY_REJECTED', reason: 'flow_cancelled' });
    expect((await store.list(failed.id)).at(-1)?.type).toBe('FlowCancelled');
    expect(engine.retriesRejected(failed.id)).toBe(1);
  });
});
