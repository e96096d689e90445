import type { Artifact } from '../core/artifact.js';
import { corruptInputFailure, slotAt, type AttemptOutcome } from '../core/decide.js';
import type { FlowPlan } from '../core/flow-plan.js';
import type { FlowDefinition } from '../core/definition.js';
import { errorHistory } from '../core/error-history.js';
import { ArtifactIntegrityError } from '../core/errors.js';
import type { FlowStore } from '../stores/flow-store.js';
import type { FlowSession } from './flow-session.js';
import { runAttempt } from './step-runner.js';

/** What one attempt produced: its outcome as `recordAttempt` takes it, and the artifacts to store. */
export interface AttemptRun {
  outcome: AttemptOutcome;
  outputs: Artifact[];
  /** The input was corrupt: the step never ran, and nothing may be chained to this failure. */
  corruptInput: boolean;
}

/** Runs the Running attempt of step `index` of a session: reads its input, runs its code. */
export async function runStepAttempt(
  session: FlowSession<FlowDefinition>,
  plan: FlowPlan,
  index: number,
  io: { store: FlowStore; baseDir: string },
): Promise<AttemptRun> {
  const step = session.definition.steps[index];
  if (step === undefined) throw new RangeError(`Flow ${session.flowId} has no step at index ${index}`);
  let input: Artifact[];
  try {
    input = await inputOf(session, index, io.store);
  } catch (error) {
    if (!(error instanceof ArtifactIntegrityError)) throw error;
    // A corrupt input is never handed to the step; the attempt fails for good and the audit row says why.
    return { outcome: { ok: false, error: corruptInputFailure(error), signals: [] }, outputs: [], corruptInput: true };
  }
  const context = {
    input,
    attempt: slotAt(session.flow, index).attempts,
    flowId: session.flowId,
    stepId: step.id,
    baseDir: io.baseDir,
    errorHistory: errorHistory(session.flow),
  };
  const result = await runAttempt(step, context, { stop: session.stop, timeoutMs: plan.steps[index]?.timeoutMs ?? null });
  if (!result.ok) return { outcome: result, outputs: [], corruptInput: false };
  for (const artifact of result.outputs) session.artifacts.set(artifact.hash, artifact);
  return { outcome: { ok: true, outputs: result.outputs.map((a) => a.hash), signals: result.signals }, outputs: result.outputs, corruptInput: false };
}

/** The previous step's outputs, from the session's memory when it produced them, else from the store. */
async function inputOf(session: FlowSession<FlowDefinition>, index: number, store: FlowStore): Promise<Artifact[]> {
  if (index === 0) return [];
  const hashes = slotAt(session.flow, index - 1).outputs;
  const missing = hashes.filter((h) => !session.artifacts.has(h));
  if (missing.length > 0) for (const a of await store.getArtifacts(missing)) session.artifacts.set(a.hash, a);
  // Only the latest step's outputs are needed again: keep memory flat on long flows.
  const input = hashes.flatMap((h) => session.artifacts.get(h) ?? []);
  session.artifacts = new Map(input.map((a) => [a.hash, a]));
  return input;
}
