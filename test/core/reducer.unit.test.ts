import { describe, expect, it } from 'vitest';
import {
  CorruptEventError,
  decodeEvent,
  DefinitionMismatchError,
  evolve,
  FlowRepository,
  initialFlowState,
  MemoryFlowStore,
  FlowEngine,
  type FlowEvent,
} from '../../src/index.js';
import { demoFlow } from '../support/demo-flow.js';

async function completedRun(): Promise<{ flowId: string; events: FlowEvent[] }> {
  const store = new MemoryFlowStore();
  const engine = new FlowEngine({ store });
  const flowId = await engine.startFlow(demoFlow());
  await engine.runToEnd(flowId, demoFlow());
  return { flowId, events: await store.list(flowId) };
}

describe('replay reducer', () => {
  it('evolve is pure: the previous state is never modified', async () => {
    const { flowId, events } = await completedRun();
    let state = initialFlowState(flowId, demoFlow());
    for (const event of events) {
      const before = structuredClone(state);
      const after = evolve(state, event);
      expect(state).toEqual(before);
      state = after;
    }
    expect(state).toEqual(FlowRepository.load(flowId, events, demoFlow()));
    expect(state.status).toBe('completed');
  });

  it('ignores signals when rebuilding state', async () => {
    const { flowId, events } = await completedRun();
    expect(events.some((e) => e.type === 'StepSignal')).toBe(true);
    const withoutSignals = events.filter((e) => e.type !== 'StepSignal').map((e, i) => ({ ...e, version: i + 1 }));
    const a = FlowRepository.load(flowId, events, demoFlow());
    const b = FlowRepository.load(flowId, withoutSignals, demoFlow());
    expect({ ...a, version: 0 }).toEqual({ ...b, version: 0 });
  });

  it('rejects a gap in versions, naming flow and version', async () => {
    const { flowId, events } = await completedRun();
    const gapped = [events[0], ...events.slice(2)] as FlowEvent[];
    expect(() => FlowRepository.load(flowId, gapped, demoFlow())).toThrow(CorruptEventError);
    expect(() => FlowRepository.load(flowId, gapped, demoFlow())).toThrow(new RegExp(`flow ${flowId} at version 3`));
  });

  it('rejects transitions the state machine forbids', async () => {
    const { flowId, events } = await completedRun();
    const finishedTwice = [...events.slice(0, 3), { ...(events[2] as FlowEvent), version: 4 }];
    expect(() => FlowRepository.load(flowId, finishedTwice, demoFlow())).toThrow(/StepFinished for step seed in status FinishedOk/);
    const afterCompletion = [...events, { ...(events[1] as FlowEvent), version: events.length + 1 }];
    expect(() => FlowRepository.load(flowId, afterCompletion, demoFlow())).toThrow(/after FlowCompleted/);
  });

  it('refuses to replay events with a different definition', async () => {
    const { flowId, events } = await completedRun();
    const other = demoFlow([], { n: 1 });
    expect(() => FlowRepository.load(flowId, events, { ...other, definitionHash: 'f'.repeat(64) })).toThrow(DefinitionMismatchError);
  });
});

describe('decodeEvent', () => {
  const raw = { flowId: 'f1', version: 7, seq: 1, ts: '2026-01-01T00:00:00.000Z', schemaVersion: 1 };

  it('rejects an unknown event type naming flow and version', () => {
    expect(() => decodeEvent({ ...raw, eventType: 'StepExploded', payload: {} })).toThrow(/flow f1 at version 7: unknown event type "StepExploded"/);
  });

  it('rejects a malformed payload naming the field', () => {
    expect(() => decodeEvent({ ...raw, eventType: 'StepStarted', payload: { stepIndex: 0, stepId: 's', attempt: 0 } })).toThrow(/StepStarted payload invalid at attempt/);
  });

  it('rejects a schema version from the future', () => {
    expect(() => decodeEvent({ ...raw, schemaVersion: 99, eventType: 'FlowCompleted', payload: { flowFingerprint: 'a'.repeat(64) } })).toThrow(/schema version 99/);
  });

  it('decodes a valid event', () => {
    expect(decodeEvent({ ...raw, eventType: 'StepStarted', payload: { stepIndex: 0, stepId: 's', attempt: 1 } })).toEqual({ ...raw, type: 'StepStarted', stepIndex: 0, stepId: 's', attempt: 1 });
  });
});
