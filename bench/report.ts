// The two outputs of a run: the JSON document (a contract, field for field, for scripts that read it) and the table.
import type { CacheComparison, CacheLookupResult } from './cache-lookup.js';
import type { ErrorTimelineResult } from './error-timeline.js';
import type { UiBenchResult } from './ui.js';
import type { Comparison, Latency, QueueResult } from './queue.js';
import type { PrequeueResult, PrequeueRow } from './prequeue.js';
import type { AnatomySide, WorkerAnatomy } from './worker-anatomy.js';
import type { ReplayResult } from './replay.js';
import type { ShardsResult, ShardTimes } from './shards.js';
import type { NativeResult, PeakRss } from './native.js';
import type { CommandsResult } from './commands.js';
import type { GraphsResult } from './graphs.js';
import { round, type Sample } from './stats.js';
import type { ThroughputResult } from './throughput.js';

/** The `--json` document: steps per second unless named otherwise. A section left out (`--only`) has no keys. */
export interface BenchSummary {
  commitLimit?: { c1: number; c8: number };
  chemflow?: { pg: { seq: number; c8: number }; pglite: { seq: number }; withFailures: { seq: number } };
  dbos?: { seq: number; c8: number };
  ratios?: { vsDbosSeq: number; vsCommitSeq: number; vsCommitC8: number };
  replay?: { memoryEventsPerS: number; pgEventsPerS: number };
  errorTimelineMedianMs?: number;
  queue?: QueueSummary;
  prequeue?: PrequeueSummary;
  cacheLookup?: CacheLookupSummary;
  shards?: ShardsSummary;
  native?: NativeSummary;
  commands?: CommandsSummary;
  ui?: { flowsListMs: number; flowsPageMs: number; flowPageMs: number };
  graphs?: {
    fanOut: { concurrency: number; seconds: number; bound: number; ratio: number }[];
    fanOutWorkers?: { workers: number; seconds: number; bound: number; ratio: number }[];
    listStepMs: number;
    graphStepMs: number;
    overheadRatio: number;
  };
}

/** Command steps against JavaScript steps (ms per step, same run), and files staged per second. */
export interface CommandsSummary {
  steps: number;
  jsStepMs: number;
  commandStepMs: number;
  ratio: number;
  overheadMs: number;
  files: number;
  stagingStepSeconds: number;
  filesPerSecond: number;
  stagingFilesPerSecond: number;
}

/**
 * Today's engine against the one before the flow queue (commit `commit`), same run, steps/s: `workers` 0 is
 * the engine driving one flow at a time, else N FlowWorkers; vsBefore = now / before, median of per-round ratios.
 */
export interface NativeSummary {
  rdkitNative: string;
  cores: number;
  /** Seconds (medians over rounds); ratio = chemflow / native with `cores` processes; peak RSS in MB per process. */
  libraries: {
    molecules: number;
    nativeSeconds: { procs1: number; procsN: number };
    /** The example's WebAssembly flow; null when it did not run on this library (`--library-example`). */
    chemflowSeconds: number | null;
    ratio: number | null;
    /** bench/native/flow.yaml: screen.py as a mapped command step; ratio = its wall / native's (`cores` processes). */
    nativeStep: { seconds: number; ratio: number; cpuSeconds: number; cpuRatio: number; peakRssMb: number[]; differences: number };
    cpuSeconds: { native1: number; native: number; chemflow: number | null };
    cpuRatio: number | null;
    peakRssMb: { native1: number[]; native: number[]; chemflow: number[] | null };
    compared: number | null;
    differences: number;
    /** The example flow's fingerprint in every round (one value when the rounds agree). */
    flowFingerprints: string[];
  }[];
  /** Microseconds per molecule of each RDKit operation. */
  opsUs: { native: Record<string, number>; wasm: Record<string, number> };
  ok: boolean;
}

export interface PrequeueSummary {
  commit: string;
  commitC1: number;
  rows: PrequeueRowSummary[];
  /** The worker rows again, with `flows` finished flows under both versions' workers. */
  withHistory: { flows: number; commitC1: number; rows: PrequeueRowSummary[] };
  /** A one-slot worker's flow, statement by statement, today (`now`) and before the queue; ratios now / before. */
  anatomy: {
    flows: number;
    rounds: number;
    now: AnatomySideSummary;
    before: AnatomySideSummary;
    ratios: { msPerFlow: number; statementMsPerFlow: number; cpuUsPerStep: number; walBytesPerFlow: number };
  };
}

export interface AnatomySideSummary {
  msPerFlow: number;
  statementMsPerFlow: number;
  cpuUsPerStep: number;
  walBytesPerFlow: number;
  statements: { kind: string; perFlow: number; medianUs: number; msPerFlow: number }[];
}

export interface PrequeueRowSummary {
  workers: number;
  now: number;
  before: number;
  vsBefore: number;
  nowVsCommitC1: number;
  beforeVsCommitC1: number;
}

/** Sharded map steps: wall seconds of the whole flow and of the mapped step, `chemflow worker` processes. */
export interface ShardsSummary {
  molecules: number;
  rounds: number;
  /** Shards of 1,000; speedup = 1-worker wall time / 2-worker wall time; cpuVsOne = CPU of the 2 workers / of the 1. */
  workers: { one: ShardTimesSummary; two: ShardTimesSummary; speedup: { flow: number; step: number }; cpuVsOne: number };
  /** One worker; vsOneShard = time (and CPU) / the same with shardSize = molecules (one shard). */
  sizes: (ShardTimesSummary & { vsOneShard: { flow: number; step: number; cpu: number } })[];
  sameFingerprint: boolean;
  failures: number;
}

export interface ShardTimesSummary {
  workers: number;
  shardSize: number;
  shards: number;
  flowSeconds: number;
  stepSeconds: number;
  /** CPU seconds of the worker processes (NaN without /proc). */
  cpuSeconds: number;
  /** Most shards running at once in any round. */
  shardsAtOnce: number;
  /** Mean wall seconds of one shard, start → finish. */
  shardSeconds: number;
}

