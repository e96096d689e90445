// A mapped streaming step in step threads (the real thread entry of the build): each thread reads its
// shard's slice of a batch and writes its own batch, through the directory of the blob store or, when
// the store has none, through the engine's thread — with the hashes of the same step run in-process.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isBatchArtifact } from '../../src/core/artifact.js';
import { DEFAULT_CHUNK_LIMITS } from '../../src/core/chunk.js';
import { defineFlow, type StepDefinition } from '../../src/core/definition.js';
import type { FlowInstance } from '../../src/core/flow-state.js';
import type { MapSpec } from '../../src/core/map-spec.js';
import { FlowEngine } from '../../src/runtime/engine.js';
import { StepThreads } from '../../src/runtime/step-threads.js';
import { FsBlobStore } from '../../src/stores/blobs/fs-blob-store.js';
import { MemoryFlowStore } from '../../src/stores/memory-store.js';
import { ensureBuilt, ROOT } from '../cli/support/cli.js';

const STEPS = `import { threadId } from 'node:worker_threads';
export const square = { kind: 'transform', streaming: true, async run(ctx) {
  const molecules = ctx.input.find((a) => a.kind === 'test/molecules');
  const out = ctx.batch('test/squares', { rowsField: 'rows', header: { unit: 'u²' } });
  for await (const row of molecules.rows()) await out.push({ id: row.id, squared: row.value * row.value });
  ctx.emit('thread', threadId > 0);
  return { outputs: [molecules, await out.close()] };
} };
`;

let dir: string;
let script: URL;
beforeAll(async () => {
  await ensureBuilt();
  script = pathToFileURL(join(ROOT, 'dist', 'cli', 'step-thread.js'));
  dir = await mkdtemp(join(tmpdir(), 'chemflow-batch-threads-'));
  await writeFile(join(dir, 'steps.mjs'), STEPS);
}, 180_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const rows = Array.from({ length: 40 }, (_, i) => ({ id: `m${i}`, value: i % 9 }));

function definition(map: MapSpec | undefined, inThread: boolean) {
  const source: StepDefinition = {
    id: 'read',
    kind: 'source',
    baseParams: {},
    run: async (ctx) => {
      const batch = ctx.batch('test/molecules', { rowsField: 'molecules', header: { source: 'inline' } });
      await batch.pushAll(rows);
      return { outputs: [await batch.close()] };
    },
  };
  const square: StepDefinition = {
    id: 'square',
    kind: 'transform',
    baseParams: {},
    streaming: true,
    ...(map === undefined ? {} : { map }),
    ...(inThread ? { origin: { uses: './steps.mjs#square', baseDir: dir } } : {}),
    run: async (ctx) => {
      const molecules = ctx.input.find((a) => a.kind === 'test/molecules');
      if (molecules === undefined || !('rows' in molecules)) throw new Error('no batch');
      const out = ctx.batch('test/squares', { rowsField: 'rows', header: { unit: 'u²' } });
      for await (const row of molecules.rows()) {
        const { id, value } = row as { id: string; value: number };
        await out.push({ id, squared: value * value });
      }
      return { outputs: [molecules, await out.close()] };
    },
  };
  return defineFlow('threads', [source, square]);
}

async function run(options: { map?: MapSpec; threads?: number; directory?: string }): Promise<{ flow: FlowInstance; store: MemoryFlowStore; signals: unknown[] }> {
  const store = new MemoryFlowStore(options.directory === undefined ? undefined : new FsBlobStore(options.directory));
  const threads = options.threads === undefined ? undefined : new StepThreads(script, options.threads);
  const signals: unknown[] = [];
  try {
    const engine = new FlowEngine({
      store,
      concurrency: 2,
      chunkLimits: { maxRows: 3, maxBytes: DEFAULT_CHUNK_LIMITS.maxBytes },
      retryPolicy: { maxRetries: 0, backoff: { kind: 'none' } },
      ...(threads === undefined ? {} : { threads }),
      onEvent: (event) => {
        if (event.type === 'StepSignal') signals.push(event.data);
      },
    });
    const def = definition(options.map, threads !== undefined);
    return { flow: await engine.runToEnd(await engine.startFlow(def), def), store, signals };
  } finally {
    await threads?.close();
  }
}

const summary = (f: FlowInstance): unknown => ({
  completed: f.status === 'completed',
  flowFingerprint: f.flowFingerprint,
  steps: f.steps.map((s) => [s.stepId, s.status, s.fingerprint, s.outputs]),
});

describe('a mapped streaming step in step threads', () => {
  it('gives the hashes of the step run in-process, its blobs asked of the engine or opened from the directory', async () => {
    const plain = await run({});
    expect(plain.flow.status).toBe('completed');
    const blobDir = await mkdtemp(join(tmpdir(), 'chemflow-batch-threads-blobs-'));
    try {
      for (const threads of [1, 2])
        for (const directory of [undefined, blobDir]) {
          const threaded = await run({ map: { over: 'molecules', shardSize: 7 }, threads, ...(directory === undefined ? {} : { directory }) });
          const label = `${threads} thread(s), ${directory === undefined ? 'through the engine' : 'directory'}`;
          expect(summary(threaded.flow), label).toEqual(summary(plain.flow));
          // Six shards, each run in a thread.
          expect(threaded.signals, label).toEqual([true, true, true, true, true, true]);
          const [, squares] = await threaded.store.getArtifacts(threaded.flow.steps[1]?.outputs ?? []);
          expect(squares !== undefined && isBatchArtifact(squares) ? squares.manifest.rowCount : null, label).toBe(rows.length);
        }
    } finally {
      await rm(blobDir, { recursive: true, force: true });
    }
  }, 120_000);
});
