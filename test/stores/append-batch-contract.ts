// The appendBatch part of the one store contract: run by describeStoreContract for every store.
import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { ConcurrencyError, UnstorableValueError } from '../../src/core/errors.js';
import type { NewFlowEvent } from '../../src/core/events.js';
import type { AppendOutcome, AppendRequest, FlowStore, FlowSummary } from '../../src/stores/flow-store.js';
import { artifactOf, flowInitialized, retryScheduled, stepFailed, stepFinished, stepStarted } from '../helpers/events.js';
import type { ContractStore } from './store-contract.js';

function okVersions(outcomes: readonly AppendOutcome[]): (number | string)[] {
  return outcomes.map((o) => (o.ok ? o.result.version : o.error.name));
}

/** A queue row as comparable across two flows that saw the same events (ids and clock-dependent times left out). */
function comparableRow(row: FlowSummary | undefined): Record<string, unknown> {
  const { flowId: _flowId, nextDueAt, leaseExpiresAt, ...rest } = row ?? ({} as FlowSummary);
  return { ...rest, hasNextDue: nextDueAt !== null, hasLeaseExpiry: leaseExpiresAt !== null };
}

async function rowOf(store: FlowStore, flowId: string): Promise<FlowSummary | undefined> {
  return (await store.listFlows({ limit: 10_000 })).find((f) => f.flowId === flowId);
}

