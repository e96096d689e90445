// The flow queue's rules on their own (src/core/queue-row.ts): what the memory store runs and what the
// SQL stores' statements must equal (test/stores/queue-rules.int.test.ts compares them).
import { describe, expect, it } from 'vitest';
import type { FlowEvent, NewFlowEvent } from '../../src/core/events.js';
import { EVENT_SCHEMA_VERSION } from '../../src/core/events.js';
import { appendedQueueRow, deferredQueueRow, isClaimable, isItemClaimable, mayTakeLease, rebuiltQueueRow, type QueueRow } from '../../src/core/queue-row.js';
import { flowInitialized, retryScheduled, shardFailed, shardFinished, shardRetryScheduled, shardStarted, stepFailed, stepFinished, stepStarted } from '../helpers/events.js';

const FLOW = '00000000-0000-4000-a000-000000000001';
const cancel = (): NewFlowEvent => ({ type: 'FlowCancelled', ts: new Date().toISOString(), reason: null });
const shard = (index: number) => ({ index, count: 2 });

/** Appends `batches` one after the other at times 1000, 2000, …; the first takes `w`'s lease when asked. */
function rowsAfter(batches: NewFlowEvent[][], lease = false): { rows: QueueRow[]; log: FlowEvent[] } {
  const log: FlowEvent[] = [];
  const rows: QueueRow[] = [];
  let row: QueueRow | undefined;
  for (const [i, batch] of batches.entries()) {
    const stored = batch.map((e, j): FlowEvent => ({ ...e, flowId: FLOW, version: log.length + j + 1, seq: 0, schemaVersion: EVENT_SCHEMA_VERSION }));
    log.push(...stored);
    row = appendedQueueRow(row, stored, (i + 1) * 1000, i === 0 && lease ? { owner: 'w', leaseMs: 500 } : undefined);
    if (row !== undefined) rows.push(row);
  }
  return { rows, log };
}

describe('the queue row after an append', () => {
  it('a new row is due from the append and takes the creating lease', () => {
    const { rows } = rowsAfter([[flowInitialized('q')]], true);
    expect(rows[0]).toMatchObject({ name: 'q', status: 'pending', version: 1, nextDueAt: 1000, leaseOwner: 'w', leaseExpiresAt: 1500 });
  });

  it('a flow that stays pending or running keeps its due time; one that changes between them is due from the change', () => {
    const { rows } = rowsAfter([[flowInitialized()], [stepStarted(0)], [stepStarted(0)], [stepFinished(0, [])], [stepStarted(1)]]);
    expect(rows.map((r) => [r.status, r.nextDueAt])).toEqual([
      ['pending', 1000],
      ['running', 2000],
      ['running', 2000],
      ['pending', 4000],
      ['running', 5000],
    ]);
  });

  it('a cancelled flow stays cancelled and not due; the batch that ends its attempt clears the lease, others keep it', () => {
    const { rows } = rowsAfter([[flowInitialized(), stepStarted(0)], [cancel()], [stepStarted(0)], [stepFailed(0)]], true);
    expect(rows.map((r) => [r.status, r.nextDueAt, r.leaseOwner])).toEqual([
      ['running', 1000, 'w'],
      ['cancelled', null, 'w'],
      ['cancelled', null, 'w'],
      ['cancelled', null, null],
    ]);
  });

  it("a sibling shard's outcome keeps a flow failed and not due; a retry, or a step's outcome after one, makes it open again", () => {
    const started = [flowInitialized(), stepStarted(0)];
    const failedForGood = shardFailed(0, shard(0), { errorClass: 'Permanent' });
    expect(rowsAfter([started, [failedForGood], [shardFinished(0, shard(1), [])]]).rows.at(-1)).toMatchObject({ status: 'failed', nextDueAt: null });
    const retried = rowsAfter([started, [stepFailed(0)], [retryScheduled(0, 1), stepStarted(0, 2), stepFinished(0, [], 2)]]).rows.at(-1);
    expect(retried).toMatchObject({ status: 'pending', nextDueAt: 3000 });
  });

  it('a failed flow stays failed only when every event of the batch keeps it so: the row is the rebuilt one however the log is batched', () => {
    const events = [
      flowInitialized(),
      stepStarted(0),
      shardStarted(0, shard(0)),
      shardFailed(0, shard(0), { errorClass: 'Permanent' }),
      shardStarted(0, shard(1)),
      shardFinished(0, shard(1), []),
    ];
    const status = (batches: NewFlowEvent[][]) => {
      const { rows, log } = rowsAfter(batches);
      return [rows.at(-1)?.status, rebuiltQueueRow(log, rows.at(-1))?.status];
    };
    expect(status([events.slice(0, 4), events.slice(4)])).toEqual(['running', 'running']);
    expect(status([events.slice(0, 4), events.slice(4, 5), events.slice(5)])).toEqual(['running', 'running']);
    expect(status([events.slice(0, 5), events.slice(5)])).toEqual(['running', 'running']);
    // Only a sibling's outcomes after the failure: failed, in one batch or in two.
    const finishedOnly = [...events.slice(0, 4), shardFinished(0, shard(1), []), shardFinished(0, shard(1), [], 2)];
    expect(status([finishedOnly.slice(0, 4), finishedOnly.slice(4)])).toEqual(['failed', 'failed']);
    expect(status([finishedOnly.slice(0, 4), finishedOnly.slice(4, 5), finishedOnly.slice(5)])).toEqual(['failed', 'failed']);
    // A shard's retry, then an outcome, in one batch: open again.
    const retried = [...events.slice(0, 4), shardRetryScheduled(0, shard(1), 1), shardFinished(0, shard(1), [], 2)];
    expect(status([retried.slice(0, 4), retried.slice(4)])).toEqual(['running', 'running']);
  });
});

