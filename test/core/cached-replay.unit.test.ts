import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeEvent } from '../../src/core/event-codec.js';
import type { FlowEvent, NewFlowEvent } from '../../src/core/events.js';
import { replay } from '../../src/core/reducer.js';
import { CorruptEventError } from '../../src/core/errors.js';
import { flowInitialized, hashOf, shapeOf, stepFinished, stepStarted } from '../helpers/events.js';

function stored(flowId: string, events: readonly NewFlowEvent[]): FlowEvent[] {
  return events.map((e, i) => ({ ...e, flowId, version: i + 1, seq: i + 1, schemaVersion: 1 }));
}

const source = { flowId: randomUUID(), stepId: 'load' };

describe('StepFinished.cachedFrom in replay', () => {
  it('is kept on the slot; a step that ran, or an old log without the field, has null', () => {
    const flowId = randomUUID();
    const cached = { ...stepFinished(0, [hashOf('out')]), cachedFrom: source } as NewFlowEvent;
    const flow = replay(flowId, stored(flowId, [flowInitialized(), stepStarted(0), cached, stepStarted(1), stepFinished(1, [])]), shapeOf());
    expect(flow.steps.map((s) => s.cachedFrom)).toEqual([source, null, null]);
  });

  it('lets a cached step finish without starting, at the cursor only, and not after a cancellation', () => {
    const flowId = randomUUID();
    const cached = (index: number) => ({ ...stepFinished(index, [hashOf('out')]), cachedFrom: source }) as NewFlowEvent;
    const flow = replay(flowId, stored(flowId, [flowInitialized(), cached(0), cached(1)]), shapeOf());
    expect(flow.cursor).toBe(2);
    expect(flow.steps[0]).toMatchObject({ status: 'FinishedOk', attempts: 0, cachedFrom: source });
    expect(() => replay(flowId, stored(flowId, [flowInitialized(), cached(1)]), shapeOf())).toThrow(CorruptEventError);
    const cancelled: NewFlowEvent = { type: 'FlowCancelled', ts: new Date().toISOString(), reason: null };
    expect(() => replay(flowId, stored(flowId, [flowInitialized(), cancelled, cached(0)]), shapeOf())).toThrow(CorruptEventError);
    // Without cachedFrom a finish still needs its StepStarted.
    expect(() => replay(flowId, stored(flowId, [flowInitialized(), stepFinished(0, [])]), shapeOf())).toThrow(CorruptEventError);
  });

  it('decodes with and without the field, and rejects a malformed one', () => {
    const raw = (payload: unknown) => ({ flowId: 'f', version: 2, seq: 2, ts: 't', eventType: 'StepFinished', schemaVersion: 1, payload });
    const body = { stepIndex: 0, stepId: 'load', attempt: 1, outputs: [], fingerprint: hashOf('fp') };
    expect(decodeEvent(raw(body))).not.toHaveProperty('cachedFrom');
    expect(decodeEvent(raw({ ...body, cachedFrom: null }))).toMatchObject({ cachedFrom: null });
    expect(decodeEvent(raw({ ...body, cachedFrom: source }))).toMatchObject({ cachedFrom: source });
    expect(() => decodeEvent(raw({ ...body, cachedFrom: { flowId: 1 } }))).toThrow(CorruptEventError);
  });
});
