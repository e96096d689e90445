// The two outputs of a run: the JSON document (the contract, field for field) and the table.
import type { ErrorTimelineResult } from './error-timeline.js';
import type { ReplayResult } from './replay.js';
import { round, type Sample } from './stats.js';
import type { ThroughputResult } from './throughput.js';

/** The `--json` document: steps per second unless named otherwise. */
export interface BenchSummary {
  commitLimit: { c1: number; c8: number };
  chemflow: { pg: { seq: number; c8: number }; pglite: { seq: number }; withFailures: { seq: number } };
  dbos: { seq: number; c8: number };
  ratios: { vsDbosSeq: number; vsCommitSeq: number; vsCommitC8: number };
  replay: { memoryEventsPerS: number; pgEventsPerS: number };
  errorTimelineMedianMs: number;
}

export interface BenchRun {
  throughput: ThroughputResult;
  replay: ReplayResult;
  errorTimeline: ErrorTimelineResult;
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

export function summarise({ throughput: t, replay, errorTimeline }: BenchRun): BenchSummary {
  return {
    commitLimit: { c1: round(t.commitC1.median), c8: round(t.commitC8.median) },
    chemflow: {
      pg: { seq: round(t.chemflowSeq.median), c8: round(t.chemflowC8.median) },
      pglite: { seq: round(t.pgliteSeq.median) },
      withFailures: { seq: round(t.chemflowFailuresSeq.median) },
    },
    dbos: { seq: round(t.dbosSeq.median), c8: round(t.dbosC8.median) },
    ratios: { vsDbosSeq: round(t.ratios.vsDbosSeq), vsCommitSeq: round(t.ratios.vsCommitSeq), vsCommitC8: round(t.ratios.vsCommitC8) },
    replay: { memoryEventsPerS: round(replay.memory.median), pgEventsPerS: round(replay.postgres.median) },
    errorTimelineMedianMs: round(errorTimeline.medianMs),
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
  unit: '×' | 'events/s' | 'ms';
  met: boolean;
}

export function targets({ throughput: t, replay, errorTimeline }: BenchRun): Target[] {
  const atLeast = (name: string, value: number, goal: number, unit: Target['unit']): Target => ({ name, value, goal, unit, met: value >= goal });
  return [
    atLeast('sequential chemflow ≥ 4 × DBOS', t.ratios.vsDbosSeq, 4, '×'),
    atLeast('sequential chemflow ≥ 0.8 × commit limit (1 connection)', t.ratios.vsCommitSeq, 0.8, '×'),
    atLeast('8 concurrent flows ≥ 0.8 × commit limit (8 connections)', t.ratios.vsCommitC8, 0.8, '×'),
    atLeast('replay from memory ≥ 1,000,000 events/s', replay.memory.median, 1_000_000, 'events/s'),
    atLeast('replay from PostgreSQL ≥ 200,000 events/s', replay.postgres.median, 200_000, 'events/s'),
    { name: 'error timeline < 2 ms median on 1,000,000 rows', value: errorTimeline.medianMs, goal: 2, unit: 'ms', met: errorTimeline.medianMs < 2 },
  ];
}

const number = (value: number): string => round(value).toLocaleString('en-US');
const noise = (s: Sample): string => `±${Math.round((s.spread * 100) / 2)}%`;

function table(rows: string[][], right: readonly boolean[]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((row) => (row[c] ?? '').length))) ?? [];
  return rows
    .map((row) => row.map((cell, c) => (right[c] ? cell.padStart(widths[c] ?? 0) : cell.padEnd(widths[c] ?? 0))).join('  ').trimEnd())
    .join('\n');
}

export function renderTable(run: BenchRun, context: RunContext): string {
  const { throughput: t, replay, errorTimeline: e } = run;
  const m = context.machine;
  const header = [
    `chemflow benchmarks (${context.mode}): ${context.rounds} interleaved rounds of ${context.sampleMs / 1000} s per measurement, medians; ` +
      `noise = half the run-to-run spread (max − min) / median`,
    `machine: ${m.cpus} × ${m.cpuModel}, Node ${m.node}, load average ${m.loadAverageBefore.toFixed(1)} → ${m.loadAverageAfter.toFixed(1)}; ` +
      `PostgreSQL ${context.server.server_version ?? '?'} (fsync ${context.server.fsync ?? '?'}, synchronous_commit ${context.server.synchronous_commit ?? '?'})`,
  ].join('\n');
  const row = (label: string, s: Sample, unit: string, note = ''): string[] => [label, number(s.median), unit, noise(s), note];
  const ratio = (value: number, of: string): string => `${round(value)} × ${of}`;
  const throughput = table(
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
  const rebuild = table(
    [
      [`replay of a ${number(replay.events)}-event flow`, 'median', 'unit', 'noise'],
      ['from the memory store (engine.load)', number(replay.memory.median), 'events/s', noise(replay.memory)],
      ['from PostgreSQL (engine.load)', number(replay.postgres.median), 'events/s', noise(replay.postgres)],
      ['the reducer alone (events already decoded)', number(replay.foldOnly.median), 'events/s', noise(replay.foldOnly)],
    ],
    [false, true, false, true],
  );
  const audit =
    `error timeline on ${number(e.rows)} rows: median ${round(e.medianMs)} ms, p95 ${round(e.p95Ms)} ms ` +
    `(${e.queries} getErrorTimeline calls; bulk load ${round(e.loadSeconds)} s)`;
  const goals = table(
    [
      ['target', 'value', 'met'],
      ...targets(run).map((g) => [g.name, g.unit === '×' ? `${round(g.value)} ×` : `${number(g.value)} ${g.unit}`, g.met ? 'yes' : 'NO']),
    ],
    [false, true, false],
  );
  return [header, throughput, rebuild, audit, goals].join('\n\n') + '\n';
}
