import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { StepThreads, type StrayStepReport } from '../runtime/step-threads.js';
import type { CommandContext } from './context.js';
import { oneLine } from './render/table.js';

/**
 * The step threads of a command that runs steps (`run`, `resume`, `worker`): as many as its
 * concurrency. Steps run there, not in the thread that renews the leases: a step that computes for
 * longer than the lease (RDKit is synchronous) would otherwise stop the heartbeat and be taken over as
 * lost by another worker while it still runs. None when running from the TypeScript sources (tests),
 * where the compiled thread entry does not exist: steps then run in the engine's thread, with the same
 * results. What step code does after its attempt returned (an uncaught error, `process.exit`) is said
 * on stderr: no attempt is failed for it.
 */
export function stepThreadsFor(ctx: CommandContext, concurrency: number | undefined): StepThreads | undefined {
  const size = Math.max(1, concurrency ?? availableParallelism());
  const script = new URL('./step-thread.js', import.meta.url);
  if (!existsSync(fileURLToPath(script))) return undefined;
  return new StepThreads(script, size, { onStray: (report) => ctx.io.stderr.write(`${strayText(report)}\n`) });
}

function strayText({ task, kind, error }: StrayStepReport): string {
  const what = kind === 'exit' ? `called process.exit(${JSON.stringify(error.details.exitCode ?? null)})` : `threw ${error.code}: ${oneLine(error.message, 300)}`;
  const who = task === null ? `Step code ${what} where nothing caught it` : `Step ${task.stepId} of flow ${task.flowId} (attempt ${task.attempt}) ${what} after its attempt had returned`;
  return `Warning: ${who}; its thread was replaced and no other attempt was affected.`;
}
