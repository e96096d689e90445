import { isItemClaimable, itemFlowLets } from '../core/queue-row.js';
import type { QueueStatus } from '../core/queue-status.js';
import { shardKeyText, type ClaimedShard, type ClaimShardsOptions, type ShardDue, type ShardKey, type ShardRow, type WorkItemKind } from './shard-queue.js';

interface Row extends ClaimedShard {
  dueAt: number | null;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
}

/** The work-item queue of the memory store: the `flow_shards` table (migrations 0007, 0013) in a Map. */
export class MemoryShardQueue {
  private readonly rows = new Map<string, Row>();

  constructor(
    private readonly flowStatus: (flowId: string) => QueueStatus | undefined,
    private readonly notify: () => void,
    private readonly now: () => number = Date.now,
  ) {}

  openShards(flowId: string, stepIndex: number, shardCount: number, shards: readonly { index: number; due: ShardDue }[]): void {
    const now = this.now();
    for (const { index, due } of shards) this.open('shard', { flowId, stepIndex, shardIndex: index }, shardCount, this.dueTime(flowId, due, now));
    this.notify();
  }

  openSteps(flowId: string, steps: readonly { index: number; due: ShardDue }[]): void {
    const now = this.now();
    for (const { index, due } of steps) this.open('step', { flowId, stepIndex: index, shardIndex: 0 }, 1, this.dueTime(flowId, due, now));
    this.notify();
  }

  /** Creates or reopens a row; a lease someone holds is kept. */
  private open(kind: WorkItemKind, key: ShardKey, shardCount: number, dueAt: number | null): void {
    const text = shardKeyText(key);
    const row = this.rows.get(text) ?? { ...key, kind, shardCount, dueAt: null, leaseOwner: null, leaseExpiresAt: null };
    Object.assign(row, { kind, shardCount, dueAt });
    this.rows.set(text, row);
  }

  claimShards(owner: string, options: ClaimShardsOptions): ClaimedShard[] {
    const now = this.now();
    const skipped = new Set((options.skipSteps ?? []).map((s) => `${s.flowId}:${s.stepIndex}`));
    const claimable = [...this.rows.values()]
      .filter(
        (r) =>
          (options.flowId === undefined || r.flowId === options.flowId) &&
          (options.kind === undefined || r.kind === options.kind) &&
          !skipped.has(`${r.flowId}:${r.stepIndex}`) &&
          isItemClaimable(r, this.flowStatus(r.flowId), now),
      )
      .sort((a, b) => (a.dueAt ?? 0) - (b.dueAt ?? 0) || a.shardIndex - b.shardIndex)
      .slice(0, options.limit);
    for (const row of claimable) Object.assign(row, { leaseOwner: owner, leaseExpiresAt: now + options.leaseMs });
    return claimable.map(({ flowId, stepIndex, shardIndex, shardCount, kind }) => ({ flowId, stepIndex, shardIndex, shardCount, kind }));
  }

  renewShardLeases(owner: string, shards: readonly ShardKey[], leaseMs: number): Map<string, QueueStatus> {
    const held = new Map<string, QueueStatus>();
    const now = this.now();
    for (const shard of shards) {
      const key = shardKeyText(shard);
      const row = this.rows.get(key);
      if (row?.leaseOwner !== owner) continue;
      row.leaseExpiresAt = now + leaseMs;
      held.set(key, this.flowStatus(shard.flowId) ?? 'failed');
    }
    return held;
  }

  releaseShard(shard: ShardKey, owner: string, due: ShardDue): void {
    const row = this.rows.get(shardKeyText(shard));
    if (row?.leaseOwner !== owner) return;
    Object.assign(row, { leaseOwner: null, leaseExpiresAt: null, dueAt: this.dueTime(shard.flowId, due, this.now()) });
    if (row.dueAt !== null) this.notify();
  }

  /** The append of a flow's `FlowCancelled` closes its shards (SQL: the append statement's `shards_closed`). */
  closeFlow(flowId: string): void {
    for (const row of this.rows.values()) if (row.flowId === flowId) row.dueAt = null;
  }

  listShards(flowId: string): ShardRow[] {
    const now = this.now();
    return [...this.rows.values()]
      .filter((r) => r.flowId === flowId)
      .sort((a, b) => a.stepIndex - b.stepIndex || a.shardIndex - b.shardIndex)
      .map((r) => ({
        flowId,
        stepIndex: r.stepIndex,
        shardIndex: r.shardIndex,
        kind: r.kind,
        open: r.dueAt !== null,
        holder: r.leaseOwner !== null && (r.leaseExpiresAt ?? 0) >= now ? r.leaseOwner : null,
      }));
  }

  hasOpenShards(): boolean {
    for (const row of this.rows.values()) if (row.dueAt !== null && this.isOpen(row)) return true;
    return false;
  }

  /** The earliest due time of an open shard whose lease is free or will expire (epoch ms). */
  nextWakeAt(): number | null {
    let earliest: number | null = null;
    for (const row of this.rows.values()) {
      if (row.dueAt === null || !this.isOpen(row)) continue;
      const at = Math.max(row.dueAt, row.leaseExpiresAt ?? row.dueAt);
      earliest = earliest === null ? at : Math.min(earliest, at);
    }
    return earliest;
  }

  /** Whether an open item may still be claimed (now or once due and its lease expired): `itemFlowLets`. */
  private isOpen(row: Row): boolean {
    return itemFlowLets(row, this.flowStatus(row.flowId));
  }

  /** A shard's due time as given, except that a cancelled flow's shards are never due. */
  private dueTime(flowId: string, due: ShardDue, now: number): number | null {
    if (due === 'closed' || this.flowStatus(flowId) === 'cancelled') return null;
    return due === 'now' ? now : due.at;
  }
}
