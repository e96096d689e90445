// The flow queue in numbers: (1) an idle worker's look and a submitted flow's start, with
// no history and with many finished flows in the log, in interleaved rounds so that the ratio
// history / none compares like with like; (2) steps/s of N FlowWorkers on short flows, interleaved
// with the commit limit and the engine driving one flow at a time, measured in the same rounds.
import { openChemflowOnPostgres } from './chemflow.js';
import { openCommitLimit } from './commit-limit.js';
import type { Meter } from './meter.js';
import type { BenchOptions } from './options.js';
import type { HistoryLoad } from './queue-history.js';
import { openIdleProbe, type IdleProbe, type QueuePlans } from './queue-idle.js';
import { openWorkerMeters } from './queue-workers.js';
import { median, sample, type Sample } from './stats.js';

export interface Latency {
  count: number;
  medianMs: number;
  p95Ms: number;
}

export interface WorkersRow {
  workers: number;
  stepsPerS: Sample;
  /** Medians of the per-round ratios. */
  vsChemflowSeq: number;
  vsCommitC1: number;
  vsOneWorker: number;
}

/** One measurement on both schemas; ratio = history / empty, the median of the per-round ratios of medians. */
export interface Comparison {
  empty: Latency;
  history: Latency;
  ratio: number;
}

export interface QueueResult {
  history: HistoryLoad;
  /** One idle look: claimWork finding nothing + nextWakeAt, timed by the client. */
  idleLook: Comparison;
  /** The same two statements' planning + execution time on the server (EXPLAIN ANALYZE). */
  idleLookServer: Comparison;
  submitToStart: Comparison;
  /** listFlows of the open statuses (what `worker --once` reads when idle): not an idle look, but shown beside it. */
  openListing: Comparison;
  plans: { empty: QueuePlans; history: QueuePlans };
  workers: { commitC1: Sample; chemflowSeq: Sample; rows: WorkersRow[]; failedAttempts: number; drySamples: number };
}

function latency(ms: readonly number[]): Latency {
  const sorted = [...ms].sort((a, b) => a - b);
  return { count: sorted.length, medianMs: median(sorted), p95Ms: sorted[Math.floor(sorted.length * 0.95)] ?? Number.NaN };
}

const perRound = (a: readonly number[][], b: readonly number[][]): number => median(a.map((round, r) => median(round) / median(b[r] ?? [])));

async function idleAndLatency(options: BenchOptions, log: (line: string) => void): Promise<Omit<QueueResult, 'workers'>> {
  const probes: IdleProbe[] = [];
  try {
    log(`queue: bulk-loading ${options.historyFlows.toLocaleString('en-US')} finished flows`);
    const history = await openIdleProbe('queue_history', options.historyFlows);
    probes.push(history);
    const load = history.history as HistoryLoad;
    log(`  events ${load.eventsSeconds.toFixed(1)} s, queue rebuild ${load.rebuildSeconds.toFixed(1)} s, analyze ${load.analyzeSeconds.toFixed(1)} s`);
    const empty = await openIdleProbe('queue_empty', 0);
    probes.push(empty);
    // Each measurement alternates between the two schemas one call at a time (in turn first), so that
    // both sides of a ratio see the same moment of a busy machine.
    const pair = [['empty', empty], ['history', history]] as const;
    const kinds = {
      looks: (p: IdleProbe) => p.idleLooks(1),
      server: (p: IdleProbe) => p.serverLooks(1),
      starts: (p: IdleProbe) => p.submitToStart(1),
      listings: (p: IdleProbe) => p.openListings(1),
    };
    type Kind = keyof typeof kinds;
    const counts: Record<Kind, number> = {
      looks: Math.ceil(options.idleLooks / options.rounds),
      server: Math.ceil(options.idleLooks / options.rounds / 5),
      starts: Math.ceil(options.submissions / options.rounds),
      listings: Math.ceil(options.submissions / options.rounds),
    };
    const runs = Object.fromEntries(
      Object.keys(kinds).map((kind) => [kind, { empty: [] as number[][], history: [] as number[][] }]),
    ) as Record<Kind, Record<'empty' | 'history', number[][]>>;
    for (let round = 1; round <= options.rounds; round++) {
      globalThis.gc?.();
      for (const kind of Object.keys(kinds) as Kind[]) {
        const these = { empty: [] as number[], history: [] as number[] };
        for (let i = 0; i < counts[kind]; i++) {
          for (const [key, probe] of i % 2 === 0 ? pair : [...pair].reverse()) these[key].push(...(await kinds[kind](probe)));
        }
        runs[kind].empty.push(these.empty);
        runs[kind].history.push(these.history);
      }
      const last = (kind: Kind): string =>
        `${median(runs[kind].empty.at(-1) ?? []).toFixed(3)} / ${median(runs[kind].history.at(-1) ?? []).toFixed(3)} ms`;
      log(
        `  round ${round}/${options.rounds} (none / history): idle look ${last('looks')}, server ${last('server')}, ` +
          `submit-to-start ${last('starts')}, open listing ${last('listings')}`,
      );
    }
    const compare = (kind: Kind): Comparison => ({
      empty: latency(runs[kind].empty.flat()),
      history: latency(runs[kind].history.flat()),
      ratio: perRound(runs[kind].history, runs[kind].empty),
    });
    return {
      history: load,
      idleLook: compare('looks'),
      idleLookServer: compare('server'),
      submitToStart: compare('starts'),
      openListing: compare('listings'),
      plans: { empty: await empty.plans(), history: await history.plans() },
    };
  } finally {
    for (const probe of probes.reverse()) await probe.close().catch((error: unknown) => log(`cleanup failed: ${String(error)}`));
  }
}

