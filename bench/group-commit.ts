// A probe, not part of `npm run bench`: store appends per second through `store.append` and through a
// `GroupCommitter`, by 1 and by 8 concurrent flows, next to the commit limit, interleaved in rounds.
// Each flow is the 12 appends the engine makes for 10 no-op steps. Run it with
//   tsc -p bench/tsconfig.json && node node_modules/.cache/chemflow-bench/bench/group-commit.js [sampleMs] [rounds]
// The store alone, and the engine running the same flows (its appends go through a committer of its own).
import { randomUUID } from 'node:crypto';
import type { NewFlowEvent } from '../src/core/events.js';
import { sha256Hex } from '../src/core/hash.js';
import { FlowEngine } from '../src/runtime/engine.js';
import { GroupCommitter } from '../src/runtime/group-commit.js';
import { openPostgresStore } from '../src/stores/open-store.js';
import { openCommitLimit } from './commit-limit.js';
import { noopFlow, RETRY_AT_ONCE, STEPS_PER_FLOW } from './flows.js';
import { rate } from './meter.js';
import { BENCH_PG_URL, createBenchSchema } from './pg-admin.js';
import { median } from './stats.js';

const FINGERPRINT = sha256Hex('bench-group-commit');

/** The appends the engine makes for one flow of no-op steps, in order. */
function flowAppends(): NewFlowEvent[][] {
  const ts = new Date().toISOString();
  const stepIds = Array.from({ length: STEPS_PER_FLOW }, (_, i) => `step-${i}`);
  const started = (i: number): NewFlowEvent => ({ type: 'StepStarted', ts, stepIndex: i, stepId: `step-${i}`, attempt: 1 });
  const finished = (i: number): NewFlowEvent => ({
    type: 'StepFinished',
    ts,
    stepIndex: i,
    stepId: `step-${i}`,
    attempt: 1,
    outputs: [],
    fingerprint: FINGERPRINT,
  });
  const init: NewFlowEvent = {
    type: 'FlowInitialized',
    ts,
    definitionHash: FINGERPRINT,
    stepCount: STEPS_PER_FLOW,
    flowName: 'bench-group-commit',
    stepIds,
    metadata: {},
  };
  const appends: NewFlowEvent[][] = [[init], [started(0)]];
  for (let i = 0; i < STEPS_PER_FLOW - 1; i++) appends.push([finished(i), started(i + 1)]);
  appends.push([finished(STEPS_PER_FLOW - 1), { type: 'FlowCompleted', ts, flowFingerprint: FINGERPRINT }]);
  return appends;
}

type Append = (flowId: string, expectedVersion: number, events: NewFlowEvent[]) => Promise<{ version: number }>;

const sampleMs = Number(process.argv[2] ?? 2_000);
const rounds = Number(process.argv[3] ?? 5);
const schema = await createBenchSchema('group_commit');
const store = await openPostgresStore({ connectionString: BENCH_PG_URL, schema: schema.name, max: 10 });
const limit = await openCommitLimit();
const committer = new GroupCommitter(store);
const direct: Append = (f, v, e) => store.append(f, v, e);
const grouped: Append = (f, v, e) => committer.append(f, v, e);
const flow = (append: Append) => async (): Promise<number> => {
  const flowId = randomUUID();
  let version = 0;
  const appends = flowAppends();
  for (const events of appends) version = (await append(flowId, version, events)).version;
  return appends.length;
};
const engine = new FlowEngine({ store, retryPolicy: RETRY_AT_ONCE });
const engineFlow = (e: FlowEngine) => async (): Promise<number> => {
  const flowId = await e.startFlow(noopFlow);
  if ((await e.runToEnd(flowId, noopFlow)).status !== 'completed') throw new Error(`flow ${flowId} did not complete`);
  return STEPS_PER_FLOW;
};
const meters: [string, () => Promise<number>][] = [
  ['commit limit, 1 connection (commits/s)', () => limit.c1.measure(sampleMs)],
  ['commit limit, 8 connections (commits/s)', () => limit.c8.measure(sampleMs)],
  ['append, 1 flow (appends/s)', () => rate(1, sampleMs, flow(direct))],
  ['group commit, 1 flow (appends/s)', () => rate(1, sampleMs, flow(grouped))],
  ['append, 8 flows (appends/s)', () => rate(8, sampleMs, flow(direct))],
  ['group commit, 8 flows (appends/s)', () => rate(8, sampleMs, flow(grouped))],
  ['engine, 8 flows (steps/s)', () => rate(8, sampleMs, engineFlow(engine))],
  ['engine, 1 flow (steps/s)', () => rate(1, sampleMs, engineFlow(engine))],
];
const runs = new Map<string, number[]>(meters.map(([label]) => [label, []]));
try {
  for (let round = 1; round <= rounds; round++)
    for (const [label, measure] of meters) runs.get(label)?.push(Math.round(await measure()));
  const of = (label: string): number[] => runs.get(label) ?? [];
  const ratio = (a: string, b: string): number => median(of(a).map((x, i) => x / (of(b)[i] ?? Number.NaN)));
  const { appends, batches } = committer.stats;
  process.stdout.write(
    `${JSON.stringify(
      {
        runs: Object.fromEntries(runs),
        medianRatios: {
          groupVsAppend8: ratio('group commit, 8 flows (appends/s)', 'append, 8 flows (appends/s)'),
          group8VsCommit8: ratio('group commit, 8 flows (appends/s)', 'commit limit, 8 connections (commits/s)'),
          append8VsCommit8: ratio('append, 8 flows (appends/s)', 'commit limit, 8 connections (commits/s)'),
          groupVsAppend1: ratio('group commit, 1 flow (appends/s)', 'append, 1 flow (appends/s)'),
          engine8VsCommit8: ratio('engine, 8 flows (steps/s)', 'commit limit, 8 connections (commits/s)'),
          engine1VsCommit1: ratio('engine, 1 flow (steps/s)', 'commit limit, 1 connection (commits/s)'),
        },
        appendsPerBatch: appends / batches,
      },
      null,
      2,
    )}\n`,
  );
} finally {
  await store.close();
  await limit.close();
  await schema.drop();
}