/** The step cache lookup; "empty" holds only the looked-up entries, "loaded" `entries` more. */
export interface CacheLookupSummary {
  entries: number;
  lookups: number;
  loadSeconds: number;
  /** lookupCache: the one indexed query; ratio = loaded / empty, median of per-round ratios. */
  lookupMs: CacheComparisonSummary;
  /** findCached: the query plus reading and verifying the entry's artifacts. */
  findMs: CacheComparisonSummary;
  /** Scan nodes of the lookup's plan with the entries loaded. */
  plan: string[];
}

export interface CacheComparisonSummary {
  empty: LatencySummary;
  loaded: LatencySummary;
  ratio: number;
}

/** The flow queue's rows; "empty" is a log with no flows, "history" one with `historyFlows` finished ones. */
export interface QueueSummary {
  historyFlows: number;
  /** Bulk load of the history: events (INSERT ... SELECT), queue rebuild, ANALYZE. */
  loadSeconds: { events: number; rebuild: number; analyze: number };
  /** One idle look (claimWork finding nothing + nextWakeAt); ratio = history / empty, median of per-round ratios. */
  idleLookMs: ComparisonSummary;
  /** The same statements' planning + execution time on the server (EXPLAIN ANALYZE), without round trips. */
  idleLookServerMs: ComparisonSummary;
  /** startFlow to the first step running in an idle FlowWorker woken by NOTIFY. */
  submitToStartMs: ComparisonSummary;
  /** listFlows of the open statuses, limit 1000 (what `chemflow worker --once` reads when it finds nothing): not part of an idle look. */
  openListingMs: ComparisonSummary;
  /** Scan nodes of the plans with the history loaded; seqScan: in the claim or next-wake plan. */
  plans: { claim: string[]; claimShards: string[]; nextWake: string[]; listOpen: string[]; seqScan: boolean };
  /** Steps/s of N FlowWorkers, with the commit limit and chemflow's sequential engine rate of the same rounds. */
  workers: {
    commitC1: number;
    chemflowSeq: number;
    rows: { workers: number; stepsPerS: number; vsChemflowSeq: number; vsCommitC1: number; vsOneWorker: number }[];
  };
}

export interface LatencySummary {
  median: number;
  p95: number;
}

export interface ComparisonSummary {
  empty: LatencySummary;
  history: LatencySummary;
  ratio: number;
}

export interface BenchRun {
  throughput?: ThroughputResult;
  replay?: ReplayResult;
  errorTimeline?: ErrorTimelineResult;
  queue?: QueueResult;
  prequeue?: PrequeueResult;
  cacheLookup?: CacheLookupResult;
  shards?: ShardsResult;
  native?: NativeResult;
  commands?: CommandsResult;
  graphs?: GraphsResult;
  ui?: UiBenchResult;
}

export interface RunContext {
  mode: 'quick' | 'full';
  startedAt: string;
  seconds: number;
  rounds: number;
  sampleMs: number;
  machine: { cpus: number; cpuModel: string; node: string; loadAverageBefore: number; loadAverageAfter: number };
  server: Record<string, string>;
}

export function summarise({ throughput: t, replay, errorTimeline, queue, prequeue, cacheLookup: c, shards, native, commands, ui, graphs }: BenchRun): BenchSummary {
  return {
    ...(graphs === undefined
      ? {}
      : {
          graphs: {
            fanOut: graphs.fanOut.map((r) => ({ concurrency: r.concurrency, seconds: round(r.seconds.median), bound: r.bound, ratio: round(r.ratio) })),
            ...(graphs.workers === undefined
              ? {}
              : { fanOutWorkers: graphs.workers.map((r) => ({ workers: r.workers, seconds: round(r.seconds.median), bound: r.bound, ratio: round(r.ratio) })) }),
            listStepMs: round(graphs.listStepMs.median),
            graphStepMs: round(graphs.graphStepMs.median),
            overheadRatio: round(graphs.overheadRatio),
          },
        }),
    ...(ui === undefined ? {} : { ui: { flowsListMs: round(ui.flowsListMedianMs), flowsPageMs: round(ui.flowsPageMedianMs), flowPageMs: round(ui.flowPageMedianMs) } }),
    ...(t === undefined
      ? {}
      : {
          commitLimit: { c1: round(t.commitC1.median), c8: round(t.commitC8.median) },
          chemflow: {
            pg: { seq: round(t.chemflowSeq.median), c8: round(t.chemflowC8.median) },
            pglite: { seq: round(t.pgliteSeq.median) },
            withFailures: { seq: round(t.chemflowFailuresSeq.median) },
          },
          dbos: { seq: round(t.dbosSeq.median), c8: round(t.dbosC8.median) },
          ratios: { vsDbosSeq: round(t.ratios.vsDbosSeq), vsCommitSeq: round(t.ratios.vsCommitSeq), vsCommitC8: round(t.ratios.vsCommitC8) },
        }),
    ...(replay === undefined ? {} : { replay: { memoryEventsPerS: round(replay.memory.median), pgEventsPerS: round(replay.postgres.median) } }),
    ...(errorTimeline === undefined ? {} : { errorTimelineMedianMs: round(errorTimeline.medianMs) }),
    ...(queue === undefined ? {} : { queue: summariseQueue(queue) }),
    ...(prequeue === undefined
      ? {}
      : {
          prequeue: {
            commit: prequeue.commit,
            commitC1: round(prequeue.commitC1.median),
            rows: prequeue.rows.map(prequeueRowSummary),
            withHistory: {
              flows: prequeue.withHistory.flows,
              commitC1: round(prequeue.withHistory.commitC1.median),
              rows: prequeue.withHistory.rows.map(prequeueRowSummary),
            },
            anatomy: {
              flows: prequeue.anatomy.flows,
              rounds: prequeue.anatomy.rounds,
              now: anatomySideSummary(prequeue.anatomy.now),
              before: anatomySideSummary(prequeue.anatomy.before),
              ratios: {
                msPerFlow: round(prequeue.anatomy.ratios.msPerFlow),
                statementMsPerFlow: round(prequeue.anatomy.ratios.statementMsPerFlow),
                cpuUsPerStep: round(prequeue.anatomy.ratios.cpuUsPerStep),
                walBytesPerFlow: round(prequeue.anatomy.ratios.walBytesPerFlow),
              },
            },
          },
        }),
    ...(c === undefined
      ? {}
      : {
          cacheLookup: {
            entries: c.entries,
            lookups: c.lookups,
            loadSeconds: round(c.loadSeconds),
            lookupMs: cacheComparisonSummary(c.lookup),
            findMs: cacheComparisonSummary(c.find),
            plan: c.plan,
          },
        }),
    ...(shards === undefined ? {} : { shards: summariseShards(shards) }),
    ...(native === undefined ? {} : { native: summariseNative(native) }),
    ...(commands === undefined ? {} : { commands: summariseCommands(commands) }),
  };
}