async function workerThroughput(options: BenchOptions, log: (line: string) => void): Promise<QueueResult['workers']> {
  const closers: (() => Promise<void>)[] = [];
  try {
    const commit = await openCommitLimit();
    closers.push(() => commit.close());
    const chemflow = await openChemflowOnPostgres();
    closers.push(() => chemflow.close());
    const workers = await openWorkerMeters(options.workerCounts);
    closers.push(() => workers.close());
    const meters: [string, Meter][] = [
      ['commitC1', commit.c1],
      ['chemflowSeq', chemflow.seq],
      ...workers.meters.map(({ workers: n, meter }): [string, Meter] => [`workers${n}`, meter]),
    ];
    log(`queue: warming up ${meters.length} meters`);
    for (const [, meter] of meters) await meter.measure(options.warmupMs);
    const runs = new Map<string, number[]>(meters.map(([key]) => [key, []]));
    for (let round = 1; round <= options.rounds; round++) {
      log(`queue: round ${round}/${options.rounds}`);
      for (const [key, meter] of meters) {
        globalThis.gc?.();
        const value = await meter.measure(options.sampleMs);
        runs.get(key)?.push(value);
        log(`  ${meter.label}: ${Math.round(value)} ${meter.unit}`);
      }
    }
    const of = (key: string): number[] => runs.get(key) ?? [];
    const ratio = (a: string, b: string): number => median(of(a).map((value, r) => value / (of(b)[r] ?? Number.NaN)));
    if (workers.failedAttempts() > 0) log(`queue: ${workers.failedAttempts()} attempt(s) failed during worker samples`);
    if (workers.drySamples() > 0) log(`queue: the queue ran dry in ${workers.drySamples()} worker sample(s)`);
    return {
      commitC1: sample(of('commitC1')),
      chemflowSeq: sample(of('chemflowSeq')),
      rows: options.workerCounts.map((n) => ({
        workers: n,
        stepsPerS: sample(of(`workers${n}`)),
        vsChemflowSeq: ratio(`workers${n}`, 'chemflowSeq'),
        vsCommitC1: ratio(`workers${n}`, 'commitC1'),
        vsOneWorker: ratio(`workers${n}`, `workers${options.workerCounts[0] ?? 1}`),
      })),
      failedAttempts: workers.failedAttempts(),
      drySamples: workers.drySamples(),
    };
  } finally {
    for (const close of closers.reverse()) await close().catch((error: unknown) => log(`cleanup failed: ${String(error)}`));
  }
}

export async function queueBench(options: BenchOptions, log: (line: string) => void): Promise<QueueResult> {
  const idle = await idleAndLatency(options, log);
  return { ...idle, workers: await workerThroughput(options, log) };
}
