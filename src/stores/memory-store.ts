import { isBatchArtifact, isFileArtifact, isWholeArtifact, verifyArtifact, type StoredArtifact } from '../core/artifact.js';
import type { BlobStore } from './blobs/blob-store.js';
import { MemoryBlobStore } from './blobs/memory-blob-store.js';
import { ArtifactNotFoundError, ConcurrencyError, type ArtifactProducer } from '../core/errors.js';
import { EVENT_SCHEMA_VERSION, type FlowEvent, type NewFlowEvent } from '../core/events.js';
import { unstorableInBatch } from '../core/storable.js';
import {
  countErrors,
  errorRecordFromEvent,
  type ErrorCounts,
  type StepExecutionError,
} from '../core/step-execution-error.js';
import type {
  AppendOptions,
  AppendOutcome,
  AppendRequest,
  AppendResult,
  ClaimedFlow,
  ClaimFlowsOptions,
  ErrorSearch,
  FlowQuery,
  FoundError,
  FlowStore,
  FlowSummary,
  LeaseAcquisition,
} from './flow-store.js';
import { MemoryFlowQueue } from './memory-queue.js';
import { MemoryShardQueue } from './memory-shard-queue.js';
import type { ClaimedWork, ClaimWorkOptions, HeldWork, RenewedWork } from './work-queue.js';
import type { ClaimedShard, ClaimShardsOptions, ShardDue, ShardKey, ShardRow } from './shard-queue.js';
import { MemoryStepCache } from './memory-step-cache.js';
import { cacheEntryProblem, cancelsFlow, type CacheEntry, type CachePruneOptions, type CacheStats } from './step-cache-index.js';

/** The in-memory store: same contract as the databases, for tests and one-off runs. */
export class MemoryFlowStore implements FlowStore {
  readonly kind = 'memory';
  private readonly logs = new Map<string, FlowEvent[]>();
  private readonly artifacts = new Map<string, StoredArtifact>();
  /** The step that first produced each artifact, as `produced_in_seq` records it in the databases. */
  private readonly producers = new Map<string, ArtifactProducer>();
  private readonly errors: StepExecutionError[] = [];
  private readonly queue = new MemoryFlowQueue();
  private readonly cache = new MemoryStepCache();
  private readonly shards = new MemoryShardQueue(
    (flowId) => this.queue.statusOf(flowId),
    () => this.queue.wake(),
  );
  private seq = 0;

  constructor(readonly blobs: BlobStore = new MemoryBlobStore()) {}

  append(
    flowId: string,
    expectedVersion: number,
    events: readonly NewFlowEvent[],
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    // Applied at once, as before (a read issued right after sees it); only the failure is deferred.
    try {
      return Promise.resolve(this.appendNow(flowId, expectedVersion, events, options));
    } catch (error) {
      return Promise.reject(asError(error));
    }
  }

  /** One after the other: in memory every append is already atomic and nothing is flushed. */
  appendBatch(requests: readonly AppendRequest[]): Promise<AppendOutcome[]> {
    return Promise.resolve(
      requests.map((r): AppendOutcome => {
        try {
          return { ok: true, result: this.appendNow(r.flowId, r.expectedVersion, r.events, r.options) };
        } catch (error) {
          return { ok: false, error: asError(error) };
        }
      }),
    );
  }

