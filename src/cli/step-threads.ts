import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { StepThreads } from '../runtime/step-threads.js';

/**
 * The step threads of a command that runs steps (`run`, `resume`, `worker`): as many as its
 * concurrency. Steps run there, not in the thread that renews the leases: a step that computes for
 * longer than the lease (RDKit is synchronous) would otherwise stop the heartbeat and be taken over as
 * lost by another worker while it still runs. None when running from the TypeScript sources (tests),
 * where the compiled thread entry does not exist: steps then run in the engine's thread, with the same
 * results.
 */
export function stepThreadsFor(concurrency: number | undefined): StepThreads | undefined {
  const size = Math.max(1, concurrency ?? availableParallelism());
  const script = new URL('./step-thread.js', import.meta.url);
  if (!existsSync(fileURLToPath(script))) return undefined;
  return new StepThreads(script, size);
}