function summariseCommands(r: CommandsResult): CommandsSummary {
  return {
    steps: r.steps,
    jsStepMs: round(r.jsStepMs.median),
    commandStepMs: round(r.commandStepMs.median),
    ratio: round(r.ratio),
    overheadMs: round(r.overheadMs),
    files: r.files,
    stagingStepSeconds: round(r.stagingStepSeconds.median),
    filesPerSecond: round(r.filesPerSecond),
    stagingFilesPerSecond: round(r.stagingFilesPerSecond),
  };
}

const rssList = (list: readonly PeakRss[]): number[] => list.map((p) => p.peakRssMb);
const roundAll = (costs: Record<string, number>): Record<string, number> => Object.fromEntries(Object.entries(costs).map(([k, v]) => [k, round(v)]));

function summariseNative(r: NativeResult): NativeSummary {
  return {
    rdkitNative: r.rdkitNative,
    cores: r.cores,
    libraries: r.libraries.map((l) => ({
      molecules: l.molecules,
      nativeSeconds: { procs1: round(l.native1.median), procsN: round(l.native.median) },
      chemflowSeconds: l.chemflow === null ? null : round(l.chemflow.median),
      ratio: l.ratio === null ? null : round(l.ratio),
      nativeStep: {
        seconds: round(l.chemflowNative.median),
        ratio: round(l.nativeStepRatio),
        cpuSeconds: round(l.cpu.chemflowNative.median),
        cpuRatio: round(l.nativeStepCpuRatio),
        peakRssMb: rssList(l.peakRss.chemflowNative),
        differences: l.nativeStepDifferences,
      },
      cpuSeconds: { native1: round(l.cpu.native1.median), native: round(l.cpu.native.median), chemflow: l.cpu.chemflow === null ? null : round(l.cpu.chemflow.median) },
      cpuRatio: l.cpuRatio === null ? null : round(l.cpuRatio),
      peakRssMb: { native1: rssList(l.peakRss.native1), native: rssList(l.peakRss.native), chemflow: l.peakRss.chemflow === null ? null : rssList(l.peakRss.chemflow) },
      compared: l.compared,
      differences: l.differences,
      flowFingerprints: l.flowFingerprints,
    })),
    opsUs: { native: roundAll(r.ops.native), wasm: roundAll(r.ops.wasm) },
    ok: r.ok,
  };
}

const prequeueRowSummary = (r: PrequeueRow): PrequeueRowSummary => ({
  workers: r.workers,
  now: round(r.now.median),
  before: round(r.before.median),
  vsBefore: round(r.vsBefore),
  nowVsCommitC1: round(r.nowVsCommitC1),
  beforeVsCommitC1: round(r.beforeVsCommitC1),
});

const anatomySideSummary = (a: AnatomySide): AnatomySideSummary => ({
  msPerFlow: round(a.msPerFlow.median),
  statementMsPerFlow: round(a.statementMsPerFlow.median),
  cpuUsPerStep: round(a.cpuUsPerStep.median),
  walBytesPerFlow: round(a.walBytesPerFlow.median),
  statements: a.statements.map((c) => ({ kind: c.kind, perFlow: round(c.perFlow), medianUs: round(c.medianUs), msPerFlow: round(c.msPerFlow) })),
});

const shardTimesSummary = (t: ShardTimes): ShardTimesSummary => ({
  workers: t.workers,
  shardSize: t.shardSize,
  shards: t.shards,
  flowSeconds: round(t.flowSeconds.median),
  stepSeconds: round(t.stepSeconds.median),
  cpuSeconds: round(t.cpuSeconds.median),
  shardsAtOnce: t.shardsAtOnce,
  shardSeconds: round(t.shardSeconds.median),
});

function summariseShards(r: ShardsResult): ShardsSummary {
  return {
    molecules: r.molecules,
    rounds: r.rounds,
    workers: {
      one: shardTimesSummary(r.workers.one),
      two: shardTimesSummary(r.workers.two),
      speedup: { flow: round(r.workers.speedup.flow), step: round(r.workers.speedup.step) },
      cpuVsOne: round(r.workers.cpuVsOne),
    },
    sizes: r.sizes.map((s) => ({
      ...shardTimesSummary(s.times),
      vsOneShard: { flow: round(s.vsOneShard.flow), step: round(s.vsOneShard.step), cpu: round(s.vsOneShard.cpu) },
    })),
    sameFingerprint: r.sameFingerprint,
    failures: r.failures,
  };
}

const latencySummary = (l: Latency): LatencySummary => ({ median: round(l.medianMs), p95: round(l.p95Ms) });
const comparisonSummary = (c: Comparison): ComparisonSummary => ({
  empty: latencySummary(c.empty),
  history: latencySummary(c.history),
  ratio: round(c.ratio),
});

