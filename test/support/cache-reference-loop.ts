// A reference of the engine's step cache hook, for tests of the cache's building blocks end to end
// while src/runtime/engine.ts is being rewritten: a bare loop (one attempt per step, no retries, no
// lease) that does per step what the engine hook does — planStepCache; on a hit, append the cached
// StepFinished; on a miss, run the step and append its StepStarted + StepFinished with cacheEntry.
import { randomUUID } from 'node:crypto';
import { createArtifact, type Artifact } from '../../src/core/artifact.js';
import { defineFlow, defineStep, type FlowDefinition, type StepModule } from '../../src/core/definition.js';
import type { FlowEventBody, NewFlowEvent } from '../../src/core/events.js';
import { flowFingerprint, stepFingerprint } from '../../src/core/fingerprint.js';
import type { FlowInstance } from '../../src/core/flow-state.js';
import { replay } from '../../src/core/reducer.js';
import { cachedAttempt, cachedStepFinished, cacheEntryFor, planStepCache } from '../../src/runtime/step-cache.js';
import type { AppendOptions, FlowStore } from '../../src/stores/flow-store.js';

export async function runWithCacheReference(store: FlowStore, definition: FlowDefinition, baseDir = process.cwd()): Promise<FlowInstance> {
  const flowId = randomUUID();
  let flow = replay(flowId, [], definition);
  const append = async (bodies: FlowEventBody[], options: AppendOptions = {}): Promise<void> => {
    const ts = new Date().toISOString();
    const events = bodies.map((b): NewFlowEvent => ({ ...b, ts }));
    await store.append(flowId, flow.version, events, options);
    flow = replay(flowId, await store.list(flowId), definition);
  };
  await append([
    {
      type: 'FlowInitialized',
      definitionHash: definition.definitionHash,
      stepCount: definition.steps.length,
      flowName: definition.name,
      stepIds: definition.steps.map((s) => s.id),
      metadata: {},
    },
  ]);
  for (const [index, step] of definition.steps.entries()) {
    const inputHashes = index === 0 ? [] : flow.steps[index - 1]!.outputs;
    const fingerprint = stepFingerprint({ stepId: step.id, inputHashes, params: step.baseParams, definitionHash: definition.definitionHash });
    // The hook: before the step starts.
    const plan = await planStepCache(store, step, flow, index, { baseDir });
    if (plan.hit !== null) {
      await append([cachedStepFinished({ index, id: step.id, attempt: cachedAttempt(flow.steps[index]!), fingerprint }, plan.hit)]);
      continue;
    }
    const input: Artifact[] = await store.getArtifacts(inputHashes);
    const result = await step.run({
      input,
      params: step.baseParams,
      attempt: 1,
      flowId,
      stepId: step.id,
      signal: new AbortController().signal,
      baseDir,
      errorHistory: [],
      emit: () => undefined,
    });
    const outputs = result.outputs.map((draft) => createArtifact(draft));
    const cacheEntry = plan.key === null ? undefined : cacheEntryFor(step, index, plan.key);
    await append(
      [
        { type: 'StepStarted', stepIndex: index, stepId: step.id, attempt: 1 },
        { type: 'StepFinished', stepIndex: index, stepId: step.id, attempt: 1, outputs: outputs.map((a) => a.hash), fingerprint },
      ],
      { artifacts: outputs, ...(cacheEntry === undefined ? {} : { cacheEntry }) },
    );
  }
  await append([{ type: 'FlowCompleted', flowFingerprint: flowFingerprint(flow.steps.map((s) => s.fingerprint ?? '')) }]);
  return flow;
}

/**
 * Five counting steps `s1..s5`, each adding its param `add` to its input, runs counted per step type.
 * A step's output names its version, as changed code gives changed results.
 */
export function countingFlow(
  runs: Map<string, number>,
  options: { cache?: boolean; add?: Record<string, number>; version?: Record<string, string>; uncacheable?: string[]; ids?: string[] } = {},
): FlowDefinition {
  const types = ['s1', 's2', 's3', 's4', 's5'];
  return defineFlow(
    'counting',
    types.map((type, i) => {
      const version = options.version?.[type] ?? '1';
      const module: StepModule = {
        kind: i === 0 ? 'source' : 'transform',
        version,
        ...(options.uncacheable?.includes(type) ? { cacheable: false } : {}),
        run(ctx) {
          runs.set(type, (runs.get(type) ?? 0) + 1);
          const n = i === 0 ? 0 : (ctx.input[0]?.payload as { n: number }).n;
          return { outputs: [{ kind: 'number', payload: { n: n + (ctx.params.add as number), version } }] };
        },
      };
      return defineStep(options.ids?.[i] ?? type, module, { add: options.add?.[type] ?? i + 1 }, { uses: `test/${type}`, cache: options.cache ?? true });
    }),
  );
}
