import { elapsedSeconds } from './stats.js';

/** One throughput measurement: how many units of work per second over about `durationMs`. */
export interface Meter {
  /** Row label in the table, e.g. "chemflow · PostgreSQL · sequential". */
  readonly label: string;
  /** What is counted: "steps/s", "commits/s". */
  readonly unit: string;
  measure(durationMs: number): Promise<number>;
}

/**
 * Runs `workers` loops side by side, each calling `work` (which returns how many units it did) until
 * the deadline has passed; the rate is every unit over the wall time, the slowest loop's tail included.
 */
export async function rate(workers: number, durationMs: number, work: (worker: number) => Promise<number>): Promise<number> {
  const start = process.hrtime.bigint();
  const deadline = performance.now() + durationMs;
  let units = 0;
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      while (performance.now() < deadline) {
        // Not `units += await work()`: that reads `units` before the await and loses other loops' counts.
        const done = await work(worker);
        units += done;
      }
    }),
  );
  return units / elapsedSeconds(start);
}