const cacheComparisonSummary = (c: CacheComparison): CacheComparisonSummary => ({
  empty: latencySummary(c.empty),
  loaded: latencySummary(c.loaded),
  ratio: round(c.ratio),
});

function summariseQueue(q: QueueResult): QueueSummary {
  return {
    historyFlows: q.history.flows,
    loadSeconds: { events: round(q.history.eventsSeconds), rebuild: round(q.history.rebuildSeconds), analyze: round(q.history.analyzeSeconds) },
    idleLookMs: comparisonSummary(q.idleLook),
    idleLookServerMs: comparisonSummary(q.idleLookServer),
    submitToStartMs: comparisonSummary(q.submitToStart),
    openListingMs: comparisonSummary(q.openListing),
    plans: q.plans.history,
    workers: {
      commitC1: round(q.workers.commitC1.median),
      chemflowSeq: round(q.workers.chemflowSeq.median),
      rows: q.workers.rows.map((r) => ({
        workers: r.workers,
        stepsPerS: round(r.stepsPerS.median),
        vsChemflowSeq: round(r.vsChemflowSeq),
        vsCommitC1: round(r.vsCommitC1),
        vsOneWorker: round(r.vsOneWorker),
      })),
    },
  };
}

/** bench/results.json: the summary, and beside it every run, the noise and the context. */
export function resultsDocument(run: BenchRun, context: RunContext): object {
  return { ...summarise(run), details: { context, ...run } };
}

export interface Target {
  name: string;
  value: number;
  goal: number;
  /** How the value and goal are shown. */
  unit: '×' | 'events/s' | 'ms' | 'yes/no';
  met: boolean;
}

/** Sequential chemflow / commit limit (1 connection) before the flow queue: the lower of the two full runs in BENCHMARKS.md. */
export const SEQ_VS_COMMIT_BEFORE_QUEUE = 0.436;

export function targets({ throughput: t, replay, errorTimeline, queue: q, prequeue: p, cacheLookup: c, shards, native, ui, graphs }: BenchRun): Target[] {
  const atLeast = (name: string, value: number, goal: number, unit: Target['unit']): Target => ({ name, value, goal, unit, met: value >= goal });
  const atMost = (name: string, value: number, goal: number, unit: Target['unit']): Target => ({ name, value, goal, unit, met: value <= goal });
  const one = q?.workers.rows.find((r) => r.workers === 1);
  return [
    ...(t === undefined
      ? []
      : [
          atLeast('sequential chemflow ≥ 4 × DBOS', t.ratios.vsDbosSeq, 4, '×'),
          atLeast('sequential chemflow ≥ 0.8 × commit limit (1 connection)', t.ratios.vsCommitSeq, 0.8, '×'),
          atLeast('8 concurrent flows ≥ 0.8 × commit limit (8 connections)', t.ratios.vsCommitC8, 0.8, '×'),
        ]),
    ...(replay === undefined
      ? []
      : [
          atLeast('replay from memory ≥ 1,000,000 events/s', replay.memory.median, 1_000_000, 'events/s'),
          atLeast('replay from PostgreSQL ≥ 200,000 events/s', replay.postgres.median, 200_000, 'events/s'),
        ]),
    ...(errorTimeline === undefined
      ? []
      : [atMost('error timeline < 2 ms median on 1,000,000 rows', errorTimeline.medianMs, 2, 'ms')]),
    ...(graphs === undefined ? [] : [atMost(`graphs: per step, ${graphs.nodes} steps as a graph ≤ 1.2 × as a list`, graphs.overheadRatio, 1.2, '×')]),
    ...(ui === undefined
      ? []
      : [
          atMost(`ui: first flows page (GET /api/flows) < 200 ms with ${number(ui.flows)} flows`, ui.flowsListMedianMs, 200, 'ms'),
          atMost(
            `ui: first flows page of the slowest filter < 200 ms with ${number(ui.flows)} flows`,
            Math.max(...Object.values(ui.filteredMedianMs ?? { none: 0 })),
            200,
            'ms',
          ),
        ]),
    ...(q === undefined
      ? []
      : [
          atMost(`idle look with ${number(q.history.flows)} finished flows ≤ 1.5 × with none`, q.idleLook.ratio, 1.5, '×'),
          atMost(`submit-to-start with ${number(q.history.flows)} finished flows ≤ 1.5 × with none`, q.submitToStart.ratio, 1.5, '×'),
          atMost('submit-to-start median < 1,000 ms (woken by NOTIFY)', q.submitToStart.history.medianMs, 1_000, 'ms'),
          { name: 'claim and next-wake plans: index scans only', value: q.plans.history.seqScan ? 0 : 1, goal: 1, unit: 'yes/no' as const, met: !q.plans.history.seqScan },
          ...(one === undefined
            ? []
            : [atLeast(`1 FlowWorker ≥ ${SEQ_VS_COMMIT_BEFORE_QUEUE} × commit limit (sequential chemflow before the queue)`, one.vsCommitC1, SEQ_VS_COMMIT_BEFORE_QUEUE, '×')]),
        ]),
    // The queue is to cost no throughput against the engine before it.
    ...(p === undefined
      ? []
      : [
          ...p.rows
            .filter((r) => r.workers > 0)
            .map((r) => atLeast(`${r.workers} FlowWorker${r.workers === 1 ? '' : 's'} ≥ 1 × the same before the queue (same run, no history)`, r.vsBefore, 1, '×')),
          ...p.withHistory.rows.map((r) =>
            atLeast(
              `${r.workers} FlowWorker${r.workers === 1 ? '' : 's'} ≥ 1 × the same before the queue (${number(p.withHistory.flows)} finished flows)`,
              r.vsBefore,
              1,
              '×',
            ),
          ),
        ]),
    ...(c === undefined
      ? []
      : [
          atMost(`step cache lookup with ${number(c.entries)} entries ≤ 1.5 × with none`, c.lookup.ratio, 1.5, '×'),
          { name: 'step cache lookup plan: one index scan', value: isIndexLookup(c.plan) ? 1 : 0, goal: 1, unit: 'yes/no' as const, met: isIndexLookup(c.plan) },
        ]),
    // No speed goal for shards: the contract is that sharding never changes a result.
    ...(shards === undefined
      ? []
      : [
          {
            name: 'sharded runs: one flow fingerprint for every shard size and worker count',
            value: shards.sameFingerprint ? 1 : 0,
            goal: 1,
            unit: 'yes/no' as const,
            met: shards.sameFingerprint,
          },
        ]),
    ...(native === undefined
      ? []
      : [
          { name: 'chemflow and native RDKit: every SMILES and descriptor equal', value: native.ok ? 1 : 0, goal: 1, unit: 'yes/no' as const, met: native.ok },
          ...native.libraries.flatMap((l) =>
            l.ratio === null ? [] : [atMost(`the example's WebAssembly flow ≤ 1.5 × native RDKit, ${number(l.molecules)} molecules, ${native.cores} cores`, l.ratio, 1.5, '×')],
          ),
          // The same chemistry as the script, run by chemflow as a flow (native RDKit in command steps).
          ...native.libraries.map((l) =>
            atMost(`chemflow running the script's chemistry ≤ 1.5 × native RDKit, ${number(l.molecules)} molecules`, l.nativeStepRatio, 1.5, '×'),
          ),
        ]),
  ];
}

