import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryFlowStore, type FlowStore } from '../../src/index.js';
import type { CommandContext } from '../../src/cli/context.js';
import { cancelCommand } from '../../src/cli/commands/cancel.js';
import { errorsCommand } from '../../src/cli/commands/errors.js';
import { eventsCommand } from '../../src/cli/commands/events.js';
import { resumeCommand } from '../../src/cli/commands/resume.js';
import { retryCommand } from '../../src/cli/commands/retry.js';
import { runCommand } from '../../src/cli/commands/run.js';
import { statusCommand } from '../../src/cli/commands/status.js';
import { submitCommand } from '../../src/cli/commands/submit.js';
import { loadFlowFile } from '../../src/flowfile/index.js';
import { FlowWorker } from '../../src/runtime/worker.js';
import { FlowEngine } from '../../src/runtime/engine.js';
import { workspace, type Workspace } from './support/cli.js';

const GATED = `name: gated
retry: { maxRetries: 1, backoff: { kind: none } }
steps:
  - { id: seed, uses: ./steps/seed.mjs, params: { n: 3 } }
  - { id: gate, uses: ./steps/gate.mjs }
  - { id: double, uses: ./steps/double.mjs }
`;

/** A real store whose log reads (`list`) are counted: what "one read per command" is measured by. */
function countingReads(store: FlowStore): { store: FlowStore; reads: () => number } {
  let reads = 0;
  const counted = new Proxy(store, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key, target);
      if (key === 'list') return (flowId: string) => ((reads += 1), target.list(flowId));
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store: counted, reads: () => reads };
}

describe('every command reads the flow log once', () => {
  let ws: Workspace;
  let out: string[];
  beforeEach(async () => {
    ws = await workspace();
    await ws.write('gated.yaml', GATED);
    out = [];
  });
  afterEach(() => ws.remove());

  const context = (store: FlowStore): CommandContext => ({
    io: { stdout: { write: (t: string) => out.push(t) }, stderr: { write: () => true }, env: {}, cwd: ws.dir },
    db: '(counted memory store)',
    store,
  });

  it('run reads it never, status, retry and resume once each', async () => {
    const { store, reads } = countingReads(new MemoryFlowStore());
    const ctx = context(store);
    expect(await runCommand(ctx, 'gated.yaml', { json: true, quiet: true })).toBe(1);
    const flowId = (JSON.parse(out.join('')) as { flowId: string }).flowId;
    expect(reads()).toBe(0);

    expect(await statusCommand(ctx, flowId, { json: true })).toBe(0);
    expect(reads()).toBe(1);

    expect(await retryCommand(ctx, flowId, 'gate', { json: true })).toBe(0);
    expect(reads()).toBe(2);

    await writeFile(join(ws.dir, 'open.marker'), '');
    out = [];
    expect(await resumeCommand(ctx, flowId, { json: true, quiet: true })).toBe(0);
    expect(JSON.parse(out.join(''))).toMatchObject({ status: 'completed' });
    expect(reads()).toBe(3);

    expect(await eventsCommand(ctx, flowId, { json: true })).toBe(0);
    expect(reads()).toBe(4);
    expect(await errorsCommand(ctx, flowId, { json: true })).toBe(0);
    expect(reads()).toBe(5);
  });

  it('submit reads it never, cancel once', async () => {
    const { store, reads } = countingReads(new MemoryFlowStore());
    const ctx = context(store);
    expect(await submitCommand(ctx, 'gated.yaml', { json: true })).toBe(0);
    const flowId = (JSON.parse(out.join('')) as { flowId: string }).flowId;
    expect(reads()).toBe(0);
    expect(await cancelCommand(ctx, flowId, { json: true })).toBe(0);
    expect(reads()).toBe(1);
  });

  it('a worker reads no log of its own: its claim returns the flow\'s events', async () => {
    const { store, reads } = countingReads(new MemoryFlowStore());
    await writeFile(join(ws.dir, 'open.marker'), '');
    const loaded = await loadFlowFile(join(ws.dir, 'gated.yaml'), { cwd: ws.dir });
    await new FlowEngine({ store }).startFlow(loaded.definition);
    const worker = new FlowWorker({ store, resolve: () => Promise.resolve({ definition: loaded.definition, baseDir: ws.dir }) });
    expect(await worker.run({ untilIdle: true })).toMatchObject([{ kind: 'completed' }]);
    expect(reads()).toBe(0);
  });
});
