// Today's engine against the engine before the flow queue, in the same run: steps/s of N
// FlowWorkers on many short flows and of the engine driving one flow at a time, each version in schemas
// of its own, every meter once per round in turn (the order reversed every other round), with the commit
// limit of the same rounds. Ratios are medians of per-round ratios, now / before. Then the workers again,
// with `prequeueHistory` finished flows bulk-loaded under both versions: the old worker lists them all
// on every pass, today's claims from an index over open flows.
import { openChemflowOnPostgres } from './chemflow.js';
import { openCommitLimit } from './commit-limit.js';
import type { Meter } from './meter.js';
import type { BenchOptions } from './options.js';
import { buildPrequeueEngine } from './prequeue-build.js';
import { openPrequeueMeters } from './prequeue-workers.js';
import { openWorkerMeters } from './queue-workers.js';
import { median, sample, type Sample } from './stats.js';
import { workerAnatomy, type WorkerAnatomy } from './worker-anatomy.js';

export interface PrequeueRow {
  /** 0 for the engine driving one flow at a time, else the number of FlowWorkers. */
  workers: number;
  now: Sample;
  before: Sample;
  /** now / before, median of per-round ratios. */
  vsBefore: number;
  nowVsCommitC1: number;
  beforeVsCommitC1: number;
}

export interface PrequeueResult {
  commit: string;
  commitC1: Sample;
  rows: PrequeueRow[];
  /** The worker rows again with `flows` finished flows in both workers' schemas. */
  withHistory: { flows: number; commitC1: Sample; rows: PrequeueRow[] };
  /** Flows in the pre-queue schemas at the end: its worker lists every one of them on each pass. */
  flowsInLog: { sequential: number; workers: number };
  failedAttempts: number;
  drySamples: number;
  /** A one-slot worker's flow, statement by statement, against the worker before the queue (bench/worker-anatomy.ts). */
  anatomy: WorkerAnatomy;
}

export async function prequeueBench(options: BenchOptions & { root: URL }, log: (line: string) => void): Promise<PrequeueResult> {
  const old = await buildPrequeueEngine(options.root, log);
  const closers: (() => Promise<void>)[] = [];
  try {
    const commit = await openCommitLimit();
    closers.push(() => commit.close());
    const chemflow = await openChemflowOnPostgres();
    closers.push(() => chemflow.close());
    const now = await openWorkerMeters(options.workerCounts);
    closers.push(() => now.close());
    const before = await openPrequeueMeters(old, options.workerCounts);
    closers.push(() => before.close());
    const pairs: [number, Meter, Meter][] = [
      [0, chemflow.seq, before.sequential],
      ...options.workerCounts.map((n): [number, Meter, Meter] => [
        n,
        now.meters.find((m) => m.workers === n)?.meter as Meter,
        before.workers.find((m) => m.workers === n)?.meter as Meter,
      ]),
    ];
    const meters: [string, Meter][] = [
      ['commitC1', commit.c1],
      ...pairs.flatMap(([n, a, b]): [string, Meter][] => [
        [`now${n}`, a],
        [`before${n}`, b],
      ]),
    ];
    const measured = async (these: [string, Meter][], label: string): Promise<Map<string, number[]>> => {
      log(`prequeue: warming up ${these.length} meters (${label})`);
      for (const [, meter] of these) await meter.measure(options.warmupMs);
      const runs = new Map<string, number[]>(these.map(([key]) => [key, []]));
      for (let round = 1; round <= options.rounds; round++) {
        log(`prequeue: round ${round}/${options.rounds} (${label})`);
        for (const [key, meter] of round % 2 === 1 ? these : [...these].reverse()) {
          globalThis.gc?.();
          const value = await meter.measure(options.sampleMs);
          runs.get(key)?.push(value);
          log(`  ${meter.label}: ${Math.round(value)} ${meter.unit}`);
        }
      }
      return runs;
    };
    const rowsOf = (runs: Map<string, number[]>, counts: readonly number[]): PrequeueRow[] => {
      const of = (key: string): number[] => runs.get(key) ?? [];
      const ratio = (a: string, b: string): number => median(of(a).map((value, r) => value / (of(b)[r] ?? Number.NaN)));
      return counts.map((n) => ({
        workers: n,
        now: sample(of(`now${n}`)),
        before: sample(of(`before${n}`)),
        vsBefore: ratio(`now${n}`, `before${n}`),
        nowVsCommitC1: ratio(`now${n}`, 'commitC1'),
        beforeVsCommitC1: ratio(`before${n}`, 'commitC1'),
      }));
    };
    const first = await measured(meters, 'no history');
    log(`prequeue: bulk-loading ${options.prequeueHistory.toLocaleString('en-US')} finished flows under both versions' workers`);
    await now.loadHistory(options.prequeueHistory);
    await before.loadHistory(options.prequeueHistory);
    const second = await measured(
      meters.filter(([key]) => key !== 'now0' && key !== 'before0'), // the engine alone never lists flows
      `${options.prequeueHistory.toLocaleString('en-US')} finished flows`,
    );
    const failedAttempts = now.failedAttempts() + before.failedAttempts();
    const drySamples = now.drySamples() + before.drySamples();
    if (failedAttempts > 0) log(`prequeue: ${failedAttempts} attempt(s) failed during worker samples`);
    if (drySamples > 0) log(`prequeue: ran dry in ${drySamples} worker sample(s)`);
    // Its own schemas, after the meters' are closed: the server's WAL is read around each worker's run.
    for (const close of closers.splice(0).reverse()) await close();
    log(`prequeue: worker anatomy, ${options.anatomyFlows.toLocaleString('en-US')} flows per round, ${options.rounds} rounds`);
    const anatomy = await workerAnatomy(old, { flows: options.anatomyFlows, rounds: options.rounds }, log);
    return {
      commit: old.commit,
      commitC1: sample(first.get('commitC1') ?? []),
      rows: rowsOf(first, pairs.map(([n]) => n)),
      withHistory: {
        flows: options.prequeueHistory,
        commitC1: sample(second.get('commitC1') ?? []),
        rows: rowsOf(second, options.workerCounts),
      },
      flowsInLog: before.flowsInLog(),
      failedAttempts,
      drySamples,
      anatomy,
    };
  } finally {
    for (const close of closers.reverse()) await close().catch((error: unknown) => log(`cleanup failed: ${String(error)}`));
  }
}
