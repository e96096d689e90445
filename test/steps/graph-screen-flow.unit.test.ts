import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlowEngine, MemoryFlowStore, type FlowInstance } from '../../src/index.js';
import { loadFlowFile } from '../../src/flowfile/index.js';
import { flowStepEntries } from '../../src/core/flow-steps.js';
import { BUILTIN_STEPS } from '../../src/steps/builtin.js';
import { flowGraphSvg } from '../../src/steps/flow-graph-svg.js';
import { scratchDir } from './support/run-step.js';

const EXAMPLE = join(import.meta.dirname, '..', '..', 'examples', 'graph-screen');
/** The picture of docs/graphs.md: rewritten with CHEMFLOW_UPDATE_SCREENSHOTS=1, else compared with what the example draws. */
const PICTURE = join(import.meta.dirname, '..', '..', 'docs', 'images', 'graph-screen.svg');

let dir: string;
let remove: () => Promise<void>;
beforeAll(async () => {
  ({ dir, remove } = await scratchDir());
});
afterAll(() => remove());

/** The example, copied (so its out/ is this test's), with `edit` applied to its flow file; run to its end. */
async function run(name: string, options: { concurrency?: number; edit?: (text: string) => string } = {}): Promise<{ flow: FlowInstance; at: string }> {
  const at = join(dir, name);
  await cp(EXAMPLE, at, { recursive: true, filter: (source) => !source.endsWith('/out') });
  const text = await readFile(join(at, 'flow.yaml'), 'utf8');
  await writeFile(join(at, 'flow.yaml'), options.edit?.(text) ?? text);
  const loaded = await loadFlowFile(join(at, 'flow.yaml'), { builtins: BUILTIN_STEPS });
  const engine = new FlowEngine({ store: new MemoryFlowStore(), retryPolicy: loaded.retryPolicy, baseDir: loaded.baseDir, concurrency: options.concurrency ?? 1 });
  const flowId = await engine.startFlow(loaded.definition);
  return { flow: await engine.runToEnd(flowId, loaded.definition), at };
}

describe('examples/graph-screen: a screen as a graph', () => {
  it('reads once, runs three branches and a join, and writes the molecules all three agree on', { timeout: 120_000 }, async () => {
    const { flow, at } = await run('plain');
    expect(flow.status).toBe('completed');
    const ids = flow.steps.map((s) => s.stepId);
    expect(flow.needs.map((list) => list.map((i) => ids[i]))).toEqual([[], ['read'], ['descriptors'], ['read'], ['read'], ['lipinski', 'similarity', 'alerts'], ['join']]);
    const csv = (await readFile(join(at, 'out', 'shortlist.csv'), 'utf8')).trimEnd().split('\n');
    expect(csv[0]).toBe('name,smiles,nearest,similarity,inchikey');
    // The references themselves (similarity 1), and drugs close to them that pass Lipinski with no alert.
    expect(csv.slice(1).map((line) => line.split(',')[0])).toEqual(expect.arrayContaining(['Aspirin', 'Ibuprofen', 'Diazepam', 'Naproxen']));
    for (const line of csv.slice(1)) expect(Number(line.split(',')[3])).toBeGreaterThanOrEqual(0.3);

    // Hashes are the flow's, not its schedule's: threads, and a map, change nothing.
    const threaded = await run('threaded', { concurrency: 2 });
    expect(threaded.flow.flowFingerprint).toBe(flow.flowFingerprint);
    const whole = await run('unmapped', { edit: (text) => text.replace('    map: { over: molecules, shardSize: 50 }\n', '') });
    expect(whole.flow.steps.map((s) => s.outputs)).toEqual(flow.steps.map((s) => s.outputs));
    expect(whole.flow.flowFingerprint).toBe(flow.flowFingerprint);
  });

  it('skips the shortlist when its condition is false, and still completes', { timeout: 120_000 }, async () => {
    const { flow, at } = await run('strict', { edit: (text) => text.replace("path: $.kept, op: '>', value: 0", "path: $.kept, op: '>', value: 1000") });
    expect(flow.status).toBe('completed');
    expect(flow.steps.map((s) => s.status)).toEqual(['FinishedOk', 'FinishedOk', 'FinishedOk', 'FinishedOk', 'FinishedOk', 'FinishedOk', 'Skipped']);
    await expect(readFile(join(at, 'out', 'shortlist.csv'))).rejects.toThrow(/ENOENT/);
  });

  it('draws the picture of docs/graphs.md: the example run to its end', { timeout: 120_000 }, async () => {
    const { flow } = await run('picture');
    const svg = `${flowGraphSvg(flowStepEntries(flow))}\n`;
    expect(svg.match(/<g class="graph-node status-finishedok"/g)).toHaveLength(7);
    if (process.env.CHEMFLOW_UPDATE_SCREENSHOTS === '1') await writeFile(PICTURE, svg);
    expect(await readFile(PICTURE, 'utf8'), 'docs/images/graph-screen.svg is not what the example draws: run this test with CHEMFLOW_UPDATE_SCREENSHOTS=1').toBe(svg);
  });
});
