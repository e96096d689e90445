import type { StoredArtifact } from '../core/artifact.js';
import { isWholeArtifact } from '../core/artifact.js';
import type { JsonValue } from '../core/canonical-json.js';
import { outputNameOf } from '../core/command-inputs.js';
import { holds, type Condition } from '../core/condition.js';
import type { FlowDefinition } from '../core/definition.js';
import { ValidationError } from '../core/error-class.js';
import type { FlowStore } from '../stores/flow-store.js';
import type { FlowSession } from './flow-session.js';
import { sessionArtifacts } from './step-attempt.js';

/** What a condition found: whether it holds, or the output it names is not there (the step's attempt fails, Validation). */
export type ConditionCheck = { ok: true; holds: boolean } | { ok: false; error: ValidationError };

/**
 * Evaluates step `index`'s `when` on the output it names, read from the session or the store. A
 * condition on a step that was skipped is false. The value a path reads is the output's payload for a
 * whole artifact, its header fields and `rowCount` for a batch, and `{ name, size }` for a file.
 */
export async function checkCondition(session: FlowSession<FlowDefinition>, index: number, store: FlowStore): Promise<ConditionCheck> {
  const step = session.definition.steps[index];
  const condition = step?.when;
  if (step === undefined || condition === undefined) return { ok: true, holds: true };
  const target = session.definition.steps.findIndex((s) => s.id === condition.step);
  const slot = session.flow.steps[target];
  if (slot === undefined) return { ok: false, error: missing(step.id, condition, 'it is not a step of this flow') };
  if (slot.status === 'Skipped') return { ok: true, holds: false };
  const outputs = await sessionArtifacts(session, slot.outputs, store);
  const candidates = condition.output === null ? outputs : outputs.filter((o) => outputNameOf(o) === condition.output);
  const artifact = candidates.length === 1 ? candidates[0] : undefined;
  if (artifact === undefined) {
    const names = outputs.map((o) => outputNameOf(o)).join(', ') || 'none';
    const why =
      condition.output === null
        ? `step ${condition.step} has ${outputs.length} outputs (${names}): name one as ${condition.step}.OUTPUT`
        : `step ${condition.step} has no single output named ${JSON.stringify(condition.output)} (it has ${names})`;
    return { ok: false, error: missing(step.id, condition, why) };
  }
  return { ok: true, holds: holds(condition, valueOf(artifact)) };
}

/** What a condition's path reads of an artifact: never its rows or bytes. */
function valueOf(artifact: StoredArtifact): JsonValue {
  if (isWholeArtifact(artifact)) return artifact.payload;
  if (artifact.form === 'batch') return { ...artifact.manifest.header, rowCount: artifact.manifest.rowCount };
  return { name: artifact.name, size: artifact.size };
}

function missing(stepId: string, condition: Condition, why: string): ValidationError {
  return new ValidationError(`the condition of step ${stepId} reads ${condition.step}${condition.output === null ? '' : `.${condition.output}`}, but ${why}`, {
    code: 'CONDITION_OUTPUT_MISSING',
    details: { when: { step: condition.step, output: condition.output, path: condition.path, op: condition.op } },
  });
}
