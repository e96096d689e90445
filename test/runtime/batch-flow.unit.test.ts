// Batches and files through the engine: a step streams its batch input and writes a batch, a large
// payload is stored as a batch, a mapped step slices a batch and concatenates its shards' batches —
// and none of it changes a hash or a fingerprint.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isBatchArtifact, isWholeArtifact, type Artifact, type StoredArtifact } from '../../src/core/artifact.js';
import { batchHashOf } from '../../src/core/batch.js';
import type { JsonValue } from '../../src/core/canonical-json.js';
import { BATCH_THRESHOLD_BYTES, DEFAULT_CHUNK_LIMITS, MAX_ROW_BYTES, type ChunkLimits } from '../../src/core/chunk.js';
import { defineFlow, type StepDefinition } from '../../src/core/definition.js';
import type { FlowInstance } from '../../src/core/flow-state.js';
import { hashCanonical } from '../../src/core/hash.js';
import type { MapSpec } from '../../src/core/map-spec.js';
import type { BatchInput, StepInput } from '../../src/core/step-data.js';
import { FlowEngine } from '../../src/runtime/engine.js';
import { FlowWorker } from '../../src/runtime/worker.js';
import type { BlobStore } from '../../src/stores/blobs/blob-store.js';
import { MemoryBlobStore } from '../../src/stores/blobs/memory-blob-store.js';
import type { FlowStore } from '../../src/stores/flow-store.js';
import { MemoryFlowStore } from '../../src/stores/memory-store.js';

type Row = { id: string; value: number };
const rowsOf = (n: number): Row[] => Array.from({ length: n }, (_, i) => ({ id: `m${i}`, value: (i * 7) % 13 }));

/** A source that writes its rows with `ctx.batch`, cut into chunks as the engine says. */
function source(n: number): StepDefinition {
  return {
    id: 'read',
    kind: 'source',
    baseParams: { n },
    run: async (ctx) => {
      const batch = ctx.batch('test/molecules', { rowsField: 'molecules', header: { source: 'inline' } });
      await batch.pushAll(rowsOf(n));
      return { outputs: [await batch.close(), { kind: 'test/note', payload: { note: 'read' } }] };
    },
  };
}

const batchOf = (input: readonly StepInput[], kind: string): BatchInput => {
  const found = input.find((a) => a.kind === kind);
  if (found === undefined || !('rows' in found)) throw new Error(`no batch ${kind}`);
  return found;
};

/**
 * A streaming transform, item by item: a batch of one row per input row (header given at close), its
 * batch input passed on as it is, its other input passed on, and a small whole list beside them.
 */
function square(map: MapSpec | undefined): StepDefinition {
  return {
    id: 'square',
    kind: 'transform',
    baseParams: {},
    streaming: true,
    ...(map === undefined ? {} : { map }),
    run: async (ctx) => {
      const molecules = batchOf(ctx.input, 'test/molecules');
      const out = ctx.batch('test/squares', { rowsField: 'rows' });
      const flags: boolean[] = [];
      for await (const row of molecules.rows()) {
        const { id, value } = row as Row;
        await out.push({ id, squared: value * value });
        flags.push(value % 2 === 0);
      }
      const note = ctx.input.find((a) => a.kind === 'test/note') as StepInput;
      return { outputs: [molecules, note, await out.close({ unit: 'u²' }), { kind: 'test/even', payload: { even: flags } }] };
    },
  };
}

/** Reads its batches whole, as a step that does not stream, and passes the squares on as a payload. */
function total(): StepDefinition {
  return {
    id: 'total',
    kind: 'sink',
    baseParams: {},
    run: (ctx) => {
      const squares = ctx.input.find((a) => a.kind === 'test/squares') as Artifact;
      const rows = (squares.payload as { rows: { squared: number }[] }).rows;
      return { outputs: [{ kind: squares.kind, payload: squares.payload }, { kind: 'test/total', payload: { total: rows.reduce((s, r) => s + r.squared, 0), n: rows.length } }] };
    },
  };
}

