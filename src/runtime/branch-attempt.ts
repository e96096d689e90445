import type { StoredArtifact } from '../core/artifact.js';
import { decideBranch, type BranchDecision } from '../core/decide-branch.js';
import { recordAttempt, slotAt, type AttemptOutcome, type Recorded, type RetryVerdict } from '../core/decide.js';
import type { FlowDefinition } from '../core/definition.js';
import { LeaseLostError } from '../core/error-class.js';
import type { FlowPlan } from '../core/flow-plan.js';
import type { Clock } from './clock.js';
import type { FlowSession } from './flow-session.js';
import { afterItemDecision, type ItemRunEnd } from './item-decision.js';
import { refusedOutputsFailure } from './refused-outputs.js';
import type { LeaseKeeper, WorkItemLease } from './lease-keeper.js';
import { runStepAttempt, type StepAttemptIo } from './step-attempt.js';

/** What a process needs to run one graph step claimed as a work item. */
export interface BranchWork {
  /** The flow's session: the step's start and outcome are written through it (the coordinator's own, or one opened for the item). */
  session: FlowSession<FlowDefinition>;
  plan: FlowPlan;
  index: number;
  clock: Clock;
  leases: LeaseKeeper;
  io: Omit<StepAttemptIo, 'stop'>;
  /** Told every retry decision of the step's failures (the engine's retry counters). */
  onRetry?: (verdict: RetryVerdict) => void;
}

/** How a step item's run by this process ended. */
export type BranchRunEnd = ItemRunEnd;

/**
 * Runs one claimed graph step as far as it goes now: records a lost attempt of it (`WORKER_LOST`, with
 * its automatic retry) if its previous holder died, starts it (its StepStarted decided on the log as it
 * stands, through the flow's one writer), runs it under the item's lease, records its outcome (a retry
 * due at once runs here too), and gives the item back: closed when done, due again at a retry's time.
 * Nothing is chained: the flow's coordinator decides what comes next.
 */
export async function runBranch(work: BranchWork, lease: WorkItemLease): Promise<BranchRunEnd> {
  const { session, plan, index, clock } = work;
  const decideHere = (): Promise<BranchDecision> =>
    session.update((flow) => {
      const decision = decideBranch(flow, plan, index, { now: clock.now() });
      return { events: decision.kind === 'start' || decision.kind === 'recover' ? decision.events : [], result: decision };
    });
  let decision = await decideHere();
  for (;;) {
    if (decision.kind === 'recover') work.onRetry?.(decision.retry);
    const opening = await afterItemDecision(work.leases, lease, decision);
    if (opening !== 'run') return opening;
    const attempt = slotAt(session.flow, index).attempts;
    const run = await runStepAttempt(session, plan, index, { ...work.io, stop: lease.signal });
    if (lease.signal.reason instanceof LeaseLostError) {
      // Another process may hold this item now: the attempt's outcome is theirs to record (as lost).
      work.leases.forget(lease);
      return 'lost';
    }
    const record = (outcome: AttemptOutcome, outputs: readonly StoredArtifact[], withCache: boolean) =>
      session.update((flow): { events: Recorded['events']; artifacts?: readonly StoredArtifact[]; cacheEntry?: NonNullable<typeof run.cacheEntry>; result: Recorded | null } => {
        // Recorded only against the attempt it ran: one recorded meanwhile (a cancel's lost record) is not ours to repeat.
        const now = flow.steps[index];
        if (now?.status !== 'Running' || now.attempts !== attempt) return { events: [], result: null };
        const r = recordAttempt(flow, plan, index, outcome, { now: clock.now(), chain: false });
        return {
          events: r.events,
          ...(outputs.length > 0 ? { artifacts: outputs } : {}),
          ...(withCache && run.cacheEntry !== undefined && outcome.ok ? { cacheEntry: run.cacheEntry } : {}),
          result: r,
        };
      });
    let recorded: Recorded | null;
    let outcome = run.outcome;
    try {
      recorded = await record(outcome, run.outputs, true);
    } catch (error) {
      // Outputs the database refuses for their size or content fail the attempt, as in the coordinator.
      const refused = run.outputs.length > 0 ? refusedOutputsFailure(error) : undefined;
      if (refused === undefined) throw error;
      outcome = { ok: false, error: refused, signals: outcome.signals };
      recorded = await record(outcome, [], false);
    }
    if (recorded === null) {
      // Someone recorded this attempt meanwhile (a cancel; a coordinator that took it for lost and
      // scheduled its retry): what is left of the item is decided on the log as it now stands, so that
      // a retry scheduled for it keeps its item, and runs here if it is due.
      if (!lease.signal.aborted) {
        decision = await decideHere();
        continue;
      }
      const left = decideBranch(session.flow, plan, index, { now: clock.now() });
      await work.leases.releaseItem(lease, left.kind === 'start' ? 'now' : left.kind === 'wait' ? { at: left.until } : 'closed');
      return 'closed';
    }
    if (recorded.retry !== null) work.onRetry?.(recorded.retry);
    if (outcome.ok) {
      await work.leases.releaseItem(lease, 'closed');
      return 'finished';
    }
    const retry = recorded.retry?.outcome === 'scheduled' ? recorded.retry.event : null;
    if (retry === null || run.corruptInput || lease.signal.aborted || Date.parse(retry.notBefore) > clock.now()) {
      await work.leases.releaseItem(lease, retry === null ? 'closed' : { at: Date.parse(retry.notBefore) });
      return 'failed';
    }
    // Its retry is due at once: started here, on the log as it then stands.
    decision = await decideHere();
  }
}