  private appendNow(
    flowId: string,
    expectedVersion: number,
    events: readonly NewFlowEvent[],
    options: AppendOptions = {},
  ): AppendResult {
    const log = this.logs.get(flowId) ?? [];
    if (log.length !== expectedVersion) throw new ConcurrencyError(flowId, expectedVersion, log.length);
    const unstorable = unstorableInBatch(events, options.artifacts);
    if (unstorable !== undefined) throw unstorable;
    const placed = events.map((e, i) => Object.assign({}, e, { flowId, version: expectedVersion + i + 1, seq: 0, schemaVersion: EVENT_SCHEMA_VERSION }));
    const badEntry = cacheEntryProblem(flowId, placed, options.cacheEntry);
    if (badEntry !== undefined) throw badEntry;
    // Copied once and deep-frozen, like a row in an append-only table: callers can never alias or
    // change stored state, so reads need not copy it again (replay reads the whole log).
    const stored = events.map(
      (event, i): FlowEvent =>
        deepFreeze(
          Object.assign(structuredClone<NewFlowEvent>(event), {
            flowId,
            version: expectedVersion + i + 1,
            seq: ++this.seq,
            schemaVersion: EVENT_SCHEMA_VERSION,
          }),
        ),
    );
    log.push(...stored);
    this.logs.set(flowId, log);
    for (const artifact of options.artifacts ?? []) {
      if (this.artifacts.has(artifact.hash)) continue;
      this.artifacts.set(artifact.hash, structuredClone(artifact));
      const producer = stored.find((e) => e.type === 'StepFinished' && e.outputs.includes(artifact.hash));
      if (producer?.type === 'StepFinished') this.producers.set(artifact.hash, { flowId, stepId: producer.stepId });
    }
    for (const event of stored) if (event.type === 'StepFailed') this.errors.push(errorRecordFromEvent(event));
    // A cancelled flow is never a cache source, as the databases' append statement decides.
    if (options.cacheEntry !== undefined && !cancelsFlow(log)) this.cache.record(flowId, stored, options.cacheEntry);
    this.queue.project(flowId, stored, expectedVersion === 0 ? options.lease : undefined);
    // No shard of a cancelled flow is due again: its rows close with the cancellation.
    if (stored.some((e) => e.type === 'FlowCancelled')) this.shards.closeFlow(flowId);
    return { events: stored, version: log.length };
  }

  /** The flow's events, deep-frozen: the same objects on every read, never copies. */
  list(flowId: string): Promise<FlowEvent[]> {
    return Promise.resolve([...(this.logs.get(flowId) ?? [])]);
  }

  getArtifacts(hashes: readonly string[]): Promise<StoredArtifact[]> {
    const missing = hashes.find((hash) => !this.artifacts.has(hash));
    if (missing !== undefined) return Promise.reject(new ArtifactNotFoundError(missing));
    // Verified on every read, like the databases: memory held by a long-lived process can be changed too.
    return Promise.resolve().then(() =>
      hashes.map((hash) => {
        const artifact = structuredClone(this.artifacts.get(hash) as StoredArtifact);
        return isWholeArtifact(artifact) ? verifyArtifact(artifact, this.producers.get(hash) ?? null) : artifact;
      }),
    );
  }

  referencedBlobs(): Promise<Set<string>> {
    const hashes = new Set<string>();
    for (const artifact of this.artifacts.values()) {
      if (isBatchArtifact(artifact)) for (const chunk of artifact.manifest.chunks) hashes.add(chunk.hash);
      else if (isFileArtifact(artifact)) hashes.add(artifact.hash);
    }
    return Promise.resolve(hashes);
  }

  /** Number of stored artifacts (for deduplication checks). */
  artifactCount(): number {
    return this.artifacts.size;
  }

  listErrors(flowId: string, stepId?: string): Promise<StepExecutionError[]> {
    return Promise.resolve(
      structuredClone(this.errors.filter((e) => e.flowId === flowId && (stepId === undefined || e.stepId === stepId))),
    );
  }

  async getErrorTimeline(flowId: string, stepId: string): Promise<StepExecutionError[]> {
    const rows = await this.listErrors(flowId, stepId);
    return rows.sort((a, b) => a.attemptNumber - b.attemptNumber);
  }

  searchErrors(search: ErrorSearch): Promise<FoundError[]> {
    const found: FoundError[] = [];
    for (let id = this.errors.length; id >= 1 && found.length < (search.limit ?? 100); id -= 1) {
      const row = this.errors[id - 1];
      if (row === undefined || (search.before !== undefined && id >= search.before)) continue;
      const flowName = this.queue.nameOf(row.flowId) ?? '';
      if (!errorMatches(row, flowName, search)) continue;
      found.push({ ...structuredClone(row), id, flowName });
    }
    return Promise.resolve(found);
  }

  async countErrorsByFlow(flowId: string): Promise<ErrorCounts> {
    return countErrors(await this.listErrors(flowId));
  }

  listFlows(query?: FlowQuery): Promise<FlowSummary[]> {
    const errorClass = query?.errorClass;
    const withErrors = errorClass === undefined ? undefined : new Set(this.errors.filter((e) => e.errorClass === errorClass).map((e) => e.flowId));
    return Promise.resolve(this.queue.listFlows(query, withErrors));
  }

  claimFlows(owner: string, options: ClaimFlowsOptions): Promise<ClaimedFlow[]> {
    const claimed = this.queue.claimFlows(owner, options);
    if (options.events !== true) return Promise.resolve(claimed);
    return Promise.resolve(claimed.map((c) => ({ ...c, events: [...(this.logs.get(c.flowId) ?? [])] })));
  }

