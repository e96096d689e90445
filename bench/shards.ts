// Sharded map steps: the screening flow's shape on PostgreSQL run by `chemflow worker`
// processes. Two questions, answered by ratios measured in the same run:
//  - does a second worker process speed the mapped step up (1 worker / 2 workers, shards of 1,000)?
//  - what does sharding itself cost on one worker (shards of 1,000 and of 100 vs one shard of n)?
// Rounds interleave every configuration; a ratio is the median of the per-round ratios.
import { cliPath } from './cli-workers.js';
import { shardRun, type ShardRun } from './shard-run.js';
import { shardWorkspace } from './shard-workspace.js';
import { median, sample, type Sample } from './stats.js';

export interface ShardsOptions {
  /** Work tree root: its built CLI and its examples/screening/molecules.csv. */
  root: URL;
  /** Rows of the library screened (all of it when larger than the library). */
  molecules: number;
  rounds: number;
}

/** Wall time of one configuration over the rounds: the whole flow, and the mapped step alone. */
export interface ShardTimes {
  workers: number;
  shardSize: number;
  shards: number;
  flowSeconds: Sample;
  stepSeconds: Sample;
  /** CPU seconds of the worker processes (all of them): unlike wall time, barely moved by a busy neighbour. */
  cpuSeconds: Sample;
  /** Most shards running at once in any round (2 workers: 2 if both processes ran shards). */
  shardsAtOnce: number;
  /** Mean start → finish of one shard (with 2 at once on a busy 2-core machine, up to twice the 1-worker time). */
  shardSeconds: Sample;
}

/** A ratio of two configurations' wall times (flow, mapped step) and of their workers' CPU seconds. */
export interface ShardRatio {
  flow: number;
  step: number;
  cpu: number;
}

export interface ShardsResult {
  molecules: number;
  rounds: number;
  /**
   * 1 and 2 worker processes, shards of 1,000; speedup = 1-worker wall time / 2-worker wall time;
   * cpuVsOne = CPU seconds of the 2 workers / of the 1 (above 1: what sharing the shards costs in work).
   */
  workers: { one: ShardTimes; two: ShardTimes; speedup: { flow: number; step: number }; cpuVsOne: number };
  /** One worker, shardSize = n (one shard), 1,000, 100; vsOneShard = time / time with one shard. */
  sizes: { times: ShardTimes; vsOneShard: ShardRatio }[];
  /** Every run ended with the same flow fingerprint (sharding never changes a result). */
  sameFingerprint: boolean;
  /** StepFailed events over all runs (retried shards make a run slower than it should be). */
  failures: number;
}

interface Config {
  workers: number;
  shardSize: number;
}

const SHARD_SIZE = 1_000;
const SMALL_SHARD_SIZE = 100;

export async function shardsBench(options: ShardsOptions, log: (line: string) => void): Promise<ShardsResult> {
  const cli = cliPath(options.root);
  const workspace = await shardWorkspace(options.root, options.molecules);
  const n = workspace.molecules;
  // The 1-worker run with shards of 1,000 serves both questions.
  const [ONE_SHARD, ONE_WORKER, SMALL_SHARDS, TWO_WORKERS] = [0, 1, 2, 3];
  const configs: Config[] = [
    { workers: 1, shardSize: n },
    { workers: 1, shardSize: SHARD_SIZE },
    { workers: 1, shardSize: SMALL_SHARD_SIZE },
    { workers: 2, shardSize: SHARD_SIZE },
  ];
  const runs: ShardRun[][] = configs.map(() => []);
  try {
    for (let round = 1; round <= options.rounds; round++) {
      for (const [i, config] of configs.entries()) {
        const run = await shardRun({ cli, dir: workspace.dir, flowFile: await workspace.flowFile(config.shardSize), workers: config.workers });
        runs[i]?.push(run);
        log(
          `shards round ${round}/${options.rounds}: ${config.workers} worker(s), shardSize ${config.shardSize} (${run.shards} shards, ` +
            `at most ${run.shardsAtOnce} at once): flow ${run.flowSeconds.toFixed(1)} s, mapped step ${run.stepSeconds.toFixed(1)} s, ` +
            `workers' CPU ${run.cpuSeconds.toFixed(1)} s, one shard ${run.shardSeconds.toFixed(2)} s`,
        );
      }
    }
  } finally {
    await workspace.remove();
  }
  const times = (i: number): ShardTimes => {
    const config = configs[i] as Config;
    const of = runs[i] ?? [];
    return {
      ...config,
      shards: of[0]?.shards ?? 0,
      flowSeconds: sample(of.map((r) => r.flowSeconds)),
      stepSeconds: sample(of.map((r) => r.stepSeconds)),
      cpuSeconds: sample(of.map((r) => r.cpuSeconds)),
      shardsAtOnce: Math.max(0, ...of.map((r) => r.shardsAtOnce)),
      shardSeconds: sample(of.map((r) => r.shardSeconds)),
    };
  };
  /** Median over the rounds of time(a) / time(b). */
  const ratio = (a: number, b: number): ShardRatio => {
    const per = (pick: (r: ShardRun) => number): number =>
      median((runs[a] ?? []).map((r, round) => pick(r) / pick((runs[b] ?? [])[round] as ShardRun)));
    return { flow: per((r) => r.flowSeconds), step: per((r) => r.stepSeconds), cpu: per((r) => r.cpuSeconds) };
  };
  const all = runs.flat();
  return {
    molecules: n,
    rounds: options.rounds,
    workers: {
      one: times(ONE_WORKER),
      two: times(TWO_WORKERS),
      speedup: { flow: ratio(ONE_WORKER, TWO_WORKERS).flow, step: ratio(ONE_WORKER, TWO_WORKERS).step },
      cpuVsOne: ratio(TWO_WORKERS, ONE_WORKER).cpu,
    },
    sizes: [ONE_SHARD, ONE_WORKER, SMALL_SHARDS].map((i) => ({ times: times(i), vsOneShard: ratio(i, ONE_SHARD) })),
    sameFingerprint: new Set(all.map((r) => r.flowFingerprint)).size === 1,
    failures: all.reduce((sum, r) => sum + r.failures, 0),
  };
}