/** The lookup reads step_cache through its primary key and nothing else. */
const isIndexLookup = (plan: readonly string[]): boolean => plan.length === 1 && /^Index (Only )?Scan using \S+ on step_cache$/.test(plan[0] ?? '');

const number = (value: number): string => round(value).toLocaleString('en-US');
const noise = (s: Sample): string => `±${Math.round((s.spread * 100) / 2)}%`;

function table(rows: string[][], right: readonly boolean[]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((row) => (row[c] ?? '').length))) ?? [];
  return rows
    .map((row) => row.map((cell, c) => (right[c] ? cell.padStart(widths[c] ?? 0) : cell.padEnd(widths[c] ?? 0))).join('  ').trimEnd())
    .join('\n');
}

export function renderTable(run: BenchRun, context: RunContext): string {
  const m = context.machine;
  const header = [
    `chemflow benchmarks (${context.mode}): ${context.rounds} interleaved rounds of ${context.sampleMs / 1000} s per measurement, medians; ` +
      `noise = half the run-to-run spread (max − min) / median`,
    `machine: ${m.cpus} × ${m.cpuModel}, Node ${m.node}, load average ${m.loadAverageBefore.toFixed(1)} → ${m.loadAverageAfter.toFixed(1)}; ` +
      `PostgreSQL ${context.server.server_version ?? '?'} (fsync ${context.server.fsync ?? '?'}, synchronous_commit ${context.server.synchronous_commit ?? '?'})`,
  ].join('\n');
  const goals = table(
    [
      ['target', 'value', 'met'],
      ...targets(run).map((g) => [g.name, targetValue(g), g.met ? 'yes' : 'NO']),
    ],
    [false, true, false],
  );
  const sections = [
    run.throughput === undefined ? null : throughputTable(run.throughput),
    run.replay === undefined ? null : replayTable(run.replay),
    run.errorTimeline === undefined ? null : auditLine(run.errorTimeline),
    run.queue === undefined ? null : queueTables(run.queue),
    run.prequeue === undefined ? null : prequeueTable(run.prequeue),
    run.cacheLookup === undefined ? null : cacheTable(run.cacheLookup),
    run.shards === undefined ? null : shardsTable(run.shards),
    run.native === undefined ? null : nativeTable(run.native),
    run.commands === undefined ? null : commandsTable(run.commands),
    run.graphs === undefined ? null : graphsLine(run.graphs),
    run.ui === undefined ? null : uiLine(run.ui),
  ];
  return [header, ...sections.filter((s) => s !== null), goals].join('\n\n') + '\n';
}

function targetValue(g: Target): string {
  if (g.unit === '×' && !Number.isFinite(g.value)) return 'no step before';
  if (g.unit === '×') return `${round(g.value)} ×`;
  if (g.unit === 'yes/no') return g.value === 1 ? 'yes' : 'no';
  return `${number(g.value)} ${g.unit}`;
}

const row = (label: string, s: Sample, unit: string, note = ''): string[] => [label, number(s.median), unit, noise(s), note];
const ratio = (value: number, of: string): string => `${round(value)} × ${of}`;

function throughputTable(t: ThroughputResult): string {
  return table(
    [
      ['10-step no-op flows, PostgreSQL server', 'median', 'unit', 'noise', 'ratio (median of per-round ratios)'],
      row('commit limit, 1 connection', t.commitC1, 'commits/s'),
      row('commit limit, 8 connections', t.commitC8, 'commits/s'),
      row('chemflow, sequential', t.chemflowSeq, 'steps/s', `${ratio(t.ratios.vsCommitSeq, 'commit limit')}; ${ratio(t.ratios.vsDbosSeq, 'DBOS')}`),
      row("chemflow's SQL alone, sequential", t.sqlFloorSeq, 'steps/s', `${ratio(t.ratios.floorVsCommitSeq, 'commit limit')}; chemflow = ${ratio(t.ratios.vsFloorSeq, 'this')}`),
      row('chemflow, 8 concurrent', t.chemflowC8, 'steps/s', `${ratio(t.ratios.vsCommitC8, 'commit limit')}; ${ratio(t.ratios.vsDbosC8, 'DBOS')}`),
      row('chemflow, every step fails once', t.chemflowFailuresSeq, 'steps/s', `${round(t.costPerFailureMs)} ms per failure`),
      row('chemflow on PGlite (file), sequential', t.pgliteSeq, 'steps/s'),
      row('DBOS Transact, sequential', t.dbosSeq, 'steps/s'),
      row('DBOS Transact, 8 concurrent', t.dbosC8, 'steps/s'),
    ],
    [false, true, false, true, false],
  );
}