interface RunOptions {
  n: number;
  map?: MapSpec;
  chunkLimits?: ChunkLimits;
  concurrency?: number;
  store?: FlowStore;
}

async function run(options: RunOptions): Promise<{ flow: FlowInstance; store: FlowStore }> {
  const store = options.store ?? new MemoryFlowStore();
  const definition = defineFlow('batches', [source(options.n), square(options.map), total()]);
  const engine = new FlowEngine({
    store,
    retryPolicy: { maxRetries: 0, backoff: { kind: 'none' } },
    ...(options.chunkLimits === undefined ? {} : { chunkLimits: options.chunkLimits }),
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
  });
  return { flow: await engine.runToEnd(await engine.startFlow(definition), definition), store };
}

const summary = (f: FlowInstance): unknown => ({
  completed: f.status === 'completed',
  flowFingerprint: f.flowFingerprint,
  steps: f.steps.map((s) => [s.stepId, s.status, s.fingerprint, s.outputs]),
});

const squaresOf = (n: number): JsonValue[] => rowsOf(n).map(({ id, value }) => ({ id, squared: value * value }));

describe('a flow of batches', () => {
  it('streams, stores and hashes its batches as the payloads they stand for', async () => {
    const n = 25;
    const { flow, store } = await run({ n, chunkLimits: { maxRows: 3, maxBytes: DEFAULT_CHUNK_LIMITS.maxBytes } });
    expect(flow.status).toBe('completed');
    const [molecules, , squares, even] = await store.getArtifacts(flow.steps[1]?.outputs ?? []);
    expect(molecules?.hash).toBe(hashCanonical({ source: 'inline', molecules: rowsOf(n) }));
    expect(molecules?.hash).toBe(flow.steps[0]?.outputs[0]);
    expect(squares?.hash).toBe(batchHashOf({ rowsField: 'rows', header: { unit: 'u²' } }, squaresOf(n)));
    expect(squares !== undefined && isBatchArtifact(squares) ? squares.manifest.chunks.map((c) => c.rows) : null).toEqual([3, 3, 3, 3, 3, 3, 3, 3, 1]);
    expect(even !== undefined && isWholeArtifact(even)).toBe(true);
    // The sink read the squares whole and passed them on: the stored batch, not a second copy.
    const [passed, totals] = await store.getArtifacts(flow.steps[2]?.outputs ?? []);
    expect(passed).toEqual(squares);
    expect((totals as Artifact).payload).toEqual({ total: rowsOf(n).reduce((s, r) => s + r.value * r.value, 0), n });
  });

  it('keeps a batch written in one chunk whole, as small payloads are stored, and one of several chunks as a batch', async () => {
    const small = await run({ n: 25 });
    const [molecules, , squares] = await small.store.getArtifacts(small.flow.steps[1]?.outputs ?? []);
    expect(molecules !== undefined && isWholeArtifact(molecules) ? molecules.payload : null).toEqual({ source: 'inline', molecules: rowsOf(25) });
    expect(squares?.hash).toBe(batchHashOf({ rowsField: 'rows', header: { unit: 'u²' } }, squaresOf(25)));
    expect(squares !== undefined && isWholeArtifact(squares)).toBe(true);
    const large = await run({ n: 25, chunkLimits: { maxRows: 10, maxBytes: DEFAULT_CHUNK_LIMITS.maxBytes } });
    const stored = await large.store.getArtifacts(large.flow.steps[1]?.outputs ?? []);
    expect(stored.map((a) => isBatchArtifact(a))).toEqual([true, false, true, false]);
    expect(large.flow.flowFingerprint).toBe(small.flow.flowFingerprint);
  });

  it('gives the same hashes and fingerprints with or without map, for any shard size, chunk size and concurrency', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 60 }),
        fc.constantFrom<MapSpec | undefined>(undefined, { over: 'molecules', shardSize: 1000 }, { over: 'molecules', shardSize: 7 }, { over: 'molecules', shardSize: 1 }),
        fc.constantFrom(DEFAULT_CHUNK_LIMITS, { maxRows: 3, maxBytes: DEFAULT_CHUNK_LIMITS.maxBytes }, { maxRows: 1000, maxBytes: 40 }),
        fc.constantFrom(1, 2),
        async (n, map, chunkLimits, concurrency) => {
          const plain = await run({ n });
          const varied = await run({ n, chunkLimits, concurrency, ...(map === undefined ? {} : { map }) });
          expect(summary(varied.flow)).toEqual(summary(plain.flow));
        },
      ),
      { numRuns: 40 },
    );
  }, 120_000);

  it('keeps the hash of a mapped step whose shards write batches: their chunk lists joined in shard order', async () => {
    const n = 23;
    const { flow, store } = await run({ n, map: { over: 'molecules', shardSize: 7 }, chunkLimits: { maxRows: 3, maxBytes: DEFAULT_CHUNK_LIMITS.maxBytes } });
    const [molecules, , squares] = await store.getArtifacts(flow.steps[1]?.outputs ?? []);
    // The shards passed their slices on: the merged output is the step's own input batch.
    expect(molecules?.hash).toBe(flow.steps[0]?.outputs[0]);
    if (squares === undefined || !isBatchArtifact(squares)) throw new Error('squares are not a batch');
    // Shards of 7 rows, each cut at 3: 3+3+1 per shard, joined without a copy.
    expect(squares.manifest.chunks.map((c) => c.rows)).toEqual([3, 3, 1, 3, 3, 1, 3, 3, 1, 2]);
    expect(squares.manifest.rowCount).toBe(n);
    expect(squares.hash).toBe(batchHashOf({ rowsField: 'rows', header: { unit: 'u²' } }, squaresOf(n)));
  });
});

