import { describe, expect, it } from 'vitest';
import { type Artifact, defineFlow, FlowEngine, MemoryFlowStore, type ArtifactDraft, type FlowInstance, type MapSpec, type StepDefinition } from '../../src/index.js';

/**
 * Invariance at the engine's level: a flow whose transform is mapped, for any shard size,
 * ends with the step fingerprints, output hashes and flow fingerprint of the same flow unmapped. Today
 * the engine runs a mapped step whole, so this holds trivially; it is here to hold the engine to it
 * once shards are scheduled.
 */
const items = Array.from({ length: 23 }, (_, i) => ({ id: `m${i}`, value: i * 3 }));

function flow(map: MapSpec | undefined): ReturnType<typeof defineFlow> {
  const source: StepDefinition = {
    id: 'read',
    kind: 'source',
    baseParams: {},
    run: () => {
      const outputs: ArtifactDraft[] = [
        { kind: 'test/set', payload: { source: 'inline', items } },
        { kind: 'test/rejected', payload: { rows: [{ line: 4 }] } },
      ];
      return { outputs };
    },
  };
  const square: StepDefinition = {
    id: 'square',
    kind: 'transform',
    baseParams: { unit: 'u²' },
    ...(map === undefined ? {} : { map }),
    run: (ctx) => {
      const set = (ctx.input.find((a) => a.kind === 'test/set') as Artifact | undefined)?.payload as { items: { id: string; value: number }[] };
      const rows = set.items.map((item) => ({ id: item.id, squared: item.value * item.value }));
      return { outputs: [...ctx.input.map((a) => ({ kind: a.kind, payload: (a as Artifact).payload })), { kind: 'test/squares', payload: { unit: 'u²', rows } }] };
    },
  };
  const total: StepDefinition = {
    id: 'total',
    kind: 'sink',
    baseParams: {},
    run: (ctx) => {
      const squares = (ctx.input.find((a) => a.kind === 'test/squares') as Artifact | undefined)?.payload as { rows: { squared: number }[] };
      return { outputs: [{ kind: 'test/total', payload: { total: squares.rows.reduce((sum, r) => sum + r.squared, 0), n: squares.rows.length } }] };
    },
  };
  return defineFlow('mapped', [source, square, total]);
}

async function run(map: MapSpec | undefined): Promise<FlowInstance> {
  const definition = flow(map);
  const engine = new FlowEngine({ store: new MemoryFlowStore(), retryPolicy: { maxRetries: 2, backoff: { kind: 'none' } } });
  return engine.runToEnd(await engine.startFlow(definition), definition);
}

const summary = (f: FlowInstance): unknown => ({
  flowFingerprint: f.flowFingerprint,
  steps: f.steps.map((s) => [s.stepId, s.status, s.fingerprint, s.outputs]),
});

describe('a mapped step in a flow', () => {
  it('gives the fingerprints and output hashes of the unmapped flow, for any shard size', async () => {
    const unmapped = await run(undefined);
    expect(unmapped.status).toBe('completed');
    expect(unmapped.steps[1]?.outputs).toHaveLength(3);
    for (const shardSize of [1, 2, 7, 23, 1000]) expect(summary(await run({ over: 'items', shardSize })), `shardSize ${shardSize}`).toEqual(summary(unmapped));
  });

  it('fails Validation, and is not retried, when no input artifact has the array field', async () => {
    const failed = await run({ over: 'molecules', shardSize: 5 });
    expect(failed.status).toBe('failed');
    const square = failed.steps[1];
    expect(square?.status).toBe('Failed');
    expect(square?.attempts).toBe(1);
    expect(square?.errors.map((e) => [e.errorClass, e.message])).toEqual([
      ['Validation', 'map.over is "molecules", but no input artifact has a field "molecules"; the input is test/set {items, source}, test/rejected {rows}'],
    ]);
  });
});
