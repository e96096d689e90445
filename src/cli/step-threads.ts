import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { StepThreads } from '../runtime/step-threads.js';

/**
 * The step threads of a command that runs shards (`run`, `resume`, `worker`): as many as its
 * concurrency, or none for a concurrency of 1 (the engine's own thread is enough). None either when
 * running from the TypeScript sources (tests), where the compiled thread entry does not exist: shards
 * then run concurrently in the engine's thread, with the same results.
 */
export function stepThreadsFor(concurrency: number | undefined): StepThreads | undefined {
  const size = concurrency ?? availableParallelism();
  const script = new URL('./step-thread.js', import.meta.url);
  if (size <= 1 || !existsSync(fileURLToPath(script))) return undefined;
  return new StepThreads(script, size);
}
