import type { CacheEntry, CachePruneOptions, CacheStats } from '../stores/step-cache-index.js';
import type { StoredArtifact } from '../core/artifact.js';
import type { BlobStore } from '../stores/blobs/blob-store.js';
import type { FlowEvent, NewFlowEvent } from '../core/events.js';
import type { QueueStatus } from '../core/queue-status.js';
import type { ErrorCounts, StepExecutionError } from '../core/step-execution-error.js';
import type {
  AppendOptions,
  AppendOutcome,
  AppendRequest,
  AppendResult,
  ClaimedFlow,
  ClaimFlowsOptions,
  FlowQuery,
  FlowStore,
  FlowSummary,
  LeaseAcquisition,
} from '../stores/flow-store.js';
import type { ClaimedShard, ClaimShardsOptions, ShardDue, ShardKey, ShardRow } from '../stores/shard-queue.js';
import { GroupCommitter, type GroupCommitOptions } from './group-commit.js';

/**
 * A store whose `append` goes through a `GroupCommitter`: hand it to every engine of a process (or a
 * worker) in place of the store, and the appends of all the flows they run share commits with no other
 * change. Everything else is the wrapped store's own call. Share ONE wrapper: a committer per flow
 * would never have two appends to group.
 */
export class GroupCommitStore implements FlowStore {
  readonly kind: FlowStore['kind'];
  readonly committer: GroupCommitter;
  readonly blobs: BlobStore;

  constructor(
    readonly inner: FlowStore,
    options: GroupCommitOptions = {},
  ) {
    this.kind = inner.kind;
    this.blobs = inner.blobs;
    this.committer = new GroupCommitter(inner, options);
  }

  append(flowId: string, expectedVersion: number, events: readonly NewFlowEvent[], options?: AppendOptions): Promise<AppendResult> {
    return this.committer.append(flowId, expectedVersion, events, options);
  }

  appendBatch(requests: readonly AppendRequest[]): Promise<AppendOutcome[]> {
    return this.inner.appendBatch(requests);
  }

  list(flowId: string): Promise<FlowEvent[]> {
    return this.inner.list(flowId);
  }

  getArtifacts(hashes: readonly string[]): Promise<StoredArtifact[]> {
    return this.inner.getArtifacts(hashes);
  }

  referencedBlobs(): Promise<Set<string>> {
    return this.inner.referencedBlobs();
  }

  listErrors(flowId: string, stepId?: string): Promise<StepExecutionError[]> {
    return this.inner.listErrors(flowId, stepId);
  }

  getErrorTimeline(flowId: string, stepId: string): Promise<StepExecutionError[]> {
    return this.inner.getErrorTimeline(flowId, stepId);
  }

  countErrorsByFlow(flowId: string): Promise<ErrorCounts> {
    return this.inner.countErrorsByFlow(flowId);
  }

  listFlows(query?: FlowQuery): Promise<FlowSummary[]> {
    return this.inner.listFlows(query);
  }

  claimFlows(owner: string, options: ClaimFlowsOptions): Promise<ClaimedFlow[]> {
    return this.inner.claimFlows(owner, options);
  }

  acquireLease(flowId: string, owner: string, leaseMs: number, takeOverFrom?: string): Promise<LeaseAcquisition> {
    return this.inner.acquireLease(flowId, owner, leaseMs, takeOverFrom);
  }

  renewLeases(owner: string, flowIds: readonly string[], leaseMs: number): Promise<Map<string, QueueStatus>> {
    return this.inner.renewLeases(owner, flowIds, leaseMs);
  }

  releaseLease(flowId: string, owner: string): Promise<void> {
    return this.inner.releaseLease(flowId, owner);
  }

  openShards(flowId: string, stepIndex: number, shardCount: number, shards: readonly { index: number; due: ShardDue }[]): Promise<void> {
    return this.inner.openShards(flowId, stepIndex, shardCount, shards);
  }

  claimShards(owner: string, options: ClaimShardsOptions): Promise<ClaimedShard[]> {
    return this.inner.claimShards(owner, options);
  }

  renewShardLeases(owner: string, shards: readonly ShardKey[], leaseMs: number): Promise<Map<string, QueueStatus>> {
    return this.inner.renewShardLeases(owner, shards, leaseMs);
  }

  hasOpenShards(): Promise<boolean> {
    return this.inner.hasOpenShards();
  }

  releaseShard(shard: ShardKey, owner: string, due: ShardDue): Promise<void> {
    return this.inner.releaseShard(shard, owner, due);
  }

  listShards(flowId: string): Promise<ShardRow[]> {
    return this.inner.listShards(flowId);
  }

  nextWakeAt(): Promise<number | null> {
    return this.inner.nextWakeAt();
  }

  queueDepth(): Promise<Record<'pending' | 'running' | 'waiting', number>> {
    return this.inner.queueDepth();
  }

  rebuildQueue(flowId?: string): Promise<number> {
    return this.inner.rebuildQueue(flowId);
  }

  lookupCache(key: string): Promise<CacheEntry | null> {
    return this.inner.lookupCache(key);
  }

  cacheStats(): Promise<CacheStats> {
    return this.inner.cacheStats();
  }

  pruneCache(options?: CachePruneOptions): Promise<number> {
    return this.inner.pruneCache(options);
  }

  subscribe(listener: () => void): Promise<() => Promise<void>> {
    return this.inner.subscribe(listener);
  }

  /** Lets the appends already made settle, then closes the wrapped store. */
  async close(): Promise<void> {
    await this.committer.drain();
    await this.inner.close();
  }
}