function replayTable(replay: ReplayResult): string {
  return table(
    [
      [`replay of a ${number(replay.events)}-event flow`, 'median', 'unit', 'noise'],
      ['from the memory store (engine.load)', number(replay.memory.median), 'events/s', noise(replay.memory)],
      ['from PostgreSQL (engine.load)', number(replay.postgres.median), 'events/s', noise(replay.postgres)],
      ['the reducer alone (events already decoded)', number(replay.foldOnly.median), 'events/s', noise(replay.foldOnly)],
    ],
    [false, true, false, true],
  );
}

function graphsLine(g: GraphsResult): string {
  const fan = g.fanOut.map((r) => `--concurrency ${r.concurrency} ${round(r.seconds.median)} s (bound ${r.bound} s, ${round(r.ratio)} ×)`).join(', ');
  const workers =
    g.workers === undefined
      ? ''
      : `; on PostgreSQL with worker processes: ${g.workers.map((r) => `${r.workers} worker(s) ${round(r.seconds.median)} s (bound ${r.bound} s, ${round(r.ratio)} ×)`).join(', ')}`;
  return (
    `graphs (one process, PGlite in memory): a fan-out of ${g.branches} branches of ${g.branchMs} ms: ${fan}${workers}; ` +
    `${g.nodes} steps, per step: as a list ${round(g.listStepMs.median)} ms, as a graph ${round(g.graphStepMs.median)} ms (${round(g.overheadRatio)} ×, median of ${g.rounds} paired rounds)`
  );
}

function uiLine(u: UiBenchResult): string {
  return (
    `web dashboard (chemflow ui, HTTP on loopback, medians of ${u.requests}): flows list ${round(u.flowsListMedianMs)} ms (p95 ${round(u.flowsListP95Ms)}), ` +
    `first flows page with its 50 status documents ${round(u.flowsPageMedianMs)} ms, with ${number(u.flows)} flows; ` +
    `flow page of a 10,000-event flow (status, events, errors) ${round(u.flowPageMedianMs)} ms (p95 ${round(u.flowPageP95Ms)}); ` +
    `first page filtered: ${Object.entries(u.filteredMedianMs).map(([name, ms]) => `${name} ${round(ms)} ms`).join(', ')}; bulk load ${round(u.loadSeconds)} s`
  );
}

function auditLine(e: ErrorTimelineResult): string {
  return (
    `error timeline on ${number(e.rows)} rows: median ${round(e.medianMs)} ms, p95 ${round(e.p95Ms)} ms ` +
    `(${e.queries} getErrorTimeline calls; bulk load ${round(e.loadSeconds)} s)`
  );
}

function queueTables(q: QueueResult): string {
  const h = q.history;
  const ms = (l: Latency): string[] => [`${round(l.medianMs)} ms`, `${round(l.p95Ms)} ms`];
  const idle = table(
    [
      [`flow queue, PostgreSQL server: no flows vs ${number(h.flows)} finished`, 'median', 'p95', `median, ${number(h.flows)}`, 'p95', 'ratio'],
      ['idle look (claimWork finding nothing + nextWakeAt)', ...ms(q.idleLook.empty), ...ms(q.idleLook.history), `${round(q.idleLook.ratio)} ×`],
      ['  the same, server time (EXPLAIN ANALYZE planning + execution)', ...ms(q.idleLookServer.empty), ...ms(q.idleLookServer.history), `${round(q.idleLookServer.ratio)} ×`],
      ['submit-to-start (startFlow → first step runs in an idle worker)', ...ms(q.submitToStart.empty), ...ms(q.submitToStart.history), `${round(q.submitToStart.ratio)} ×`],
      ['listing of open flows (listFlows, as worker --once when idle)', ...ms(q.openListing.empty), ...ms(q.openListing.history), `${round(q.openListing.ratio)} ×`],
    ],
    [false, true, true, true, true, true],
  );
  const notes = [
    `bulk load of ${number(h.flows)} finished flows (${number(h.events)} events): INSERT ... SELECT ${round(h.eventsSeconds)} s, ` +
      `chemflow_rebuild_flow_queue() ${round(h.rebuildSeconds)} s, ANALYZE ${round(h.analyzeSeconds)} s`,
    `plans with ${number(h.flows)} finished flows: claim ${q.plans.history.claim.join(', ') || '(no scan)'}; ` +
      `shard claim ${q.plans.history.claimShards.join(', ') || '(no scan)'}; ` +
      `next wake ${q.plans.history.nextWake.join(', ') || '(no scan)'}${q.plans.history.seqScan ? ' — SEQUENTIAL SCAN' : ''}; ` +
      `open listing ${q.plans.history.listOpen.join(', ') || '(no scan)'}`,
  ];
  const w = q.workers;
  const workers = table(
    [
      ['FlowWorkers on 10-step no-op flows (one process)', 'median', 'unit', 'noise', 'ratio (median of per-round ratios)'],
      row('commit limit, 1 connection', w.commitC1, 'commits/s'),
      row('chemflow, sequential (start leased + runToEnd)', w.chemflowSeq, 'steps/s'),
      ...w.rows.map((r) =>
        row(
          `${r.workers} FlowWorker${r.workers === 1 ? '' : 's'}, own pool each`,
          r.stepsPerS,
          'steps/s',
          `${ratio(r.vsChemflowSeq, 'sequential')}; ${ratio(r.vsCommitC1, 'commit limit')}; ${ratio(r.vsOneWorker, '1 worker')}`,
        ),
      ),
    ],
    [false, true, false, true, false],
  );
  const caveats = [
    ...(w.failedAttempts > 0 ? [`${w.failedAttempts} attempt(s) failed during the worker samples`] : []),
    ...(w.drySamples > 0 ? [`the queue ran dry in ${w.drySamples} worker sample(s): those rates are too low`] : []),
  ];
  return [idle, notes.join('\n'), [workers, ...caveats].join('\n')].join('\n\n');
}

