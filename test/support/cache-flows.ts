// Runs flows with the step cache through the engine itself (`FlowEngine`), for the cache's tests on
// every store, and the counting flow those tests use.
import { defineFlow, defineStep, type FlowDefinition, type StepModule } from '../../src/core/definition.js';
import type { Artifact } from '../../src/core/artifact.js';
import type { FlowInstance } from '../../src/core/flow-state.js';
import { FlowEngine } from '../../src/runtime/engine.js';
import type { FlowStore } from '../../src/stores/flow-store.js';

/** One flow created and run to its end as `chemflow run` does (the cache applies per its definition). */
export async function runWithCache(store: FlowStore, definition: FlowDefinition, baseDir = process.cwd()): Promise<FlowInstance> {
  const engine = new FlowEngine({ store, baseDir });
  return engine.runToEnd(await engine.start(definition, { leased: true }));
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
          const n = i === 0 ? 0 : ((ctx.input[0] as Artifact | undefined)?.payload as { n: number }).n;
          return { outputs: [{ kind: 'number', payload: { n: n + (ctx.params.add as number), version } }] };
        },
      };
      return defineStep(options.ids?.[i] ?? type, module, { add: options.add?.[type] ?? i + 1 }, { uses: `test/${type}`, cache: options.cache ?? true });
    }),
  );
}
