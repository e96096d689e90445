import { isFileArtifact, type StoredArtifact } from '../../core/artifact.js';
import { BlobDirRequiredError } from '../../core/errors.js';
import type { NewFlowEvent, FlowEvent } from '../../core/events.js';
import type { ErrorCounts, StepExecutionError } from '../../core/step-execution-error.js';
import type {
  ErrorSearch,
  FoundError,
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
} from '../flow-store.js';
import type { BlobStore } from '../blobs/blob-store.js';
import { MemoryBlobStore } from '../blobs/memory-blob-store.js';
import type { SqlExecutor } from './executor.js';
import { migrate } from './migrate.js';
import { PgArtifactStore } from './pg-artifact-store.js';
import { PgErrorStore } from './pg-error-store.js';
import { PgEventStore } from './pg-event-store.js';
import { PgFlowQueue } from './pg-flow-queue.js';
import { PgFlowRepository } from './pg-flow-repository.js';
import { PgShardQueue } from './pg-shard-queue.js';
import { PgWorkQueue } from './pg-work-queue.js';
import type { ClaimedWork, ClaimWorkOptions, HeldWork, RenewedWork } from '../work-queue.js';
import { PgStepCache } from './pg-step-cache.js';
import { SqlBlobStore } from './sql-blob-store.js';
import type { ClaimedShard, ClaimShardsOptions, ShardDue, ShardKey, ShardRow } from '../shard-queue.js';
import type { CacheEntry, CachePruneOptions, CacheStats } from '../step-cache-index.js';
import { withRetry } from './transient.js';

/**
 * The one database store: every SQL line is shared by embedded PGlite and the PostgreSQL server,
 * which differ only in their executor.
 */
export class SqlFlowStore implements FlowStore {
  readonly kind: SqlExecutor['kind'];
  readonly events: PgEventStore;
  readonly errors: PgErrorStore;
  readonly artifacts: PgArtifactStore;
  readonly repository: PgFlowRepository;
  readonly queue: PgFlowQueue;
  readonly cache: PgStepCache;
  readonly shards: PgShardQueue;
  readonly work: PgWorkQueue;

  private constructor(
    readonly executor: SqlExecutor,
    readonly blobs: BlobStore,
  ) {
    this.kind = executor.kind;
    this.events = new PgEventStore(executor);
    this.errors = new PgErrorStore(executor);
    this.artifacts = new PgArtifactStore(executor);
    this.repository = new PgFlowRepository(this.events, this.errors);
    this.queue = new PgFlowQueue(executor);
    this.cache = new PgStepCache(executor);
    this.shards = new PgShardQueue(executor);
    this.work = new PgWorkQueue(executor);
  }

  /**
   * Brings the schema up to date (idempotent, safe against concurrent openers) and opens the store.
   * `blobs` defaults to the database's own `artifact_chunks` table on a PostgreSQL server (batch chunks
   * only) and to memory for PGlite: `openPgliteStore` gives a directory-backed database its `blobs/`.
   */
  static async open(executor: SqlExecutor, blobs?: BlobStore): Promise<SqlFlowStore> {
    try {
      await withRetry('migrate the database', () => migrate(executor, 'up'));
    } catch (error) {
      await executor.close().catch(() => undefined);
      throw error;
    }
    return new SqlFlowStore(executor, blobs ?? (executor.kind === 'postgres' ? new SqlBlobStore(executor) : new MemoryBlobStore()));
  }

  append(
    flowId: string,
    expectedVersion: number,
    events: readonly NewFlowEvent[],
    options?: AppendOptions,
  ): Promise<AppendResult> {
    const refused = this.filesRefused(options);
    if (refused !== undefined) return Promise.reject(refused);
    return this.events.append(flowId, expectedVersion, events, options);
  }

  async appendBatch(requests: readonly AppendRequest[]): Promise<AppendOutcome[]> {
    const refusals = requests.map((r) => this.filesRefused(r.options));
    if (refusals.every((r) => r === undefined)) return this.events.appendBatch(requests);
    const outcomes = await this.events.appendBatch(requests.filter((_, i) => refusals[i] === undefined));
    return refusals.map((refused) => (refused === undefined ? (outcomes.shift() as AppendOutcome) : { ok: false, error: refused }));
  }