describe('a mapped step whose shards write small batches', () => {
  it("keeps each shard's batch a batch, so the merge joins chunk lists and never holds every shard's rows", async () => {
    const n = 23;
    const { flow, store } = await run({ n, map: { over: 'molecules', shardSize: 7 } });
    const shards = flow.steps[1]?.shards ?? [];
    expect(shards).toHaveLength(4);
    for (const shard of shards) {
      const [, , squares] = await store.getArtifacts(shard.outputs);
      expect(squares !== undefined && isBatchArtifact(squares)).toBe(true);
    }
    const [, , squares] = await store.getArtifacts(flow.steps[1]?.outputs ?? []);
    if (squares === undefined || !isBatchArtifact(squares)) throw new Error('squares are not a batch');
    expect(squares.manifest.chunks.map((c) => c.rows)).toEqual([7, 7, 7, 2]);
    expect(squares.hash).toBe(batchHashOf({ rowsField: 'rows', header: { unit: 'u²' } }, squaresOf(n)));
    // Unmapped, the same rows in one small chunk are kept whole, with the same hash.
    const plain = await run({ n });
    const [, , whole] = await plain.store.getArtifacts(plain.flow.steps[1]?.outputs ?? []);
    expect(whole !== undefined && isWholeArtifact(whole)).toBe(true);
    expect(whole?.hash).toBe(squares.hash);
  });
});

