// Flows as graphs, in one process on the embedded database (PGlite in memory). Fan-out: a source, 8
// branches of a 500 ms step and a join, run with --concurrency 1, 2 and 4: the wall time against its
// bound, ceil(8 / concurrency) × 500 ms (the branches' sleep alone; the ratio says what the engine
// adds). Per-node overhead: 100 no-op steps as a graph (a source, then 99 steps each needing the source
// and the step before it, so the graph runs one step at a time like a list) against the same 100 steps
// written as a list, each flow run `rounds` times alternately; ratio = graph / list per step, median of
// per-round ratios (target ≤ 1.2).
import { defineFlow, defineStep, type FlowDefinition, type StepModule } from '../src/core/definition.js';
import { FlowEngine } from '../src/runtime/engine.js';
import { openPgliteStore } from '../src/stores/open-store.js';
import type { GraphWorkersRow } from './graph-workers.js';
import { median, sample, type Sample } from './stats.js';

export interface GraphsResult {
  branches: number;
  branchMs: number;
  fanOut: { concurrency: number; seconds: Sample; bound: number; ratio: number }[];
  nodes: number;
  rounds: number;
  /** Milliseconds per step. */
  listStepMs: Sample;
  graphStepMs: Sample;
  /** graphStepMs / listStepMs, median of per-round ratios. */
  overheadRatio: number;
  /** The fan-out on PostgreSQL with 1, 2 and 4 worker processes (absent when no PostgreSQL or CLI build). */
  workers?: GraphWorkersRow[];
}

const source: StepModule = { kind: 'source', version: '1', run: () => ({ outputs: [{ kind: 'n', payload: { n: 1 } }] }) };
const noop: StepModule = { kind: 'transform', version: '1', run: (ctx) => ({ outputs: [{ kind: 'n', payload: { n: ctx.input.length } }] }) };
const sleeping = (ms: number): StepModule => ({
  kind: 'transform',
  version: '1',
  run: async () => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return { outputs: [{ kind: 'n', payload: { n: ms } }] };
  },
});

function fanOut(branches: number, ms: number): FlowDefinition {
  const ids = Array.from({ length: branches }, (_, k) => `branch${k + 1}`);
  return defineFlow('fan-out', [
    defineStep('root', source),
    ...ids.map((id) => defineStep(id, sleeping(ms), {}, { needs: ['root'] })),
    defineStep('join', noop, {}, { needs: ids }),
  ]);
}

function chain(nodes: number, asGraph: boolean): FlowDefinition {
  return defineFlow(asGraph ? 'graph' : 'list', [
    defineStep('s0', source),
    ...Array.from({ length: nodes - 1 }, (_, k) => defineStep(`s${k + 1}`, noop, {}, asGraph ? { needs: ['s0', `s${k}`].filter((v, i, all) => all.indexOf(v) === i) } : {})),
  ]);
}

export async function graphsBench(options: { rounds: number }, log: (line: string) => void): Promise<GraphsResult> {
  const store = await openPgliteStore();
  try {
    const timed = async (definition: FlowDefinition, concurrency: number): Promise<number> => {
      const engine = new FlowEngine({ store, concurrency });
      const started = performance.now();
      const flowId = await engine.startFlow(definition);
      const flow = await engine.runToEnd(flowId, definition);
      if (flow.status !== 'completed') throw new Error(`${definition.name} ended ${flow.status}`);
      return (performance.now() - started) / 1000;
    };
    const branches = 8;
    const branchMs = 500;
    const fan = fanOut(branches, branchMs);
    const rows: GraphsResult['fanOut'] = [];
    for (const concurrency of [1, 2, 4]) {
      const seconds: number[] = [];
      for (let round = 0; round < options.rounds; round++) seconds.push(await timed(fan, concurrency));
      const bound = (Math.ceil(branches / concurrency) * branchMs) / 1000;
      rows.push({ concurrency, seconds: sample(seconds), bound, ratio: median(seconds) / bound });
      log(`  fan-out of ${branches} × ${branchMs} ms, --concurrency ${concurrency}: ${median(seconds).toFixed(2)} s (bound ${bound} s)`);
    }
    const nodes = 100;
    const list = chain(nodes, false);
    const graph = chain(nodes, true);
    const listMs: number[] = [];
    const graphMs: number[] = [];
    const ratios: number[] = [];
    await timed(list, 1); // warm up
    for (let round = 0; round < options.rounds; round++) {
      const order = round % 2 === 0 ? [list, graph] : [graph, list];
      const got = new Map<FlowDefinition, number>();
      for (const definition of order) got.set(definition, ((await timed(definition, 1)) * 1000) / nodes);
      listMs.push(got.get(list) as number);
      graphMs.push(got.get(graph) as number);
      ratios.push((got.get(graph) as number) / (got.get(list) as number));
    }
    log(`  ${nodes} steps: list ${median(listMs).toFixed(2)} ms/step, graph ${median(graphMs).toFixed(2)} ms/step (${median(ratios).toFixed(2)} ×)`);
    return { branches, branchMs, fanOut: rows, nodes, rounds: options.rounds, listStepMs: sample(listMs), graphStepMs: sample(graphMs), overheadRatio: median(ratios) };
  } finally {
    await store.close();
  }
}
