// ONE contract suite for every store (after Emmett's store features): memory, in-memory PGlite and
// the PostgreSQL server must behave identically through the FlowStore interface.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Artifact } from '../../src/core/artifact.js';
import { ArtifactIntegrityError, ArtifactNotFoundError, ConcurrencyError, UnstorableValueError } from '../../src/core/errors.js';
import type { EventOf, FlowEvent, NewFlowEvent } from '../../src/core/events.js';
import { replay } from '../../src/core/reducer.js';
import { errorRecordFromEvent } from '../../src/core/step-execution-error.js';
import type { FlowStore } from '../../src/stores/flow-store.js';
import { MemoryFlowStore } from '../../src/stores/memory-store.js';
import {
  artifactOf,
  flowCompleted,
  flowInitialized,
  nextTs,
  retryScheduled,
  shapeOf,
  stepFailed,
  stepFinished,
  stepStarted,
} from '../helpers/events.js';
import { tamperArtifact } from '../helpers/tamper.js';
import { appendBatchContract } from './append-batch-contract.js';

export interface ContractStore {
  store: FlowStore;
  /** How many stored copies of an artifact exist (a row count for the databases). */
  artifactCopies(hash: string): Promise<number>;
  /** The raw `step_execution_errors` rows of a flow, ordered by id (databases only). */
  rawErrorRows?(flowId: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

/** Events as they read back, without the database-assigned global order. */
const withoutSeq = (events: readonly FlowEvent[]) => events.map(({ seq: _seq, ...rest }) => rest);

function fullFlow(outputs: readonly Artifact[]): NewFlowEvent[] {
  const hashes = outputs.map((a) => a.hash);
  return [
    flowInitialized(),
    stepStarted(0),
    stepFailed(0, { attempt: 1 }),
    retryScheduled(0, 1),
    stepStarted(0, 2),
    stepFinished(0, hashes, 2),
    stepStarted(1),
    { type: 'StepSignal', ts: nextTs(), stepIndex: 1, stepId: 'score', attempt: 1, name: 'progress', data: { done: 3, of: 7 } },
    stepFinished(1, hashes),
    stepStarted(2),
    stepFinished(2, []),
    flowCompleted(),
  ];
}

export function describeStoreContract(name: string, open: () => Promise<ContractStore>): void {
  describe(`FlowStore contract: ${name}`, () => {
    let subject: ContractStore;
    let store: FlowStore;
    beforeAll(async () => {
      subject = await open();
      store = subject.store;
    });
    afterAll(async () => {
      await subject?.close();
    });

    describe('events', () => {
      it('round-trips a batch: versions 1..n, increasing seq, same content as given', async () => {
        const flowId = randomUUID();
        const events = fullFlow([artifactOf({ smiles: 'CCO', n: randomUUID() })]);
        const result = await store.append(flowId, 0, events);
        expect(result.version).toBe(events.length);
        const listed = await store.list(flowId);
        expect(listed.map((e) => e.version)).toEqual(events.map((_, i) => i + 1));
        const seqs = listed.map((e) => e.seq);
        expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
        expect(new Set(seqs).size).toBe(seqs.length);
        expect(listed).toEqual(result.events);
        expect(listed).toEqual(events.map((e, i) => ({ ...e, flowId, version: i + 1, seq: seqs[i], schemaVersion: 1 })));
      });

      it('reads back exactly what the memory store reads back (apart from seq), batch by batch', async () => {
        const memory = new MemoryFlowStore();
        const flowId = randomUUID();
        const events = fullFlow([artifactOf({ parity: randomUUID() })]);
        const batches = [events.slice(0, 1), events.slice(1, 3), events.slice(3, 4), events.slice(4)];
        let version = 0;
        for (const batch of batches) {
          const ours = await store.append(flowId, version, batch);
          const theirs = await memory.append(flowId, version, batch);
          expect(withoutSeq(ours.events)).toEqual(withoutSeq(theirs.events));
          expect(ours.version).toBe(theirs.version);
          version = ours.version;
        }
        expect(withoutSeq(await store.list(flowId))).toEqual(withoutSeq(await memory.list(flowId)));
        expect(await store.listErrors(flowId)).toEqual(await memory.listErrors(flowId));
        // Replay from this store equals replay from memory: parity by construction.
        expect(replay(flowId, await store.list(flowId), shapeOf())).toEqual(
          replay(flowId, await memory.list(flowId), shapeOf()),
        );
      });

      it('keeps timestamps as the exact ISO strings written', async () => {
        const flowId = randomUUID();
        const first = { ...flowInitialized(), ts: '2024-02-29T23:59:59.123Z' };
        const second = { ...stepStarted(0), ts: '1999-12-31T00:00:00.001Z' };
        await store.append(flowId, 0, [first, second]);
        expect((await store.list(flowId)).map((e) => e.ts)).toEqual([first.ts, second.ts]);
      });

      it('continues versions across appends', async () => {
        const flowId = randomUUID();
        await store.append(flowId, 0, [flowInitialized()]);
        const second = await store.append(flowId, 1, [stepStarted(0), stepFinished(0, [])]);
        expect(second.version).toBe(3);
        expect(second.events.map((e) => e.version)).toEqual([2, 3]);
        expect((await store.list(flowId)).map((e) => e.type)).toEqual(['FlowInitialized', 'StepStarted', 'StepFinished']);
      });

      it('refuses text PostgreSQL cannot store with UnstorableValueError naming where it is, and writes nothing', async () => {
        const flowId = randomUUID();
        await store.append(flowId, 0, [flowInitialized()]);
        const failed = stepFailed(0);
        const unstorable = { ...failed, error: { code: 'E_TEST', message: 'a\u0000b' } } as NewFlowEvent;
        await expect(store.append(flowId, 1, [stepStarted(0), unstorable])).rejects.toBeInstanceOf(UnstorableValueError);
        await expect(store.append(flowId, 1, [stepStarted(0), unstorable])).rejects.toMatchObject({
          code: 'UNSTORABLE_VALUE',
          path: 'events[1].error.message',
        });
        const art = artifactOf({ label: 'x\ud800', id: randomUUID() });
        const finished = store.append(flowId, 1, [stepStarted(0), stepFinished(0, [art.hash])], { artifacts: [art] });
        await expect(finished).rejects.toMatchObject({ path: 'artifacts[0].payload.label' });
        expect((await store.list(flowId)).map((e) => e.type)).toEqual(['FlowInitialized']);
        expect(await store.listErrors(flowId)).toEqual([]);
        expect(await subject.artifactCopies(art.hash)).toBe(0);
      });

      it('an unknown flow has no events', async () => {
        expect(await store.list(randomUUID())).toEqual([]);
      });
    });

    describe('optimistic concurrency', () => {
      it('rejects a stale expectedVersion with ConcurrencyError and writes nothing', async () => {
        const flowId = randomUUID();
        await store.append(flowId, 0, [flowInitialized(), stepStarted(0)]);
        const before = await store.list(flowId);
        const orphan = artifactOf({ stale: randomUUID() });
        const stale = store.append(flowId, 1, [stepFinished(0, [orphan.hash])], { artifacts: [orphan] });
        await expect(stale).rejects.toBeInstanceOf(ConcurrencyError);
        expect(await subject.artifactCopies(orphan.hash)).toBe(0);
        await expect(store.append(flowId, 1, [stepFailed(0)])).rejects.toMatchObject({ flowId, expectedVersion: 1 });
        expect(await store.list(flowId)).toEqual(before);
        expect(await store.listErrors(flowId)).toEqual([]);
      });

      it('rejects an expectedVersion ahead of the log (a gap)', async () => {
        const flowId = randomUUID();
        await store.append(flowId, 0, [flowInitialized()]);
        await expect(store.append(flowId, 3, [stepStarted(0)])).rejects.toBeInstanceOf(ConcurrencyError);
        await expect(store.append(randomUUID(), 1, [stepStarted(0)])).rejects.toBeInstanceOf(ConcurrencyError);
        expect((await store.list(flowId)).map((e) => e.version)).toEqual([1]);
      });

      it('lets exactly one of two concurrent appenders at the same version win', async () => {
        const flowId = randomUUID();
        await store.append(flowId, 0, [flowInitialized()]);
        const artifactA = artifactOf({ racer: 'a', id: randomUUID() });
        const artifactB = artifactOf({ racer: 'b', id: randomUUID() });
        const results = await Promise.allSettled([
          store.append(flowId, 1, [stepStarted(0), stepFinished(0, [artifactA.hash])], { artifacts: [artifactA] }),
          store.append(flowId, 1, [stepStarted(0), stepFinished(0, [artifactB.hash])], { artifacts: [artifactB] }),
        ]);
        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(1);
        expect(lost[0]?.reason).toBeInstanceOf(ConcurrencyError);
        const listed = await store.list(flowId);
        expect(listed.map((e) => e.version)).toEqual([1, 2, 3]);
        // The loser's artifact was never written.
        const winnerOutputs = (listed[2] as EventOf<'StepFinished'>).outputs;
        const loser = winnerOutputs[0] === artifactA.hash ? artifactB : artifactA;
        expect(await subject.artifactCopies(loser.hash)).toBe(0);
      });

      it('many writers retrying on conflict leave versions 1..n with no gap or duplicate', async () => {
        const flowId = randomUUID();
        await store.append(flowId, 0, [flowInitialized()]);
        const writer = async (id: number): Promise<void> => {
          for (let written = 0; written < 5; ) {
            const version = (await store.list(flowId)).length;
            try {
              await store.append(flowId, version, [stepStarted(0, id * 100 + written + 1)]);
              written++;
            } catch (error) {
              if (!(error instanceof ConcurrencyError)) throw error;
            }
          }
        };
        await Promise.all([1, 2, 3, 4].map(writer));
        const listed = await store.list(flowId);
        expect(listed.map((e) => e.version)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
        const attempts = listed.slice(1).map((e) => (e as EventOf<'StepStarted'>).attempt);
        expect(new Set(attempts).size).toBe(20);
      });
    });

    describe('appendBatch', () => appendBatchContract(() => subject));

    describe('artifacts', () => {
      it('deduplicates by hash, within a batch and across flows', async () => {
        const shared = artifactOf({ dedup: randomUUID() }, { label: 'first' });
        const flowA = randomUUID();
        const flowB = randomUUID();
        await store.append(flowA, 0, [flowInitialized(), stepStarted(0), stepFinished(0, [shared.hash])], {
          artifacts: [shared, { ...shared, metadata: { label: 'second' } }],
        });
        await store.append(flowB, 0, [flowInitialized(), stepStarted(0), stepFinished(0, [shared.hash])], {
          artifacts: [{ ...shared, metadata: { label: 'third' } }],
        });
        expect(await subject.artifactCopies(shared.hash)).toBe(1);
        expect(await store.getArtifacts([shared.hash])).toEqual([shared]);
      });

      it('returns artifacts in the order asked, repeats included, with or without metadata', async () => {
        const plain = artifactOf([1, 2, { three: randomUUID() }]);
        const labelled = artifactOf({ id: randomUUID(), nothing: null }, { source: 'test', tags: ['a'] });
        const nullPayload = artifactOf(null);
        await store.append(randomUUID(), 0, [flowInitialized(), stepFinished(0, [plain.hash, labelled.hash])], {
          artifacts: [plain, labelled, nullPayload],
        });
        expect(await store.getArtifacts([labelled.hash, plain.hash, labelled.hash])).toEqual([labelled, plain, labelled]);
        expect(await store.getArtifacts([nullPayload.hash])).toEqual([nullPayload]);
        expect(await store.getArtifacts([])).toEqual([]);
      });

      it('throws ArtifactNotFoundError naming a missing hash', async () => {
        const present = artifactOf({ present: randomUUID() });
        const missing = artifactOf({ missing: randomUUID() }).hash;
        await store.append(randomUUID(), 0, [flowInitialized()], { artifacts: [present] });
        const read = store.getArtifacts([present.hash, missing]);
        await expect(read).rejects.toBeInstanceOf(ArtifactNotFoundError);
        await expect(store.getArtifacts([missing])).rejects.toMatchObject({ hash: missing });
      });
    });

    describe('artifact integrity', () => {
      it('rejects an artifact whose stored payload no longer matches its hash, naming it and its step', async () => {
        const flowId = randomUUID();
        const changed = artifactOf({ changed: randomUUID() });
        const untouched = artifactOf({ untouched: randomUUID() });
        await store.append(flowId, 0, [flowInitialized(), stepStarted(0), stepFinished(0, [changed.hash, untouched.hash])], {
          artifacts: [changed, untouched],
        });
        await tamperArtifact(store, changed.hash, { changed: 'by hand' });
        await expect(store.getArtifacts([untouched.hash, changed.hash])).rejects.toBeInstanceOf(ArtifactIntegrityError);
        await expect(store.getArtifacts([changed.hash])).rejects.toMatchObject({
          code: 'ARTIFACT_INTEGRITY',
          expectedHash: changed.hash,
          actualHash: artifactOf({ changed: 'by hand' }).hash,
          producedBy: { flowId, stepId: 'load' },
        });
        await expect(store.getArtifacts([changed.hash])).rejects.toThrow(/output of step load in flow/);
        expect(await store.getArtifacts([untouched.hash])).toEqual([untouched]);
      });

      it('verifies payloads at the edges of JSON without false alarms (numbers, unicode keys, escapes)', async () => {
        const edges = artifactOf({
          id: randomUUID(),
          numbers: [-0, 5e-324, Number.MAX_VALUE, 1e21, 1e-7, 2 ** 53 + 2, 0.1 + 0.2, -1.5e-300],
          'ключ😀': { é: 'e\u0301', '': '', tab: '\t\n"\\', ctl: '\u0001\u001f', astral: '𝄞' },
          nested: [[[]], {}, null, true, false],
        });
        await store.append(randomUUID(), 0, [flowInitialized(), stepStarted(0), stepFinished(0, [edges.hash])], {
          artifacts: [edges],
        });
        const [read] = await store.getArtifacts([edges.hash]);
        expect(read?.hash).toBe(edges.hash);
      });

      it('reports an artifact stored outside a StepFinished as corrupt without a step', async () => {
        const orphan = artifactOf({ orphan: randomUUID() });
        await store.append(randomUUID(), 0, [flowInitialized()], { artifacts: [orphan] });
        await tamperArtifact(store, orphan.hash, [1, 2, 3]);
        await expect(store.getArtifacts([orphan.hash])).rejects.toMatchObject({ expectedHash: orphan.hash, producedBy: null });
      });
    });

    describe('step_execution_errors', () => {
      it('writes one row per StepFailed, equal to its projection, with every column', async () => {
        const flowId = randomUUID();
        const events = [
          flowInitialized(),
          stepStarted(0),
          stepFailed(0, { attempt: 1, errorClass: 'Transient', retryCount: 0, maxRetries: 2 }),
          retryScheduled(0, 1),
          stepStarted(0, 2),
          stepFailed(0, { attempt: 2, errorClass: 'Permanent', retryCount: 1, maxRetries: 2, message: 'bad input' }),
        ];
        const { events: stored } = await store.append(flowId, 0, events);
        const failed = stored.filter((e): e is EventOf<'StepFailed'> => e.type === 'StepFailed');
        expect(await store.listErrors(flowId)).toEqual(failed.map(errorRecordFromEvent));
        const raw = await subject.rawErrorRows?.(flowId);
        if (raw !== undefined) {
          expect(raw).toHaveLength(2);
          const [first, second] = raw;
          expect(Number(second?.id)).toBeGreaterThan(Number(first?.id));
          expect(second).toMatchObject({
            flow_id: flowId,
            step_id: 'load',
            attempt_number: 2,
            error_class: 'Permanent',
            error_message: 'bad input',
            retry_count: 1,
            max_retries: 2,
          });
          expect(second?.details).toEqual({ ...failed[1]?.details, error_code: 'E_TEST' });
          expect(new Date(second?.timestamp as string).toISOString()).toBe(failed[1]?.ts);
        }
      });

      it('lists in insertion order, filters by step, and orders the timeline by attempt', async () => {
        const flowId = randomUUID();
        await store.append(flowId, 0, [
          flowInitialized(),
          stepFailed(1, { attempt: 3, errorClass: 'Runtime' }),
          stepFailed(0, { attempt: 1, errorClass: 'Validation' }),
          stepFailed(1, { attempt: 1, errorClass: 'Transient' }),
          stepFailed(1, { attempt: 2, errorClass: 'Transient' }),
        ]);
        expect((await store.listErrors(flowId)).map((e) => `${e.stepId}#${e.attemptNumber}`)).toEqual([
          'score#3',
          'load#1',
          'score#1',
          'score#2',
        ]);
        expect((await store.listErrors(flowId, 'score')).map((e) => e.attemptNumber)).toEqual([3, 1, 2]);
        expect((await store.getErrorTimeline(flowId, 'score')).map((e) => e.attemptNumber)).toEqual([1, 2, 3]);
        expect(await store.getErrorTimeline(flowId, 'report')).toEqual([]);
      });

      it('counts errors per class, without leaking across flows', async () => {
        const flowA = randomUUID();
        const flowB = randomUUID();
        await store.append(flowA, 0, [
          flowInitialized(),
          stepFailed(0, { attempt: 1, errorClass: 'Transient' }),
          stepFailed(0, { attempt: 2, errorClass: 'Transient' }),
          stepFailed(1, { attempt: 1, errorClass: 'Validation' }),
        ]);
        await store.append(flowB, 0, [flowInitialized(), stepFailed(0, { attempt: 1, errorClass: 'Permanent' })]);
        expect(await store.countErrorsByFlow(flowA)).toEqual({
          total: 3,
          byClass: { Transient: 2, Permanent: 0, Validation: 1, Runtime: 0 },
        });
        expect(await store.countErrorsByFlow(flowB)).toEqual({
          total: 1,
          byClass: { Transient: 0, Permanent: 1, Validation: 0, Runtime: 0 },
        });
        expect((await store.listErrors(flowB)).map((e) => e.flowId)).toEqual([flowB]);
        expect(await store.countErrorsByFlow(randomUUID())).toEqual({
          total: 0,
          byClass: { Transient: 0, Permanent: 0, Validation: 0, Runtime: 0 },
        });
      });
    });

    describe('listFlows', () => {
      it('projects each flow into its queue row in the transaction of every append, newest first', async () => {
        const older = randomUUID();
        const newer = randomUUID();
        const olderInit = flowInitialized('older-flow');
        const newerInit = flowInitialized('newer-flow');
        await store.append(older, 0, [olderInit]);
        await store.append(newer, 0, [newerInit, stepStarted(0)]);
        const lastOfOlder = stepFailed(0);
        await store.append(older, 1, [stepStarted(0), lastOfOlder]);
        const flows = (await store.listFlows({ limit: 1000 })).filter((f) => f.flowId === older || f.flowId === newer);
        expect(flows).toEqual([
          expect.objectContaining({ flowId: newer, name: 'newer-flow', status: 'running', version: 2, lastEventType: 'StepStarted' }),
          {
            flowId: older,
            name: 'older-flow',
            status: 'failed',
            version: 3,
            lastEventType: 'StepFailed',
            createdAt: olderInit.ts,
            updatedAt: lastOfOlder.ts,
            nextDueAt: null,
            leaseOwner: null,
            leaseExpiresAt: null,
          },
        ]);
      });
    });
  });
}