describe('a flow of batches run by a worker', () => {
  it('cuts the batches of its attempts, its shards and its merges where its chunkLimits say, as an engine does', async () => {
    const n = 23;
    const limits = { maxRows: 3, maxBytes: DEFAULT_CHUNK_LIMITS.maxBytes };
    const definition = defineFlow('batches', [source(n), square({ over: 'molecules', shardSize: 7 }), total()]);
    const byEngine = await run({ n, map: { over: 'molecules', shardSize: 7 }, chunkLimits: limits });
    const store = new MemoryFlowStore();
    const flowId = await new FlowEngine({ store }).startFlow(definition);
    const worker = new FlowWorker({ store, resolve: () => Promise.resolve({ definition }), chunkLimits: limits, concurrency: 2 });
    expect((await worker.run({ untilIdle: true })).map((o) => o.kind)).toContain('completed');
    const flow = (await new FlowEngine({ store }).open(flowId, definition)).flow;
    expect(summary(flow)).toEqual(summary(byEngine.flow));
    const [molecules, , squares] = await store.getArtifacts(flow.steps[1]?.outputs ?? []);
    const chunkRows = (a: StoredArtifact | undefined): number[] | null => (a !== undefined && isBatchArtifact(a) ? a.manifest.chunks.map((c) => c.rows) : null);
    // The source's attempt: 23 rows in chunks of 3; the shards' own chunks of 3, joined by the merge.
    expect(chunkRows(molecules)).toEqual([3, 3, 3, 3, 3, 3, 3, 2]);
    expect(chunkRows(squares)).toEqual([3, 3, 1, 3, 3, 1, 3, 3, 1, 2]);
  });
});

describe('a batch input whose chunk was changed in the blob store', () => {
  it('fails the step that reads it, Permanent ARTIFACT_INTEGRITY, without a retry', async () => {
    const blobs = new MemoryBlobStore();
    const store = new MemoryFlowStore(blobs);
    // Chunks of 3 rows: a batch of one chunk would be kept whole, read back (and refused) by its writer.
    const engine = new FlowEngine({
      store,
      retryPolicy: { maxRetries: 2, backoff: { kind: 'none' } },
      chunkLimits: { maxRows: 3, maxBytes: DEFAULT_CHUNK_LIMITS.maxBytes },
    });
    const definition = defineFlow('tampered', [
      { ...source(10), run: async (ctx) => {
        const batch = ctx.batch('test/molecules', { rowsField: 'molecules', header: { source: 'inline' } });
        await batch.pushAll(rowsOf(10));
        const written = await batch.close();
        const [chunk] = written.manifest.chunks;
        if (chunk !== undefined) blobs.tamper(chunk.hash, new TextEncoder().encode('{"id":"m0","value":99}'));
        return { outputs: [written, { kind: 'test/note', payload: { note: 'read' } }] };
      } },
      square(undefined),
    ]);
    const flowId = await engine.startFlow(definition);
    const flow = await engine.runToEnd(flowId, definition);
    expect(flow.status).toBe('failed');
    expect(flow.steps[1]?.attempts).toBe(1);
    expect(await store.getErrorTimeline(flowId, 'square')).toMatchObject([{ errorClass: 'Permanent', details: { error_code: 'ARTIFACT_INTEGRITY' } }]);
  });
});

describe('a large payload', () => {
  it('with one list of rows, is stored as a batch with the hash of its payload', async () => {
    const rows = Array.from({ length: 3000 }, (_, i) => ({ i, text: 'x'.repeat(1500) }));
    const payload = { title: 'big', rows };
    expect(JSON.stringify(payload).length).toBeGreaterThan(BATCH_THRESHOLD_BYTES);
    const step: StepDefinition = { id: 'big', kind: 'source', baseParams: {}, run: () => ({ outputs: [{ kind: 'test/big', payload }, { kind: 'test/small', payload: { rows: [1] } }] }) };
    const store = new MemoryFlowStore();
    const engine = new FlowEngine({ store });
    const definition = defineFlow('big', [step]);
    const flow = await engine.runToEnd(await engine.startFlow(definition), definition);
    const [big, small] = await store.getArtifacts(flow.steps[0]?.outputs ?? []);
    expect(big !== undefined && isBatchArtifact(big) ? big.manifest.rowCount : null).toBe(3000);
    expect(big?.hash).toBe(hashCanonical(payload));
    expect(small !== undefined && isWholeArtifact(small)).toBe(true);
  });
});

