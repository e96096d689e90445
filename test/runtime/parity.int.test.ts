import { describe, expect, it } from 'vitest';
import { FlowEngine, FlowRepository, type FlowInstance } from '../../src/index.js';
import { demoFlow, ManualClock } from '../support/demo-flow.js';
import { engineStores } from '../support/stores.js';

/**
 * Parity: the same flow (with failures, automatic and manual retries) driven on every store rebuilds
 * to deep-equal FlowInstances and identical fingerprints — replay from a database equals replay in memory.
 */
describe('parity across stores', () => {
  it(`memory, ${engineStores.slice(1).map((s) => s.name).join(' and ')} rebuild the same flow`, async () => {
    const flowId = crypto.randomUUID();
    const def = demoFlow(['Transient', 'Permanent'], { retry: { maxRetries: 3, backoff: { kind: 'exponential', baseMs: 20, jitter: 0.5 } } });
    const rebuilt: { name: string; live: FlowInstance; replayed: FlowInstance; listed: unknown }[] = [];
    for (const { name, create } of engineStores) {
      const store = await create();
      try {
        const engine = new FlowEngine({ store, clock: new ManualClock() });
        await engine.startFlow(def, { flowId });
        await engine.runToEnd(flowId, def);
        await engine.scheduleRetry(flowId, 'middle', { reason: 'manual' });
        const live = await engine.runToEnd(flowId, def);
        const events = await store.list(flowId);
        rebuilt.push({
          name,
          live,
          replayed: FlowRepository.load(flowId, events, def),
          listed: stripVolatile(events.map(({ seq: _seq, ...rest }) => rest)),
        });
      } finally {
        await store.close();
      }
    }
    const [reference, ...others] = rebuilt;
    expect(reference?.live.status).toBe('completed');
    expect(reference?.live.steps[2]).toMatchObject({ attempts: 3, retryCount: 2 });
    for (const other of others) {
      expect(stripVolatile(other.replayed), other.name).toEqual(stripVolatile(reference?.replayed));
      expect(stripVolatile(other.live), other.name).toEqual(stripVolatile(other.replayed));
      expect(other.listed, other.name).toEqual(reference?.listed);
      expect(other.replayed.flowFingerprint).toBe(reference?.replayed.flowFingerprint);
    }
  });
});

/** Stack traces name the store's own call frames; everything else must match exactly. */
function stripVolatile<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (key, v: unknown) => (key === 'stack_trace' ? '<stack>' : v))) as T;
}
