// One steps/s sample of N FlowWorkers, shared by today's workers (queue-workers.ts) and the pre-queue
// ones (prequeue-workers.ts): flows submitted beforehand while the workers are stopped (untimed), then
// the workers run for the sample; only StepFinished events inside it count.
import { STEPS_PER_FLOW } from './flows.js';

/** What a sample reads and updates; `steps` and `failed` are counted by the workers' onEvent while `counting`. */
export interface WorkerTally {
  counting: boolean;
  steps: number;
  failed: number;
  /** Samples that ran out of flows (their rate is too low). */
  dry: number;
  /** The fastest rate seen so far, steps/s: how many flows the next sample needs. */
  fastest: number;
}

export interface SampledWorker {
  run(options: { signal?: AbortSignal }): Promise<unknown>;
}

/** A first guess of the fastest rate, to submit enough flows for the first sample. */
const INITIAL_STEPS_PER_S = 4_000;
const SUBMITTERS = 8;

export function newTally(): WorkerTally {
  return { counting: false, steps: 0, failed: 0, dry: 0, fastest: INITIAL_STEPS_PER_S };
}

/** Submits flows until 1.5 × the fastest rate so far has work for `ms`; `open` is how many are open now. */
export async function topUp(tally: WorkerTally, ms: number, open: number, submit: () => Promise<unknown>): Promise<void> {
  let missing = Math.ceil((tally.fastest * 1.5 * ms) / 1000 / STEPS_PER_FLOW) + 20 - open;
  await Promise.all(
    Array.from({ length: SUBMITTERS }, async () => {
      while (missing > 0) {
        missing -= 1;
        await submit();
      }
    }),
  );
}

/** Runs `workers` for `durationMs` and returns their steps/s; `ranDry` is asked once they stopped. */
export async function sampleWorkers(
  workers: readonly SampledWorker[],
  tally: WorkerTally,
  durationMs: number,
  ranDry: () => boolean | Promise<boolean>,
): Promise<number> {
  const stop = new AbortController();
  tally.steps = 0;
  tally.counting = true;
  const start = performance.now();
  const runs = workers.map((w) => w.run({ signal: stop.signal }));
  await new Promise((resolve) => setTimeout(resolve, durationMs));
  tally.counting = false;
  const perSecond = tally.steps / ((performance.now() - start) / 1000);
  stop.abort();
  await Promise.all(runs);
  if (await ranDry()) tally.dry += 1;
  tally.fastest = Math.max(tally.fastest, perSecond);
  return perSecond;
}