/** A flow of one source whose `run` is given, on `store`; its step's failure, if any. */
async function failureOf(run: StepDefinition['run'], store: FlowStore = new MemoryFlowStore()) {
  const engine = new FlowEngine({ store, retryPolicy: { maxRetries: 2, backoff: { kind: 'none' } } });
  const definition = defineFlow('fails', [{ id: 'only', kind: 'source', baseParams: {}, run }]);
  const flowId = await engine.startFlow(definition);
  const flow = await engine.runToEnd(flowId, definition);
  return { flow, errors: await store.getErrorTimeline(flowId, 'only') };
}

describe('batch and file outputs that cannot be kept', () => {
  it('a row over the limit of one row fails the attempt, Permanent OUTPUT_TOO_LARGE naming its size and the limit', async () => {
    const { flow, errors } = await failureOf(async (ctx) => {
      const batch = ctx.batch('test/rows', { rowsField: null });
      await batch.push('y'.repeat(MAX_ROW_BYTES));
      return { outputs: [await batch.close()] };
    });
    expect(flow.status).toBe('failed');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ errorClass: 'Permanent', details: { error_code: 'OUTPUT_TOO_LARGE', bytes: MAX_ROW_BYTES + 2, limit_bytes: MAX_ROW_BYTES } });
    expect(errors[0]?.errorMessage).toContain(`rows[0] of a batch output is ${MAX_ROW_BYTES + 2} bytes as canonical JSON, over the limit of ${MAX_ROW_BYTES} bytes`);
  }, 60_000);

  it('a file output on a blob store that keeps no files fails Permanent BLOB_DIR_REQUIRED', async () => {
    const memory = new MemoryBlobStore();
    const chunksOnly: BlobStore = Object.assign(Object.create(memory) as MemoryBlobStore, { keepsFiles: false, location: 'database' });
    const { flow, errors } = await failureOf(async (ctx) => ({ outputs: [await ctx.file('test/sdf', new TextEncoder().encode('x'), { name: 'a.sdf' })] }), new MemoryFlowStore(chunksOnly));
    expect(flow.status).toBe('failed');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ errorClass: 'Permanent', details: { error_code: 'BLOB_DIR_REQUIRED' } });
    expect(errors[0]?.errorMessage).toContain('--blob-dir');
  });

  it('a file output is kept by its bytes hash, and the next step reads it', async () => {
    const seen: string[] = [];
    const store = new MemoryFlowStore();
    const engine = new FlowEngine({ store });
    const definition = defineFlow('file', [
      { id: 'write', kind: 'source', baseParams: {}, run: async (ctx) => ({ outputs: [await ctx.file('test/sdf', new TextEncoder().encode('CCO\n'), { name: 'a.sdf' })] }) },
      {
        id: 'read',
        kind: 'sink',
        baseParams: {},
        run: async (ctx) => {
          const file = ctx.input[0];
          if (file === undefined || !('path' in file)) throw new Error('no file input');
          seen.push(new TextDecoder().decode(await file.bytes()));
          return { outputs: [file] };
        },
      },
    ]);
    const flow = await engine.runToEnd(await engine.startFlow(definition), definition);
    expect(flow.status).toBe('completed');
    expect(seen).toEqual(['CCO\n']);
    expect(flow.steps[1]?.outputs).toEqual(flow.steps[0]?.outputs);
    const [file] = await store.getArtifacts(flow.steps[0]?.outputs ?? []);
    expect(file).toMatchObject({ form: 'file', name: 'a.sdf', size: 4 });
  });

  it('a batch the step neither read nor wrote is refused as an invalid output', async () => {
    const forged: StoredArtifact = { form: 'batch', kind: 'test/rows', hash: '0'.repeat(64), manifest: { rowsField: null, header: {}, rowCount: 0, chunks: [] } };
    const { errors } = await failureOf(() => ({ outputs: [forged] }));
    expect(errors[0]).toMatchObject({ errorClass: 'Runtime', details: { error_code: 'INVALID_OUTPUT' } });
  });
});
