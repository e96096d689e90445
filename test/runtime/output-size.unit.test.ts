// Outputs too large for a store: refused by the runner below one limit every store shares, and, when the
// database still refuses an append's outputs for their size, recorded as the attempt's failure — never a
// store error that leaves the step Running for a later WORKER_LOST to fail the same way.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineFlow, FlowEngine, MemoryFlowStore, type FlowDefinition, type FlowStore, type StepDefinition } from '../../src/index.js';
import { StoreError } from '../../src/core/errors.js';
import { MAX_OUTPUT_BYTES, outputSizeProblem } from '../../src/core/output-size.js';
import type { SqlFlowStore } from '../../src/stores/sql/sql-flow-store.js';
import { artifactOf, flowInitialized, stepFinished, stepStarted } from '../helpers/events.js';
import { ManualClock, seedStep, sinkStep } from '../support/demo-flow.js';
import { engineStores } from '../support/stores.js';

/** A step whose one output is a string of `chars` ASCII characters (its canonical size: chars + 2 quotes). */
function bigStep(chars: number): StepDefinition {
  return {
    id: 'big',
    kind: 'transform',
    baseParams: {},
    retry: { maxRetries: 3, backoff: { kind: 'none' } },
    run: () => ({ outputs: [{ kind: 'text', payload: 'x'.repeat(chars) }] }),
  };
}

async function runFlow(store: FlowStore, def: FlowDefinition) {
  const engine = new FlowEngine({ store, clock: new ManualClock() });
  const flowId = await engine.startFlow(def);
  const flow = await engine.runToEnd(flowId, def);
  return { flowId, flow, errors: await store.getErrorTimeline(flowId, 'big'), events: await store.list(flowId) };
}

describe('the output size limit', () => {
  it('adds the canonical sizes of all outputs of an attempt and names the largest', () => {
    expect(outputSizeProblem([MAX_OUTPUT_BYTES])).toBeUndefined();
    const problem = outputSizeProblem([10, MAX_OUTPUT_BYTES - 5]);
    expect(problem).toMatchObject({ errorClass: 'Permanent', code: 'OUTPUT_TOO_LARGE' });
    expect(problem?.details).toEqual({ bytes: MAX_OUTPUT_BYTES + 5, limit_bytes: MAX_OUTPUT_BYTES, output_bytes: [10, MAX_OUTPUT_BYTES - 5] });
    expect(problem?.message).toMatch(/outputs\[1\]/);
  });
});

describe.each(engineStores)('an output over the limit every store shares, on $name', ({ create }) => {
  let store: FlowStore;
  beforeAll(async () => {
    store = await create();
  });
  afterAll(async () => {
    await store?.close();
  });

  it('fails its attempt once, Permanent OUTPUT_TOO_LARGE naming the size and the limit; the flow stops cleanly', async () => {
    const { flow, errors, events } = await runFlow(store, defineFlow('too-large', [seedStep(), bigStep(MAX_OUTPUT_BYTES), sinkStep()]));
    expect(flow.status).toBe('failed');
    expect(flow.steps.map((s) => s.status)).toEqual(['FinishedOk', 'Failed', 'Pending']);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      errorClass: 'Permanent',
      details: { error_code: 'OUTPUT_TOO_LARGE', bytes: MAX_OUTPUT_BYTES + 2, limit_bytes: MAX_OUTPUT_BYTES },
    });
    expect(errors[0]?.errorMessage).toContain(`${MAX_OUTPUT_BYTES + 2} bytes as canonical JSON, over the limit of ${MAX_OUTPUT_BYTES} bytes (64 MiB)`);
    expect(events.filter((e) => e.type === 'StepStarted' && e.stepId === 'big')).toHaveLength(1);
    expect(events.some((e) => e.type === 'RetryScheduled')).toBe(false);
  }, 120_000);
});

describe('the merged outputs of a mapped step', () => {
  it('are held to the same limit, whatever each shard gave: the step fails OUTPUT_TOO_LARGE', async () => {
    const quarter = Math.ceil(MAX_OUTPUT_BYTES / 4);
    const items: StepDefinition = {
      id: 'items',
      kind: 'source',
      baseParams: {},
      run: () => ({ outputs: [{ kind: 'test/items', payload: { items: [0, 1, 2, 3] } }] }),
    };
    // Four shards of one item, each well under the limit; merged, they are over it. Two lists: the
    // merged payload has no one list of rows to be stored as a batch, so it would be held whole.
    const big: StepDefinition = {
      id: 'big',
      kind: 'transform',
      baseParams: {},
      map: { over: 'items', shardSize: 1 },
      run: (ctx) => ({ outputs: [{ kind: 'test/items', payload: { items: [String(ctx.shard?.index ?? 0).repeat(quarter)], shards: [ctx.shard?.index ?? 0] } }] }),
    };
    const store = new MemoryFlowStore();
    const { flow, errors } = await runFlow(store, defineFlow('merged-too-large', [items, big, sinkStep()]));
    expect(flow.status).toBe('failed');
    expect(flow.steps.map((s) => s.status)).toEqual(['FinishedOk', 'Failed', 'Pending']);
    expect(errors.at(-1)).toMatchObject({ errorClass: 'Permanent', details: { error_code: 'OUTPUT_TOO_LARGE', limit_bytes: MAX_OUTPUT_BYTES } });
  }, 120_000);
});

/**
 * Stands in for PostgreSQL's own limits on what one append carries (a jsonb beyond 268435455 bytes, a
 * field beyond 1 GB), which take hundreds of megabytes to reach: the database itself refuses a large
 * artifact with SQLSTATE 54000 and that message, from a trigger.
 */
