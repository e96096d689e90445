import { describe, expect, it } from 'vitest';
import { createArtifact, type StepContext, type StepDefinition } from '../../src/index.js';
import { runAttempt, type AttemptContext } from '../../src/runtime/step-runner.js';
import { MemoryBlobStore } from '../../src/stores/blobs/memory-blob-store.js';

const input = [createArtifact({ kind: 'test/set', payload: { items: [1, 2, 3] } }), createArtifact({ kind: 'test/other', payload: { rows: [] } })];
const context: AttemptContext = {
  input,
  attempt: 1,
  flowId: '00000000-0000-4000-8000-000000000000',
  stepId: 'mapped',
  baseDir: process.cwd(),
  errorHistory: [],
};

function mappedStep(over: string, seen: StepContext[]): StepDefinition {
  return {
    id: 'mapped',
    kind: 'transform',
    baseParams: {},
    map: { over, shardSize: 1 },
    run: (ctx) => {
      seen.push(ctx);
      return { outputs: [{ kind: 'test/out', payload: { n: ctx.input.length } }] };
    },
  };
}

/** Until the engine schedules shards, a mapped step runs as one attempt on its whole input. */
describe('a mapped step today', () => {
  it('runs once on its whole input, with no shard position', async () => {
    const seen: StepContext[] = [];
    const result = await runAttempt(mappedStep('items', seen), context, { timeoutMs: null }, { blobs: new MemoryBlobStore() });
    expect(result.ok).toBe(true);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.input).toEqual(input);
    expect(seen[0]?.shard).toBeUndefined();
  });

  it('fails Validation, without running, when its map does not fit its input', async () => {
    const seen: StepContext[] = [];
    const result = await runAttempt(mappedStep('molecules', seen), context, { timeoutMs: null }, { blobs: new MemoryBlobStore() });
    expect(seen).toHaveLength(0);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.errorClass).toBe('Validation');
    expect(result.error.code).toBe('MAP_INPUT');
    expect(result.error.message).toBe(
      'map.over is "molecules", but no input artifact has a field "molecules"; the input is test/set {items}, test/other {rows}',
    );
    expect(result.error.details).toEqual({ over: 'molecules', kinds: ['test/set', 'test/other'] });
  });
});
