// The interleaved throughput rounds: every meter is measured once per round, side by side in time,
// so a ratio taken within one round compares runs that saw the same machine load.
import { openChemflowOnPglite, openChemflowOnPostgres } from './chemflow.js';
import { openCommitLimit } from './commit-limit.js';
import { openDbos } from './dbos.js';
import { openSqlFloor } from './sql-floor.js';
import type { Meter } from './meter.js';
import type { BenchOptions } from './options.js';
import { median, sample, type Sample } from './stats.js';

export interface ThroughputResult {
  commitC1: Sample;
  commitC8: Sample;
  chemflowSeq: Sample;
  /** The same statements from a bare client: what the engine and store code cost is the rest. */
  sqlFloorSeq: Sample;
  chemflowC8: Sample;
  chemflowFailuresSeq: Sample;
  pgliteSeq: Sample;
  dbosSeq: Sample;
  dbosC8: Sample;
  /** Medians of the per-round ratios. */
  ratios: { vsDbosSeq: number; vsDbosC8: number; vsCommitSeq: number; vsCommitC8: number; floorVsCommitSeq: number; vsFloorSeq: number };
  /** Extra time one failed-and-retried attempt adds to a step, in ms (median over rounds). */
  costPerFailureMs: number;
}

type Key = Exclude<keyof ThroughputResult, 'ratios' | 'costPerFailureMs'>;

export async function throughputBench(options: BenchOptions, log: (line: string) => void): Promise<ThroughputResult> {
  const closers: (() => Promise<void>)[] = [];
  try {
    const commit = await openCommitLimit();
    closers.push(() => commit.close());
    const chemflow = await openChemflowOnPostgres();
    closers.push(() => chemflow.close());
    const pglite = await openChemflowOnPglite();
    closers.push(() => pglite.close());
    const floor = await openSqlFloor();
    closers.push(() => floor.close());
    const dbos = await openDbos();
    closers.push(() => dbos.close());

    // Pairs that are compared stand next to each other in every round.
    const meters: [Key, Meter][] = [
      ['commitC1', commit.c1],
      ['chemflowSeq', chemflow.seq],
      ['sqlFloorSeq', floor.seq],
      ['dbosSeq', dbos.seq],
      ['commitC8', commit.c8],
      ['chemflowC8', chemflow.c8],
      ['dbosC8', dbos.c8],
      ['chemflowFailuresSeq', chemflow.withFailuresSeq],
      ['pgliteSeq', pglite.seq],
    ];
    log(`warming up ${meters.length} meters`);
    for (const [, meter] of meters) await meter.measure(options.warmupMs);

    const runs = new Map<Key, number[]>(meters.map(([key]) => [key, []]));
    for (let round = 1; round <= options.rounds; round++) {
      log(`round ${round}/${options.rounds}`);
      for (const [key, meter] of meters) {
        globalThis.gc?.();
        const value = await meter.measure(options.sampleMs);
        runs.get(key)?.push(value);
        log(`  ${meter.label}: ${Math.round(value)} ${meter.unit}`);
      }
    }
    const of = (key: Key): number[] => runs.get(key) ?? [];
    const perRound = (f: (round: number) => number): number => median(of('commitC1').map((_, round) => f(round)));
    const at = (key: Key, round: number): number => of(key)[round] ?? Number.NaN;
    return {
      commitC1: sample(of('commitC1')),
      commitC8: sample(of('commitC8')),
      chemflowSeq: sample(of('chemflowSeq')),
      sqlFloorSeq: sample(of('sqlFloorSeq')),
      chemflowC8: sample(of('chemflowC8')),
      chemflowFailuresSeq: sample(of('chemflowFailuresSeq')),
      pgliteSeq: sample(of('pgliteSeq')),
      dbosSeq: sample(of('dbosSeq')),
      dbosC8: sample(of('dbosC8')),
      ratios: {
        vsDbosSeq: perRound((r) => at('chemflowSeq', r) / at('dbosSeq', r)),
        vsDbosC8: perRound((r) => at('chemflowC8', r) / at('dbosC8', r)),
        vsCommitSeq: perRound((r) => at('chemflowSeq', r) / at('commitC1', r)),
        vsCommitC8: perRound((r) => at('chemflowC8', r) / at('commitC8', r)),
        floorVsCommitSeq: perRound((r) => at('sqlFloorSeq', r) / at('commitC1', r)),
        vsFloorSeq: perRound((r) => at('chemflowSeq', r) / at('sqlFloorSeq', r)),
      },
      // Every step of the failing flow fails exactly once: the extra time per step is one failure's cost.
      costPerFailureMs: perRound((r) => 1000 / at('chemflowFailuresSeq', r) - 1000 / at('chemflowSeq', r)),
    };
  } finally {
    for (const close of closers.reverse()) await close().catch((error: unknown) => log(`cleanup failed: ${String(error)}`));
  }
}