  acquireLease(flowId: string, owner: string, leaseMs: number, takeOverFrom?: string): Promise<LeaseAcquisition> {
    return Promise.resolve(this.queue.acquireLease(flowId, owner, leaseMs, takeOverFrom));
  }

  releaseLease(flowId: string, owner: string, until?: { at: number; version: number }): Promise<void> {
    this.queue.releaseLease(flowId, owner, until);
    return Promise.resolve();
  }

  /** Flows first (`claimFlows`), then work items (`claimShards`) up to what is left of the limit. */
  claimWork(owner: string, options: ClaimWorkOptions): Promise<ClaimedWork> {
    if (options.limit <= 0) return Promise.resolve({ flows: [], items: [] });
    const claimed = this.queue.claimFlows(owner, { limit: options.limit, leaseMs: options.leaseMs, ...(options.skipFlows === undefined ? {} : { skip: options.skipFlows }) });
    const flows = options.events === true ? claimed.map((c) => ({ ...c, events: [...(this.logs.get(c.flowId) ?? [])] })) : claimed;
    const left = options.limit - flows.length;
    const items = left <= 0 ? [] : this.shards.claimShards(owner, { limit: left, leaseMs: options.leaseMs, ...(options.skipSteps === undefined ? {} : { skipSteps: options.skipSteps }) });
    return Promise.resolve({ flows, items });
  }

  renewWork(owner: string, held: HeldWork, leaseMs: number): Promise<RenewedWork> {
    return Promise.resolve({ flows: this.queue.renewLeases(owner, held.flowIds, leaseMs), items: this.shards.renewShardLeases(owner, held.items, leaseMs) });
  }

  nextWakeAt(): Promise<number | null> {
    const flows = this.queue.nextWakeAt();
    const shards = this.shards.nextWakeAt();
    return Promise.resolve(flows === null ? shards : shards === null ? flows : Math.min(flows, shards));
  }

  openShards(flowId: string, stepIndex: number, shardCount: number, shards: readonly { index: number; due: ShardDue }[]): Promise<void> {
    this.shards.openShards(flowId, stepIndex, shardCount, shards);
    return Promise.resolve();
  }

  openSteps(flowId: string, steps: readonly { index: number; due: ShardDue }[]): Promise<void> {
    this.shards.openSteps(flowId, steps);
    return Promise.resolve();
  }

  claimShards(owner: string, options: ClaimShardsOptions): Promise<ClaimedShard[]> {
    return Promise.resolve(this.shards.claimShards(owner, options));
  }

  hasOpenShards(): Promise<boolean> {
    return Promise.resolve(this.shards.hasOpenShards());
  }

  listShards(flowId: string): Promise<ShardRow[]> {
    return Promise.resolve(this.shards.listShards(flowId));
  }

  releaseShard(shard: ShardKey, owner: string, due: ShardDue): Promise<void> {
    this.shards.releaseShard(shard, owner, due);
    return Promise.resolve();
  }

  queueDepth(): Promise<Record<'pending' | 'running' | 'waiting', number>> {
    return Promise.resolve(this.queue.queueDepth());
  }

  rebuildQueue(flowId?: string): Promise<number> {
    return Promise.resolve(this.queue.rebuild(this.logs, flowId));
  }

  subscribe(listener: () => void): Promise<() => Promise<void>> {
    return Promise.resolve(this.queue.subscribe(listener));
  }

  lookupCache(key: string): Promise<CacheEntry | null> {
    return Promise.resolve(this.cache.lookup(key));
  }

  cacheStats(): Promise<CacheStats> {
    return Promise.resolve(this.cache.stats(this.logs.values(), (hash) => this.artifacts.get(hash)));
  }

  pruneCache(options: CachePruneOptions = {}): Promise<number> {
    return Promise.resolve(this.cache.prune(options));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** Does a row pass every filter of `search` (its id cursor and limit aside)? */
function errorMatches(row: StepExecutionError, flowName: string, search: ErrorSearch): boolean {
  const at = Date.parse(row.timestamp);
  return (
    (search.errorClass === undefined || row.errorClass === search.errorClass) &&
    (search.code === undefined || row.details.error_code === search.code) &&
    (search.stepId === undefined || row.stepId === search.stepId) &&
    (search.flowName === undefined || flowName === search.flowName) &&
    (search.since === undefined || at >= Date.parse(search.since)) &&
    (search.until === undefined || at < Date.parse(search.until))
  );
}