function prequeueTable(p: PrequeueResult): string {
  const label = (n: number): string => (n === 0 ? 'engine, one flow at a time' : `${n} FlowWorker${n === 1 ? '' : 's'}, own pool each`);
  const rowsOf = (commitC1: Sample, rows: readonly PrequeueRow[]): string[][] => [
    row('commit limit, 1 connection', commitC1, 'commits/s'),
    ...rows.flatMap((r) => [
      row(
        `${label(r.workers)}, today`,
        r.now,
        'steps/s',
        // The old workers can spend a whole sample listing flows: no step, no finite ratio.
        `${Number.isFinite(r.vsBefore) ? ratio(r.vsBefore, 'before the queue') : 'before the queue: no step in a sample'}; ${ratio(r.nowVsCommitC1, 'commit limit')}`,
      ),
      row(`${label(r.workers)}, before the queue`, r.before, 'steps/s', ratio(r.beforeVsCommitC1, 'commit limit')),
    ]),
  ];
  const head = (what: string): string[] => [what, 'median', 'unit', 'noise', 'ratio (median of per-round ratios)'];
  const right = [false, true, false, true, false];
  return [
    table([head(`today vs before the flow queue (${p.commit.slice(0, 7)}), 10-step no-op flows, no history`), ...rowsOf(p.commitC1, p.rows)], right),
    table([head(`the same workers with ${number(p.withHistory.flows)} finished flows in the log`), ...rowsOf(p.withHistory.commitC1, p.withHistory.rows)], right),
    anatomyTable(p.anatomy),
    `each version in schemas of its own; flows submitted beforehand for the workers (untimed; the old workers' schema got ${number(p.flowsInLog.workers)}); ` +
      `the old worker lists every flow on each pass, today's claims from an index over open flows` +
      `${p.failedAttempts > 0 ? `; ${p.failedAttempts} attempt(s) failed during worker samples` : ''}` +
      `${p.drySamples > 0 ? `; ran dry in ${p.drySamples} worker sample(s): those rates are too low` : ''}`,
  ].join('\n');
}

function anatomyTable(a: WorkerAnatomy): string {
  const side = (name: string, s: AnatomySide): string[][] => [
    row(`${name}: wall time per flow`, s.msPerFlow, 'ms'),
    row(`${name}: in statements (call to answer)`, s.statementMsPerFlow, 'ms'),
    ...s.statements.map((c) => [`${name}: ${c.kind}`, `${round(c.msPerFlow)}`, 'ms', '', `${round(c.perFlow)} per flow, median ${number(round(c.medianUs))} µs`]),
    row(`${name}: CPU of the worker's process per step`, s.cpuUsPerStep, 'µs'),
    row(`${name}: WAL per flow`, s.walBytesPerFlow, 'bytes'),
  ];
  return [
    table(
      [
        [`a one-slot worker's flow, ${number(a.flows)} flows a round, ${a.rounds} rounds`, 'median', 'unit', 'noise', 'detail'],
        ...side('today', a.now),
        ...side('before the queue', a.before),
      ],
      [false, true, false, true, false],
    ),
    `today / before the queue (medians of per-round ratios): wall time ${round(a.ratios.msPerFlow)} ×, statements ${round(a.ratios.statementMsPerFlow)} ×, ` +
      `CPU ${round(a.ratios.cpuUsPerStep)} ×, WAL ${round(a.ratios.walBytesPerFlow)} ×`,
  ].join('\n');
}

function commandsTable(r: CommandsResult): string {
  const rows = table(
    [
      [`command steps, PostgreSQL server + blob directory: flows of ${r.steps} steps`, 'median', 'unit', 'noise', 'ratio (median of per-round ratios)'],
      row('JavaScript step (no-op)', r.jsStepMs, 'ms/step'),
      row('command step (`true`)', r.commandStepMs, 'ms/step', `${ratio(r.ratio, 'JavaScript step')}; +${round(r.overheadMs)} ms per step`),
      row(`one command step staging ${number(r.files)} files of 1 KiB`, r.stagingStepSeconds, 's', `${number(round(r.filesPerSecond))} files/s; staging alone ${number(round(r.stagingFilesPerSecond))} files/s`),
    ],
    [false, true, false, true, false],
  );
  return [
    rows,
    `${r.rounds} interleaved rounds; a command step's time covers its attempt directory, the process group, stdout and stderr stored as log blobs and the directory's removal; ` +
      `staging alone = the staging step less the median \`true\` step`,
  ].join('\n');
}

function cacheTable(c: CacheLookupResult): string {
  const ms = (l: Latency): string[] => [`${round(l.medianMs)} ms`, `${round(l.p95Ms)} ms`];
  const rows = table(
    [
      [`step cache, PostgreSQL server: ${number(c.lookups)} entries vs ${number(c.entries)} more`, 'median', 'p95', `median, ${number(c.entries)}`, 'p95', 'ratio'],
      ['lookup (lookupCache: one primary-key query)', ...ms(c.lookup.empty), ...ms(c.lookup.loaded), `${round(c.lookup.ratio)} ×`],
      ['lookup + artifacts read and verified (findCached)', ...ms(c.find.empty), ...ms(c.find.loaded), `${round(c.find.ratio)} ×`],
    ],
    [false, true, true, true, true, true],
  );
  return [
    rows,
    `${number(c.lookups)} lookups per schema and row in ${c.rounds} interleaved rounds; bulk load of ${number(c.entries)} finished steps ` +
      `(event_log + step_cache, INSERT ... SELECT generate_series, ANALYZE) ${round(c.loadSeconds)} s; plan: ${c.plan.join(', ') || '(no scan)'}`,
  ].join('\n');
}

