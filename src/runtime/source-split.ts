import type { StoredArtifact } from '../core/artifact.js';
import type { AttemptOutcome } from '../core/decide.js';
import type { StepDefinition } from '../core/definition.js';
import type { FlowInstance } from '../core/flow-state.js';
import type { ShardInput } from '../core/shards.js';
import { withFlowViews } from './flow-views.js';
import { runAttempt, type AttemptIo, type AttemptLimits } from './step-runner.js';

/**
 * Shard `index` of `count` of a source that splits its own work (`SourceSplit`): no input, only its
 * position; the module's `run` finds its part of the work from it.
 */
export function sourceShardAt(index: number, count: number): ShardInput {
  if (!Number.isInteger(index) || index < 0 || index >= count) throw new RangeError(`shard ${index} does not exist: the step has ${count} shard(s)`);
  return { index, count, input: [] };
}

/** How many items a source that splits its own work has now (what its `map.shardSize` counts). */
export async function sourceItemCount(step: StepDefinition, baseDir: string): Promise<number> {
  if (step.split === undefined) throw new TypeError(`step "${step.id}" does not split its own work`);
  return step.split.items(step.baseParams, { baseDir, inputHashes: [] });
}

/**
 * The step's outcome from its shards' merged outputs: the module's `combine` run as an attempt is
 * (timeout, stop, signals, outputs stored and hashed, errors classified), in this thread, on `merged`
 * read as streams. Its outputs and signals are the step's.
 */
export async function combineSourceShards(
  step: StepDefinition,
  merged: readonly StoredArtifact[],
  flow: FlowInstance,
  where: { baseDir: string; attempt: number },
  limits: AttemptLimits,
  io: AttemptIo,
): Promise<{ outcome: AttemptOutcome; outputs: StoredArtifact[] }> {
  const split = step.split;
  if (split === undefined) throw new TypeError(`step "${step.id}" does not split its own work`);
  const combining: StepDefinition = { id: step.id, kind: step.kind, baseParams: step.baseParams, streaming: true, run: (ctx) => split.combine(ctx) };
  const context = withFlowViews({ input: [...merged], attempt: where.attempt, flowId: flow.id, stepId: step.id, baseDir: where.baseDir }, flow);
  const result = await runAttempt(combining, context, limits, io);
  if (!result.ok) return { outcome: result, outputs: [] };
  return { outcome: { ok: true, outputs: result.outputs.map((a) => a.hash), signals: result.signals }, outputs: result.outputs };
}
