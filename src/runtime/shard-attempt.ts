import type { StoredArtifact } from '../core/artifact.js';
import type { ChunkLimits } from '../core/chunk.js';
import { decideShard, recordShardAttempt, type AttemptOutcome, type Recorded, type RetryVerdict } from '../core/decide.js';
import type { FlowDefinition } from '../core/definition.js';
import { classifyError, LeaseLostError } from '../core/error-class.js';
import type { FlowPlan } from '../core/flow-plan.js';
import type { FlowInstance } from '../core/flow-state.js';
import type { BlobStore } from '../stores/blobs/blob-store.js';
import type { Clock } from './clock.js';
import type { FlowSession } from './flow-session.js';
import { afterItemDecision, type ItemRunEnd } from './item-decision.js';
import type { LeaseKeeper, WorkItemLease } from './lease-keeper.js';
import { shardInputAt } from './batch-shards.js';
import { sourceShardAt } from './source-split.js';
import { refusedOutputsFailure } from './refused-outputs.js';
import { withFlowViews } from './flow-views.js';
import { runAttempt } from './step-runner.js';
import type { StepThreads } from './step-threads.js';
import type { ResourcePool } from './resource-pool.js';

/** What a process needs to run the shards of one sharded step of one flow. */
export interface ShardWork {
  /** The flow's session: every shard's outcome is written through it. */
  session: FlowSession<FlowDefinition>;
  plan: FlowPlan;
  index: number;
  /** The step's whole input (read once per process, shared by its shards): batches and files as manifests. */
  input: () => Promise<readonly StoredArtifact[]>;
  clock: Clock;
  baseDir: string;
  leases: LeaseKeeper;
  /** Threads to run shard attempts in, for steps whose code a thread can load (`StepThreads.canRun`). */
  threads?: StepThreads | undefined;
  /** Where batch inputs are read and outputs written. */
  blobs: BlobStore;
  /** Where batch outputs are cut into chunks; default `DEFAULT_CHUNK_LIMITS`. */
  chunkLimits?: ChunkLimits | undefined;
  /** The cores and memory each shard attempt of a step with `resources` waits for, then holds while it runs. */
  resources?: ResourcePool | undefined;
  /** Where command steps make their attempts' directories. */
  workRoot?: string | undefined;
  /** Told every retry decision of a shard's failure (the engine's retry counters). */
  onRetry?: (verdict: RetryVerdict) => void;
}

/** How a shard's run by this process ended. */
export type ShardRunEnd = ItemRunEnd;

/**
 * Runs one claimed shard as far as it goes now: records a lost attempt of it (`WORKER_LOST`) if its
 * previous holder died, starts it, runs the step's own `run(ctx)` on the shard's slice of the input
 * with `ctx.shard`, records the outcome (a due retry of it chained), and gives the shard back: closed
 * when done, due again at a retry's time.
 */
export async function runShard(work: ShardWork, lease: WorkItemLease): Promise<ShardRunEnd> {
  const { session, plan, index, clock } = work;
  const shard = lease.shardIndex;
  const first = await session.update((flow) => {
    const decision = decideShard(flow, plan, index, shard, { now: clock.now() });
    return { events: decision.kind === 'start' || decision.kind === 'recover' ? decision.events : [], result: decision };
  });
  if (first.kind === 'recover') work.onRetry?.(first.retry);
  const opening = await afterItemDecision(work.leases, lease, first);
  if (opening !== 'run') return opening;
  for (;;) {
    const attempt = shardAttempts(session.flow, index, shard);
    const run = await runShardAttempt(work, lease, attempt);
    if (lease.signal.reason instanceof LeaseLostError) {
      // Another process may hold this shard now: its outcome is theirs to record.
      work.leases.forget(lease);
      return 'lost';
    }
    const record = (outcome: AttemptOutcome, outputs: readonly StoredArtifact[]) =>
      session.update((flow): { events: Recorded['events']; artifacts?: readonly StoredArtifact[]; result: Recorded | null } => {
        // Recorded only against the attempt it ran: a shard taken over meanwhile is not ours to record.
        const now = flow.steps[index]?.shards?.[shard];
        if (now?.status !== 'Running' || now.attempts !== attempt) return { events: [], result: null };
        const r = recordShardAttempt(flow, plan, index, shard, outcome, { now: clock.now(), chain: !lease.signal.aborted });
        return { events: r.events, ...(outputs.length > 0 ? { artifacts: outputs } : {}), result: r };
      });
    let recorded: Recorded | null;
    try {
      recorded = await record(run.outcome, run.outputs);
    } catch (error) {
      // Outputs the database refuses for their size or content fail the shard's attempt, as a step's do.
      const refused = run.outputs.length > 0 ? refusedOutputsFailure(error) : undefined;
      if (refused === undefined) throw error;
      run.outcome = { ok: false, error: refused, signals: run.outcome.signals };
      recorded = await record(run.outcome, []);
    }
    if (recorded === null) {
      await work.leases.releaseItem(lease, 'closed');
      return 'closed';
    }
    if (recorded.retry !== null) work.onRetry?.(recorded.retry);
    if (run.outcome.ok) {
      await work.leases.releaseItem(lease, 'closed');
      return 'finished';
    }
    if (recorded.starts !== null) continue; // its retry was due at once and is started: run it
    const retry = recorded.retry?.outcome === 'scheduled' ? recorded.retry.event : null;
    await work.leases.releaseItem(lease, retry === null ? 'closed' : { at: Date.parse(retry.notBefore) });
    return 'failed';
  }
}

/** One attempt of the shard: the step's code on the shard's input, never throwing. */
async function runShardAttempt(work: ShardWork, lease: WorkItemLease, attempt: number): Promise<{ outcome: AttemptOutcome; outputs: StoredArtifact[] }> {
  const { session, index } = work;
  const step = session.definition.steps[index];
  const map = step?.map;
  if (step === undefined || map === undefined) throw new RangeError(`Step ${index} of flow ${session.flowId} is not a mapped step`);
  const { blobs } = work;
  let slice;
  try {
    slice =
      step.split === undefined
        ? await shardInputAt(await work.input(), map, lease.shardIndex, blobs)
        : sourceShardAt(lease.shardIndex, session.flow.steps[index]?.shards?.length ?? 1);
  } catch (error) {
    return { outcome: { ok: false, error: classifyError(error), signals: [] }, outputs: [] };
  }
  const run = work.threads?.canRun(step) === true ? work.threads.run.bind(work.threads) : runAttempt;
  // Waiting for cores and memory is not part of the attempt's time: its timeout starts once it runs.
  const release = work.resources === undefined ? () => undefined : await work.resources.acquire(step.resources, lease.signal);
  const result = await run(
    step,
    withFlowViews(
      {
        input: [...slice.input],
        attempt,
        flowId: session.flowId,
        stepId: step.id,
        baseDir: work.baseDir,
        shard: { index: slice.index, count: slice.count },
        ...(work.workRoot === undefined ? {} : { workRoot: work.workRoot }),
      },
      session.flow,
    ),
    { stop: lease.signal, timeoutMs: work.plan.steps[index]?.timeoutMs ?? null },
    { blobs, chunkLimits: work.chunkLimits },
  ).finally(release);
  if (!result.ok) return { outcome: result, outputs: [] };
  return { outcome: { ok: true, outputs: result.outputs.map((a) => a.hash), signals: result.signals }, outputs: result.outputs };
}

function shardAttempts(flow: FlowInstance, index: number, shard: number): number {
  return flow.steps[index]?.shards?.[shard]?.attempts ?? 0;
}
