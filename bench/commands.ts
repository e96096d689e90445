// What a command step costs beyond a JavaScript step, and how fast it stages files, on the PostgreSQL
// server with a blob directory (how command steps run in production). Two flows per round, their
// order swapped every other round: N steps of `true` (a command step: attempt directory, process
// group, stdout/stderr captured and stored as log blobs, directory removed) against N no-op
// JavaScript steps, each step its own commit as always; ratio = per-step time of the command flow /
// of the JavaScript flow, the median of per-round ratios. Then a step that writes 1,000 small files
// (1 KiB each) followed by a `true` step that gets all of them staged into its attempt directory
// (hard links from the blob directory, each verified against its hash): files/s of that step, and
// of its staging alone (its time less the median of a `true` step's).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineFlow, type StepDefinition } from '../src/core/definition.js';
import type { FlowEvent } from '../src/core/events.js';
import { FlowEngine } from '../src/runtime/engine.js';
import { commandStep } from '../src/runtime/command/command-step.js';
import { openPostgresStore } from '../src/stores/open-store.js';
import { BENCH_PG_URL, createBenchSchema } from './pg-admin.js';
import { median, sample, type Sample } from './stats.js';

export interface CommandsOptions {
  rounds: number;
  /** Steps per flow in the overhead rows. */
  steps: number;
  /** Small files staged into one command step. */
  files: number;
}

export interface CommandsResult {
  steps: number;
  rounds: number;
  /** Milliseconds per step (the flow's wall time / its steps). */
  jsStepMs: Sample;
  commandStepMs: Sample;
  /** commandStepMs / jsStepMs, median of per-round ratios. */
  ratio: number;
  /** commandStepMs − jsStepMs: what running a program adds to a step (median of per-round differences). */
  overheadMs: number;
  files: number;
  /** The staging step: StepStarted to StepFinished, seconds. */
  stagingStepSeconds: Sample;
  /** files / stagingStepSeconds, median. */
  filesPerSecond: number;
  /** files / (stagingStepSeconds − a `true` step), median. */
  stagingFilesPerSecond: number;
}

const noop = (id: string, kind: 'source' | 'transform'): StepDefinition => ({ id, kind, baseParams: {}, run: () => ({ outputs: [] }) });

/** `true`, as a command step; the first one is the flow's source. */
const trueStep = (id: string, kind: 'source' | 'transform'): StepDefinition =>
  commandStep({ id, command: ['true'], kind });

/** One source writing `count` small files, each its own kind (so each has its own input name), then `true`. */
function stagingFlow(count: number) {
  const writer: StepDefinition = {
    id: 'write',
    kind: 'source',
    baseParams: { count },
    async run(ctx) {
      const outputs = [];
      for (let i = 0; i < count; i++) {
        const bytes = new Uint8Array(1024).fill(i % 251);
        bytes.set(new TextEncoder().encode(`file ${i}\n`));
        outputs.push(await ctx.file(`bench/f${String(i).padStart(4, '0')}`, bytes, { name: `f${i}.txt` }));
      }
      return { outputs };
    },
  };
  return defineFlow('bench-staging', [writer, trueStep('stage', 'transform')]);
}

export async function commandsBench(options: CommandsOptions, log: (line: string) => void): Promise<CommandsResult> {
  const schema = await createBenchSchema('commands');
  const dir = mkdtempSync(join(tmpdir(), 'cf-bench-commands-'));
  const store = await openPostgresStore({ connectionString: BENCH_PG_URL, schema: schema.name }, { blobDir: join(dir, 'blobs') });
  try {
    const engine = (onEvent?: (event: FlowEvent) => void): FlowEngine =>
      new FlowEngine({ store, workRoot: join(dir, 'work'), concurrency: 1, ...(onEvent === undefined ? {} : { onEvent }) });
    const ids = Array.from({ length: options.steps }, (_, i) => `s${i}`);
    const jsFlow = defineFlow('bench-js', ids.map((id, i) => noop(id, i === 0 ? 'source' : 'transform')));
    const commandFlow = defineFlow('bench-command', ids.map((id, i) => trueStep(id, i === 0 ? 'source' : 'transform')));
    const perStep = async (flow: typeof jsFlow): Promise<number> => {
      const started = performance.now();
      const end = await engine().runToEnd(await engine().start(flow, { leased: true }));
      if (end.status !== 'completed') throw new Error(`${flow.name} did not complete`);
      return (performance.now() - started) / options.steps;
    };
    await perStep(jsFlow); // warm-up: connections, prepared statements, the code paths
    await perStep(commandFlow);
    const js: number[] = [];
    const command: number[] = [];
    const ratios: number[] = [];
    const differences: number[] = [];
    for (let round = 0; round < options.rounds; round++) {
      const [a, b] = round % 2 === 0 ? [jsFlow, commandFlow] : [commandFlow, jsFlow];
      const first = await perStep(a);
      const second = await perStep(b);
      const [jsMs, commandMs] = a === jsFlow ? [first, second] : [second, first];
      js.push(jsMs);
      command.push(commandMs);
      ratios.push(commandMs / jsMs);
      differences.push(commandMs - jsMs);
      log(`  round ${round + 1}: JavaScript step ${jsMs.toFixed(2)} ms, command step (true) ${commandMs.toFixed(2)} ms`);
    }

    const staging = stagingFlow(options.files);
    const stepSeconds: number[] = [];
    for (let round = 0; round < options.rounds; round++) {
      let startedAt = 0;
      let seconds = 0;
      const e = engine((event) => {
        if (event.type === 'StepStarted' && event.stepId === 'stage') startedAt = performance.now();
        if (event.type === 'StepFinished' && event.stepId === 'stage') seconds = (performance.now() - startedAt) / 1000;
      });
      const end = await e.runToEnd(await e.start(staging, { leased: true }));
      if (end.status !== 'completed' || seconds === 0) throw new Error(`the staging flow did not complete: ${JSON.stringify(end.steps.map((s) => s.errors.at(-1)?.message ?? s.status))}`);
      stepSeconds.push(seconds);
      log(`  round ${round + 1}: ${options.files} files staged in one command step: ${seconds.toFixed(2)} s`);
    }
    const trueSeconds = median(command) / 1000;
    return {
      steps: options.steps,
      rounds: options.rounds,
      jsStepMs: sample(js),
      commandStepMs: sample(command),
      ratio: median(ratios),
      overheadMs: median(differences),
      files: options.files,
      stagingStepSeconds: sample(stepSeconds),
      filesPerSecond: median(stepSeconds.map((s) => options.files / s)),
      stagingFilesPerSecond: median(stepSeconds.map((s) => options.files / Math.max(1e-3, s - trueSeconds))),
    };
  } finally {
    await store.close();
    await schema.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}
