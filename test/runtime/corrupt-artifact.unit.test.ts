import { describe, expect, it } from 'vitest';
import type { Artifact } from '../../src/core/artifact.js';
import { defineFlow, FlowEngine, type StepDefinition } from '../../src/index.js';
import { tamperArtifact } from '../helpers/tamper.js';
import { flakyStep, ManualClock, seedStep } from '../support/demo-flow.js';
import { engineStores, storeRunner } from '../support/stores.js';

describe.each(engineStores)('a corrupt input artifact on $name', ({ create }) => {
  const withStore = storeRunner(create);

  it('fails the attempt that would read it (Permanent ARTIFACT_INTEGRITY) and is never consumed', async () => {
    await withStore(async (store) => {
      const seen: unknown[] = [];
      const spy: StepDefinition = {
        id: 'spy',
        kind: 'sink',
        baseParams: {},
        run(ctx) {
          seen.push((ctx.input[0] as Artifact | undefined)?.payload);
          return { outputs: [] };
        },
      };
      const def = defineFlow('tampered', [seedStep(1), flakyStep('a', ['Permanent']), spy]);
      const engine = new FlowEngine({ store, clock: new ManualClock() });
      const flowId = await engine.startFlow(def);
      expect((await engine.runToEnd(flowId, def)).status).toBe('failed');
      const seedOutput = ((await engine.open(flowId, def)).flow).steps[0]?.outputs[0] as string;

      await tamperArtifact(store, seedOutput, { n: 1000 });
      await engine.scheduleRetry(flowId, 'a', { reason: 'operator: try again' });
      const flow = await engine.runToEnd(flowId, def);

      expect(flow.status).toBe('failed');
      expect(flow.steps.map((s) => s.status)).toEqual(['FinishedOk', 'Failed', 'Pending']);
      expect(seen).toEqual([]);
      const [, second] = await store.getErrorTimeline(flowId, 'a');
      expect(second).toMatchObject({
        attemptNumber: 2,
        errorClass: 'Permanent',
        details: {
          error_code: 'ARTIFACT_INTEGRITY',
          artifact_hash: seedOutput,
          produced_by: { flow_id: flowId, step_id: 'seed' },
        },
      });
      expect(second?.errorMessage).toMatch(new RegExp(`Artifact ${seedOutput} \\(output of step seed in flow ${flowId}\\) is corrupt`));
    });
  });
});
