// Batches through the embedded database: the hashes and fingerprints of the memory store for any map
// and chunk size, and an output of two million rows kept as chunks and a manifest, never one value.
import { describe, expect, it } from 'vitest';
import { isBatchArtifact } from '../../src/core/artifact.js';
import { batchHashOf } from '../../src/core/batch.js';
import type { JsonValue } from '../../src/core/canonical-json.js';
import { DEFAULT_CHUNK_LIMITS, type ChunkLimits } from '../../src/core/chunk.js';
import { defineFlow, type StepDefinition } from '../../src/core/definition.js';
import type { FlowInstance } from '../../src/core/flow-state.js';
import type { MapSpec } from '../../src/core/map-spec.js';
import type { BatchInput, StepInput } from '../../src/core/step-data.js';
import { FlowEngine } from '../../src/runtime/engine.js';
import type { FlowStore } from '../../src/stores/flow-store.js';
import { MemoryFlowStore } from '../../src/stores/memory-store.js';
import { templatePgliteStore } from '../support/pglite-template.js';

function* numbered(n: number): Generator<JsonValue> {
  for (let i = 0; i < n; i++) yield { i };
}

function* doubled(n: number): Generator<JsonValue> {
  for (let i = 0; i < n; i++) yield { i, twice: 2 * i };
}

const batchOf = (input: readonly StepInput[]): BatchInput => {
  const found = input[0];
  if (found === undefined || !('rows' in found)) throw new Error('no batch input');
  return found;
};

function flowOf(n: number, map: MapSpec | undefined) {
  const read: StepDefinition = {
    id: 'read',
    kind: 'source',
    baseParams: { n },
    run: async (ctx) => {
      const batch = ctx.batch('test/molecules', { rowsField: 'molecules', header: { source: 'generated' } });
      await batch.pushAll(numbered(n));
      return { outputs: [await batch.close()] };
    },
  };
  const double: StepDefinition = {
    id: 'double',
    kind: 'transform',
    baseParams: {},
    streaming: true,
    ...(map === undefined ? {} : { map }),
    run: async (ctx) => {
      const out = ctx.batch('test/doubled', { rowsField: 'rows' });
      for await (const row of batchOf(ctx.input).rows()) {
        const { i } = row as { i: number };
        await out.push({ i, twice: 2 * i });
      }
      return { outputs: [await out.close({ unit: 'x2' })] };
    },
  };
  return defineFlow('batches-db', [read, double]);
}

async function run(store: FlowStore, n: number, options: { map?: MapSpec; chunkLimits?: ChunkLimits } = {}): Promise<FlowInstance> {
  const engine = new FlowEngine({ store, retryPolicy: { maxRetries: 0, backoff: { kind: 'none' } }, ...(options.chunkLimits === undefined ? {} : { chunkLimits: options.chunkLimits }) });
  const definition = flowOf(n, options.map);
  return engine.runToEnd(await engine.startFlow(definition), definition);
}

const summary = (f: FlowInstance): unknown => ({
  completed: f.status === 'completed',
  flowFingerprint: f.flowFingerprint,
  steps: f.steps.map((s) => [s.stepId, s.status, s.fingerprint, s.outputs]),
});

describe('batches on the embedded database', () => {
  it('give the hashes and fingerprints of the memory store, with or without map, for any chunk size', async () => {
    const expected = summary(await run(new MemoryFlowStore(), 40));
    const store = await templatePgliteStore();
    try {
      for (const options of [{}, { map: { over: 'molecules', shardSize: 7 }, chunkLimits: { maxRows: 3, maxBytes: DEFAULT_CHUNK_LIMITS.maxBytes } }, { map: { over: 'molecules', shardSize: 1000 } }])
        expect(summary(await run(store, 40, options)), JSON.stringify(options)).toEqual(expected);
    } finally {
      await store.close();
    }
  }, 60_000);

  it('keep an output of two million rows as chunks and a manifest: rows in, rows out, the hash of its payload', async () => {
    const n = 2_000_000;
    const store = await templatePgliteStore();
    try {
      const flow = await run(store, n);
      expect(flow.status).toBe('completed');
      const [molecules] = await store.getArtifacts(flow.steps[0]?.outputs ?? []);
      const [out] = await store.getArtifacts(flow.steps[1]?.outputs ?? []);
      if (molecules === undefined || !isBatchArtifact(molecules) || out === undefined || !isBatchArtifact(out)) throw new Error('not batches');
      expect(molecules.manifest.rowCount).toBe(n);
      expect(out.manifest.rowCount).toBe(n);
      expect(out.manifest.chunks).toHaveLength(n / DEFAULT_CHUNK_LIMITS.maxRows);
      expect(out.hash).toBe(batchHashOf({ rowsField: 'rows', header: { unit: 'x2' } }, doubled(n)));
    } finally {
      await store.close();
    }
  }, 120_000);
});