describe('the queue row rebuilt from the log', () => {
  it('has the status the appends left, is due from its last event when open, and keeps the lease', () => {
    const { rows, log } = rowsAfter([[flowInitialized(), stepStarted(0)], [stepFinished(0, [])]], true);
    const rebuilt = rebuiltQueueRow(log, rows.at(-1));
    expect(rebuilt).toEqual({ ...rows.at(-1), nextDueAt: Date.parse(log.at(-1)?.ts ?? '') });
    expect(rebuiltQueueRow([], undefined)).toBeUndefined();
  });
});

describe('claims and leases', () => {
  const row = (over: Partial<QueueRow>): QueueRow => ({ ...(rowsAfter([[flowInitialized()]]).rows[0] as QueueRow), ...over });

  it('claims open, due flows whose lease is free or expired', () => {
    expect(isClaimable(row({}), 1000)).toBe(true);
    expect(isClaimable(row({}), 999)).toBe(false);
    expect(isClaimable(row({ status: 'failed', nextDueAt: null }), 5000)).toBe(false);
    expect(isClaimable(row({ leaseOwner: 'w', leaseExpiresAt: 2000 }), 2000)).toBe(false);
    expect(isClaimable(row({ leaseOwner: 'w', leaseExpiresAt: 2000 }), 2001)).toBe(true);
  });

  it("takes a lease that is free, expired, one's own or a known-dead holder's", () => {
    const held = row({ leaseOwner: 'a', leaseExpiresAt: 2000 });
    expect([mayTakeLease(held, 'b', 1500), mayTakeLease(held, 'a', 1500), mayTakeLease(held, 'b', 1500, 'a'), mayTakeLease(held, 'b', 2001)]).toEqual([
      false,
      true,
      true,
      true,
    ]);
  });
});

describe('a flow given back until a time', () => {
  it('is not due before it while its log stays at the version given; the next append makes it due at once', () => {
    const { rows, log } = rowsAfter([[flowInitialized()], [stepStarted(0), stepFinished(0, [])]]);
    const row = rows.at(-1) as QueueRow;
    expect([row.status, row.nextDueAt]).toEqual(['pending', 1000]); // it stayed pending
    const deferred = deferredQueueRow(row, { at: 60_000, version: row.version });
    expect(deferred.nextDueAt).toBe(60_000);
    expect(isClaimable(deferred, 59_999)).toBe(false);
    expect(isClaimable(deferred, 60_000)).toBe(true);
    expect(deferredQueueRow(row, { at: 60_000, version: row.version - 1 })).toBe(row); // the log moved on meanwhile
    expect(deferredQueueRow(deferred, { at: 30_000, version: row.version }).nextDueAt).toBe(60_000); // never earlier
    const next: FlowEvent = { ...stepStarted(1), flowId: FLOW, version: log.length + 1, seq: 0, schemaVersion: EVENT_SCHEMA_VERSION };
    const after = appendedQueueRow(deferred, [next], 3000);
    expect([after?.status, after?.nextDueAt]).toEqual(['running', 3000]);
    const finished: FlowEvent = { ...stepFinished(1, []), flowId: FLOW, version: log.length + 1, seq: 0, schemaVersion: EVENT_SCHEMA_VERSION };
    expect(appendedQueueRow(deferred, [finished], 3000)?.nextDueAt).toBe(3000); // pending stays pending: due now, not at 60 s
  });
});

describe('a work item', () => {
  const item = { kind: 'step' as const, dueAt: 1000, leaseOwner: null, leaseExpiresAt: null };
  it('is claimable when due, its lease free, its flow open', () => {
    expect(isItemClaimable(item, 'pending', 1000)).toBe(true);
    expect(isItemClaimable(item, 'pending', 999)).toBe(false);
    expect(isItemClaimable({ ...item, dueAt: null }, 'running', 1000)).toBe(false);
    expect(isItemClaimable({ ...item, leaseOwner: 'w', leaseExpiresAt: 1000 }, 'running', 1000)).toBe(false);
    expect(isItemClaimable({ ...item, leaseOwner: 'w', leaseExpiresAt: 999 }, 'running', 1000)).toBe(true);
    for (const status of ['completed', 'cancelled', 'failed'] as const) expect(isItemClaimable(item, status, 1000)).toBe(false);
    expect(isItemClaimable(item, undefined, 1000)).toBe(false);
  });

  it("of a failed flow, only an item (a graph step or a shard) whose holder's lease expired", () => {
    const held = { ...item, leaseOwner: 'gone', leaseExpiresAt: 999 };
    expect(isItemClaimable(held, 'failed', 1000)).toBe(true);
    expect(isItemClaimable({ ...held, kind: 'shard' }, 'failed', 1000)).toBe(true);
    expect(isItemClaimable({ ...held, leaseExpiresAt: 1000 }, 'failed', 1000)).toBe(false);
    expect(isItemClaimable({ ...held, kind: 'shard', leaseOwner: null, leaseExpiresAt: null }, 'failed', 1000)).toBe(false);
    expect(isItemClaimable(held, 'cancelled', 1000)).toBe(false);
  });
});