function shardsTable(r: ShardsResult): string {
  const seconds = (x: Sample): string[] => [`${round(x.median)} s`, noise(x)];
  const times = (label: string, t: ShardTimes, note: string): string[] => [
    `${label} (${number(t.shards)} shard${t.shards === 1 ? '' : 's'}, ≤ ${t.shardsAtOnce} at once)`,
    ...seconds(t.flowSeconds),
    ...seconds(t.stepSeconds),
    ...seconds(t.cpuSeconds),
    `${round(t.shardSeconds.median)} s`,
    note,
  ];
  const { one, two, speedup, cpuVsOne } = r.workers;
  const rows = table(
    [
      [`sharded map steps: ${number(r.molecules)} molecules, PostgreSQL`, 'flow', 'noise', 'mapped step', 'noise', 'workers CPU', 'noise', 'one shard', 'ratio (median of per-round ratios)'],
      times(`1 worker process, shardSize ${number(one.shardSize)}`, one, ''),
      times(
        `2 worker processes, shardSize ${number(two.shardSize)}`,
        two,
        `speedup (time of 1 / time of 2): flow ${round(speedup.flow)} ×, step ${round(speedup.step)} ×; CPU ${round(cpuVsOne)} × 1 worker's`,
      ),
      ...r.sizes.map((s) =>
        times(
          `1 worker process, shardSize ${number(s.times.shardSize)}`,
          s.times,
          `vs one shard: flow ${round(s.vsOneShard.flow)} ×, step ${round(s.vsOneShard.step)} ×, CPU ${round(s.vsOneShard.cpu)} ×`,
        ),
      ),
    ],
    [false, true, true, true, true, true, true, true, false],
  );
  return [
    rows,
    `read-smiles → descriptors (mapped) → lipinski-filter, a fresh schema per run, \`chemflow worker\` processes of the built CLI; ` +
      `${r.rounds} interleaved round(s); wall seconds from the flow's events (FlowInitialized → FlowCompleted; the mapped step's start → merged finish); ` +
      `CPU: user + system seconds of the worker processes until the flow ended, startup included; one shard: mean start → finish` +
      `${r.failures > 0 ? `; ${r.failures} failed attempt(s): those runs are slower than they should be` : ''}`,
  ].join('\n');
}

function nativeTable(r: NativeResult): string {
  const seconds = (x: Sample): string[] => [`${round(x.median)} s`, noise(x)];
  const rss = (list: readonly PeakRss[]): string => list.map((p) => `${p.command} ${number(p.peakRssMb)}`).join(', ');
  const rows = table(
    [
      [`chemflow vs native RDKit ${r.rdkitNative} (${r.python}), ${r.cores} cores`, 'wall', 'noise', 'CPU', 'peak RSS (MB) per process'],
      ...r.libraries.flatMap((l) => [
        [`${number(l.molecules)} molecules: native, 1 process`, ...seconds(l.native1), `${round(l.cpu.native1.median)} s`, rss(l.peakRss.native1)],
        [`${number(l.molecules)} molecules: native, ${r.cores} processes`, ...seconds(l.native), `${round(l.cpu.native.median)} s`, rss(l.peakRss.native)],
        ...(l.chemflow === null || l.cpu.chemflow === null || l.peakRss.chemflow === null
          ? []
          : [
              [
                `${number(l.molecules)} molecules: chemflow run, --concurrency ${r.cores} (wall ${round(l.ratio ?? 0)} ×, CPU ${round(l.cpuRatio ?? 0)} × native)`,
                ...seconds(l.chemflow),
                `${round(l.cpu.chemflow.median)} s`,
                rss(l.peakRss.chemflow),
              ],
            ]),
        [
          `${number(l.molecules)} molecules: chemflow run, descriptors by screen.py in ${r.cores} command shards (wall ${round(l.nativeStepRatio)} ×, CPU ${round(l.nativeStepCpuRatio)} × native)`,
          ...seconds(l.chemflowNative),
          `${round(l.cpu.chemflowNative.median)} s`,
          rss(l.peakRss.chemflowNative),
        ],
      ]),
    ],
    [false, true, true, true, false],
  );
  const ops = Object.keys(r.ops.wasm)
    .map((k) => `${k} ${round(r.ops.wasm[k] ?? 0)}`)
    .join(', ');
  const nativeOps = Object.keys(r.ops.native)
    .map((k) => `${k} ${round(r.ops.native[k] ?? 0)}`)
    .join(', ');
  return [
    rows,
    ...r.libraries.map(
      (l) =>
        `${number(l.molecules)} molecules: ${l.compared === null ? "the example's flow not run" : `${number(l.compared)} rows compared`}, ${l.differences === 0 ? 'every canonical SMILES and descriptor equal' : `${number(l.differences)} DIFFERENCE(S): ${l.firstDifferences.slice(0, 5).join('; ')}`}; ` +
        `native command step: ${l.nativeStepDifferences === 0 ? 'equal to the plain script' : `${number(l.nativeStepDifferences)} DIFFERENCE(S): ${l.firstNativeStepDifferences.slice(0, 5).join('; ')}`}; ` +
        (l.chemflow === null ? '' : `flow fingerprint ${l.flowFingerprints.length === 1 ? l.flowFingerprints[0] : `DIFFERS BETWEEN ROUNDS: ${l.flowFingerprints.join(', ')}`}`),
    ),
    `µs per molecule on ${number(r.ops.molecules)} molecules, native: ${nativeOps}`,
    `µs per molecule, WebAssembly (MinimalLib): ${ops}`,
  ].join('\n');
}