export function appendBatchContract(subject: () => ContractStore): void {
  const store = (): FlowStore => subject().store;

  it('appends a batch of several flows in one call: every outcome ok, in request order, each durable', async () => {
    const flows = [randomUUID(), randomUUID(), randomUUID()];
    const requests: AppendRequest[] = flows.map((flowId, i) => ({
      flowId,
      expectedVersion: 0,
      events: [flowInitialized(`batch-${i}`), ...Array.from({ length: i }, () => stepStarted(0))],
    }));
    const outcomes = await store().appendBatch(requests);
    expect(okVersions(outcomes)).toEqual([1, 2, 3]);
    for (const [i, flowId] of flows.entries()) {
      const outcome = outcomes[i];
      const listed = await store().list(flowId);
      expect(listed.map((e) => e.version)).toEqual(Array.from({ length: i + 1 }, (_, v) => v + 1));
      expect(outcome?.ok && outcome.result.events).toEqual(listed);
      expect(await rowOf(store(), flowId)).toMatchObject({ name: `batch-${i}`, version: i + 1 });
    }
  });

  it('fails only the request with a stale version; the others before and after it are durable', async () => {
    const [before, stale, after] = [randomUUID(), randomUUID(), randomUUID()];
    await store().append(stale, 0, [flowInitialized(), stepStarted(0)]);
    const orphan = artifactOf({ staleInBatch: randomUUID() });
    const outcomes = await store().appendBatch([
      { flowId: before, expectedVersion: 0, events: [flowInitialized()] },
      { flowId: stale, expectedVersion: 1, events: [stepFailed(0)], options: { artifacts: [orphan] } },
      { flowId: after, expectedVersion: 0, events: [flowInitialized(), stepStarted(0)] },
    ]);
    expect(okVersions(outcomes)).toEqual([1, 'ConcurrencyError', 2]);
    const failed = outcomes[1];
    expect(failed?.ok === false && failed.error).toBeInstanceOf(ConcurrencyError);
    expect(failed?.ok === false && failed.error).toMatchObject({ flowId: stale, expectedVersion: 1 });
    expect((await store().list(before)).map((e) => e.version)).toEqual([1]);
    expect((await store().list(stale)).map((e) => e.type)).toEqual(['FlowInitialized', 'StepStarted']);
    expect((await store().list(after)).map((e) => e.version)).toEqual([1, 2]);
    expect(await store().listErrors(stale)).toEqual([]);
    expect(await subject().artifactCopies(orphan.hash)).toBe(0);
  });

  it('fails only a request the store refuses before writing (unstorable text), with append\'s own error', async () => {
    const [good, bad] = [randomUUID(), randomUUID()];
    const unstorable = { ...flowInitialized(), flowName: 'a\u0000b' } as NewFlowEvent;
    const outcomes = await store().appendBatch([
      { flowId: bad, expectedVersion: 0, events: [unstorable] },
      { flowId: good, expectedVersion: 0, events: [flowInitialized()] },
    ]);
    expect(okVersions(outcomes)).toEqual(['UnstorableValueError', 1]);
    expect(outcomes[0]?.ok === false && outcomes[0].error).toBeInstanceOf(UnstorableValueError);
    expect(await store().list(bad)).toEqual([]);
  });

  it('keeps the order of one flow\'s requests within a batch; a later one that depends on a failed one fails too', async () => {
    const [flowId, other] = [randomUUID(), randomUUID()];
    const outcomes = await store().appendBatch([
      { flowId, expectedVersion: 0, events: [flowInitialized()] },
      { flowId: other, expectedVersion: 5, events: [stepStarted(0)] },
      { flowId, expectedVersion: 1, events: [stepStarted(0), stepFinished(0, [])] },
      { flowId, expectedVersion: 3, events: [stepStarted(1)] },
      { flowId: other, expectedVersion: 6, events: [stepStarted(0)] },
    ]);
    expect(okVersions(outcomes)).toEqual([1, 'ConcurrencyError', 3, 4, 'ConcurrencyError']);
    expect((await store().list(flowId)).map((e) => e.type)).toEqual(['FlowInitialized', 'StepStarted', 'StepFinished', 'StepStarted']);
    expect(await store().list(other)).toEqual([]);
  });

  it('writes the same events, error rows, artifacts and queue rows as the same appends made one by one', async () => {
    const init = flowInitialized('parity-flow');
    const firstBatch = [init, stepStarted(0), stepFailed(0, { attempt: 1, errorClass: 'Transient' }), retryScheduled(0, 1)];
    const secondBatch = [stepStarted(0, 2), stepFailed(0, { attempt: 2, errorClass: 'Permanent', message: 'bad' })];
    const finishing = [stepStarted(0), stepFinished(0, [])];
    const single = { flow: randomUUID(), done: randomUUID(), art: artifactOf({ parity: 'single', n: randomUUID() }) };
    const batched = { flow: randomUUID(), done: randomUUID(), art: artifactOf({ parity: 'batched', n: randomUUID() }) };
    const lease = { owner: 'parity-owner', leaseMs: 60_000 };
    // Same events (timestamps included) in both flows; only the artifact, and so the output hash, differs.
    const [started, finishing1] = [stepStarted(1), stepFinished(1, [])];
    const finished = (hash: string) => [started, { ...finishing1, outputs: [hash] }] as NewFlowEvent[];

    await store().append(single.flow, 0, firstBatch, { lease });
    await store().append(single.flow, 4, secondBatch);
    await store().append(single.done, 0, [init], { lease });
    await store().append(single.done, 1, [...finishing, ...finished(single.art.hash)], { artifacts: [single.art] });
    const first = await store().appendBatch([
      { flowId: batched.flow, expectedVersion: 0, events: firstBatch, options: { lease } },
      { flowId: batched.done, expectedVersion: 0, events: [init], options: { lease } },
    ]);
    const second = await store().appendBatch([
      { flowId: batched.flow, expectedVersion: 4, events: secondBatch },
      { flowId: batched.done, expectedVersion: 1, events: [...finishing, ...finished(batched.art.hash)], options: { artifacts: [batched.art] } },
    ]);
    expect(okVersions([...first, ...second])).toEqual([4, 1, 6, 5]);

    for (const [a, b] of [
      [single.flow, batched.flow],
      [single.done, batched.done],
    ] as const) {
      const strip = <T extends { flowId: string }>(rows: readonly T[]) => rows.map(({ flowId: _f, ...rest }) => rest);
      const events = async (id: string) =>
        (await store().list(id)).map(({ flowId: _f, seq: _s, ...rest }) => ('outputs' in rest ? { ...rest, outputs: [] } : rest));
      expect(await events(b)).toEqual(await events(a));
      expect(strip(await store().listErrors(b))).toEqual(strip(await store().listErrors(a)));
      expect(comparableRow(await rowOf(store(), b))).toEqual(comparableRow(await rowOf(store(), a)));
      const raw = async (id: string) => (await subject().rawErrorRows?.(id))?.map(({ id: _id, flow_id: _f, ...rest }) => rest);
      expect(await raw(b)).toEqual(await raw(a));
    }
    expect(await rowOf(store(), batched.flow)).toMatchObject({ status: 'failed', leaseOwner: null });
    expect(await rowOf(store(), batched.done)).toMatchObject({ status: 'pending', leaseOwner: 'parity-owner' });
    expect(await store().listErrors(batched.flow)).toHaveLength(2);
    expect(await store().getArtifacts([batched.art.hash])).toEqual([batched.art]);
    expect(await subject().artifactCopies(batched.art.hash)).toBe(1);
  });

  it('stores one copy of an artifact two flows of a batch both produce', async () => {
    const shared = artifactOf({ sharedInBatch: randomUUID() });
    const [a, b] = [randomUUID(), randomUUID()];
    const produce = (flowId: string): AppendRequest => ({
      flowId,
      expectedVersion: 0,
      events: [flowInitialized(), stepStarted(0), stepFinished(0, [shared.hash])],
      options: { artifacts: [shared] },
    });
    expect(okVersions(await store().appendBatch([produce(a), produce(b)]))).toEqual([3, 3]);
    expect(await subject().artifactCopies(shared.hash)).toBe(1);
    expect(await store().getArtifacts([shared.hash])).toEqual([shared]);
  });

  it('returns no outcome for an empty batch', async () => {
    expect(await store().appendBatch([])).toEqual([]);
  });
}