const REFUSE_LARGE_ARTIFACTS = `
CREATE FUNCTION refuse_large_artifact() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'total size of jsonb array elements exceeds the maximum of 268435455 bytes' USING ERRCODE = '54000';
END $$;
CREATE TRIGGER refuse_large_artifact BEFORE INSERT ON workflow_step_artifacts
  FOR EACH ROW WHEN (octet_length(NEW.payload::text) > 10000) EXECUTE FUNCTION refuse_large_artifact();`;

describe.each(engineStores.filter((s) => s.name !== 'memory'))('outputs the database refuses for their size, on $name', ({ create }) => {
  let store: SqlFlowStore;
  beforeAll(async () => {
    store = (await create()) as SqlFlowStore;
    await store.executor.exec(REFUSE_LARGE_ARTIFACTS);
  });
  afterAll(async () => {
    await store?.close();
  });

  it('fail their attempt (Permanent OUTPUT_TOO_LARGE, with the error row) instead of leaving it Running', async () => {
    const { flow, errors, events } = await runFlow(store, defineFlow('refused', [seedStep(), bigStep(20_000), sinkStep()]));
    expect(flow.status).toBe('failed');
    expect(flow.steps.map((s) => s.status)).toEqual(['FinishedOk', 'Failed', 'Pending']);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ errorClass: 'Permanent', details: { error_code: 'OUTPUT_TOO_LARGE', sqlstate: '54000' } });
    expect(errors[0]?.errorMessage).toMatch(/refused the step's outputs: .*exceeds the maximum of 268435455 bytes/);
    expect(events.filter((e) => e.type === 'StepFinished' && e.stepId === 'big')).toHaveLength(0);
    expect(events.some((e) => e.type === 'RetryScheduled')).toBe(false);
  }, 120_000);

  it('as the merged outputs of a mapped step, fail the step the same way', async () => {
    const items: StepDefinition = {
      id: 'items',
      kind: 'source',
      baseParams: {},
      run: () => ({ outputs: [{ kind: 'test/items', payload: { items: [0, 1, 2, 3] } }] }),
    };
    // Each shard's output (6,000 characters) is stored; the four merged are refused.
    const mapped: StepDefinition = {
      id: 'big',
      kind: 'transform',
      baseParams: {},
      map: { over: 'items', shardSize: 1 },
      run: (ctx) => ({ outputs: [{ kind: 'test/items', payload: { items: [String(ctx.shard?.index ?? 0).repeat(6_000)] } }] }),
    };
    const { flow, errors } = await runFlow(store, defineFlow('refused-merged', [items, mapped, sinkStep()]));
    expect(flow.status).toBe('failed');
    expect(flow.steps.map((s) => s.status)).toEqual(['FinishedOk', 'Failed', 'Pending']);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ errorClass: 'Permanent', details: { error_code: 'OUTPUT_TOO_LARGE', sqlstate: '54000' } });
  }, 120_000);

  it('as the outputs of one shard, fail that shard and the step, never leaving it Running', async () => {
    const items: StepDefinition = {
      id: 'items',
      kind: 'source',
      baseParams: {},
      run: () => ({ outputs: [{ kind: 'test/items', payload: { items: [0, 1] } }] }),
    };
    // Shard 1's own output (20,000 characters) is refused when its outcome is recorded.
    const mapped: StepDefinition = {
      id: 'big',
      kind: 'transform',
      baseParams: {},
      map: { over: 'items', shardSize: 1 },
      run: (ctx) => ({ outputs: [{ kind: 'test/items', payload: { items: [String(ctx.shard?.index ?? 0).repeat(ctx.shard?.index === 1 ? 20_000 : 10)] } }] }),
    };
    const { flow, errors } = await runFlow(store, defineFlow('refused-shard', [items, mapped, sinkStep()]));
    expect(flow.status).toBe('failed');
    expect(flow.steps.map((s) => s.status)).toEqual(['FinishedOk', 'Failed', 'Pending']);
    expect(flow.steps[1]?.shards?.map((s) => s.status)).toEqual(['FinishedOk', 'Failed']);
    expect(errors.at(-1)).toMatchObject({ errorClass: 'Permanent', details: { error_code: 'OUTPUT_TOO_LARGE', sqlstate: '54000' } });
  }, 120_000);

  it('in a batch of appends, fail only the append that carries them', async () => {
    const [fine, large] = [randomUUID(), randomUUID()];
    const outcomes = await store.appendBatch([
      { flowId: fine, expectedVersion: 0, events: [flowInitialized(), stepStarted(0), stepFinished(0, [artifactOf('small').hash])], options: { artifacts: [artifactOf('small')] } },
      { flowId: large, expectedVersion: 0, events: [flowInitialized(), stepStarted(0), stepFinished(0, [artifactOf('y'.repeat(20_000)).hash])], options: { artifacts: [artifactOf('y'.repeat(20_000))] } },
    ]);
    expect(outcomes.map((o) => o.ok)).toEqual([true, false]);
    const refused = outcomes[1]?.ok === false ? outcomes[1].error : undefined;
    expect(refused).toBeInstanceOf(StoreError);
    expect(refused).toMatchObject({ failure: 'limit', sqlState: '54000' });
    expect((await store.list(fine)).map((e) => e.type)).toEqual(['FlowInitialized', 'StepStarted', 'StepFinished']);
    expect(await store.list(large)).toEqual([]);
  }, 120_000);
});