  /** A file artifact is never recorded where its bytes cannot be kept (a database table keeps chunks only). */
  private filesRefused(options: AppendOptions | undefined): BlobDirRequiredError | undefined {
    if (this.blobs.keepsFiles || options?.artifacts?.some(isFileArtifact) !== true) return undefined;
    return new BlobDirRequiredError(this.blobs.location);
  }

  list(flowId: string): Promise<FlowEvent[]> {
    return this.events.list(flowId);
  }

  getArtifacts(hashes: readonly string[]): Promise<StoredArtifact[]> {
    return this.artifacts.getArtifacts(hashes);
  }

  referencedBlobs(): Promise<Set<string>> {
    return this.artifacts.referencedBlobs();
  }

  listErrors(flowId: string, stepId?: string): Promise<StepExecutionError[]> {
    return this.errors.listErrors(flowId, stepId);
  }

  getErrorTimeline(flowId: string, stepId: string): Promise<StepExecutionError[]> {
    return this.errors.getErrorTimeline(flowId, stepId);
  }

  searchErrors(search: ErrorSearch): Promise<FoundError[]> {
    return this.errors.searchErrors(search);
  }

  countErrorsByFlow(flowId: string): Promise<ErrorCounts> {
    return this.errors.countErrorsByFlow(flowId);
  }

  listFlows(query?: FlowQuery): Promise<FlowSummary[]> {
    return this.queue.listFlows(query);
  }

  claimFlows(owner: string, options: ClaimFlowsOptions): Promise<ClaimedFlow[]> {
    return this.queue.claimFlows(owner, options);
  }

  acquireLease(flowId: string, owner: string, leaseMs: number, takeOverFrom?: string): Promise<LeaseAcquisition> {
    return this.queue.acquireLease(flowId, owner, leaseMs, takeOverFrom);
  }

  releaseLease(flowId: string, owner: string, until?: { at: number; version: number }): Promise<void> {
    return this.queue.releaseLease(flowId, owner, until);
  }

  claimWork(owner: string, options: ClaimWorkOptions): Promise<ClaimedWork> {
    return this.work.claimWork(owner, options);
  }

  renewWork(owner: string, held: HeldWork, leaseMs: number): Promise<RenewedWork> {
    return this.work.renewWork(owner, held, leaseMs);
  }

  nextWakeAt(): Promise<number | null> {
    return this.queue.nextWakeAt();
  }

  queueDepth(): Promise<Record<'pending' | 'running' | 'waiting', number>> {
    return this.queue.queueDepth();
  }

  openShards(flowId: string, stepIndex: number, shardCount: number, shards: readonly { index: number; due: ShardDue }[]): Promise<void> {
    return this.shards.openShards(flowId, stepIndex, shardCount, shards);
  }

  openSteps(flowId: string, steps: readonly { index: number; due: ShardDue }[]): Promise<void> {
    return this.shards.openSteps(flowId, steps);
  }

  claimShards(owner: string, options: ClaimShardsOptions): Promise<ClaimedShard[]> {
    return this.shards.claimShards(owner, options);
  }

  hasOpenShards(): Promise<boolean> {
    return this.shards.hasOpenShards();
  }

  releaseShard(shard: ShardKey, owner: string, due: ShardDue): Promise<void> {
    return this.shards.releaseShard(shard, owner, due);
  }

  listShards(flowId: string): Promise<ShardRow[]> {
    return this.shards.listShards(flowId);
  }

  rebuildQueue(flowId?: string): Promise<number> {
    return this.queue.rebuildQueue(flowId);
  }

  subscribe(listener: () => void): Promise<() => Promise<void>> {
    return this.queue.subscribe(listener);
  }

  lookupCache(key: string): Promise<CacheEntry | null> {
    return this.cache.lookupCache(key);
  }

  cacheStats(): Promise<CacheStats> {
    return this.cache.cacheStats();
  }

  pruneCache(options?: CachePruneOptions): Promise<number> {
    return this.cache.pruneCache(options);
  }

  close(): Promise<void> {
    return this.executor.close();
  }
}
