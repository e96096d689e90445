import { randomUUID } from 'node:crypto';
import { initializedEvent, slotAt } from '../core/decide.js';
import type { FlowDefinition, FlowShape } from '../core/definition.js';
import { FlowNotFoundError } from '../core/errors.js';
import type { FlowEvent } from '../core/events.js';
import type { FlowInstance } from '../core/flow-state.js';
import { shapeFromEvents } from '../core/reducer.js';
import type { RetryPolicy } from '../core/retry-policy.js';
import { resolveStepPolicies } from '../core/step-policy.js';
import type { RunOptions, StartOptions } from './engine-options.js';
import { FlowSession, type FlowHandle, type SessionIo } from './flow-session.js';
import type { FlowLease, LeaseKeeper } from './lease-keeper.js';

/** How an engine creates and opens flows, and holds their leases: each with one read of the log at most. */
export class FlowSessions {
  constructor(
    private readonly io: SessionIo,
    private readonly leases: LeaseKeeper,
    private readonly policy: RetryPolicy,
  ) {}

  /** A new flow: FlowInitialized (with the step policies resolved now), leased and started if asked. */
  async start(definition: FlowDefinition, options: StartOptions): Promise<FlowSession> {
    const session = FlowSession.replayed(options.flowId ?? randomUUID(), definition, [], this.io);
    if (options.leased === true) await this.create(session, options.metadata);
    else await session.commit([initializedEvent(definition, options.metadata ?? {}, resolveStepPolicies(definition, this.policy))]);
    return session;
  }

  /** A stored flow from one read of its log (none when the caller just read it); unknown ones throw. */
  async open<D extends FlowShape>(flowId: string, definition: D, events?: readonly FlowEvent[]): Promise<FlowSession<D>> {
    const log = events ?? (await this.io.store.list(flowId));
    if (log.length === 0) throw new FlowNotFoundError(flowId);
    return FlowSession.replayed(flowId, definition, log, this.io);
  }

  /** A stored flow without its step code: the shape its FlowInitialized recorded. */
  async openStored(flowId: string): Promise<FlowSession<FlowShape>> {
    const events = await this.io.store.list(flowId);
    const shape = shapeFromEvents(events);
    if (shape === undefined) throw new FlowNotFoundError(flowId);
    return FlowSession.replayed(flowId, shape, events, this.io);
  }

  /**
   * The session and options of `runToEnd`/`next`'s two forms: `(handle, options?)`, or `(flowId,
   * definition, options?)` which reads the log once (a flow without events is created on the first lease).
   */
  async of(target: FlowHandle | string, second?: FlowDefinition | RunOptions, third?: RunOptions): Promise<[FlowSession, RunOptions]> {
    if (typeof target !== 'string') return [asSession(target), (second as RunOptions | undefined) ?? {}];
    if (second === undefined || !('steps' in second)) throw new TypeError(`A definition is needed to run flow ${target}`);
    return [FlowSession.replayed(target, second, await this.io.store.list(target), this.io), third ?? {}];
  }

  /**
   * The lease the session runs under: the caller's, the session's own, or acquired here (a flow this
   * call creates is created leased). While it is held no other process runs the flow, so a Running
   * attempt found now was left by a process whose lease expired: `decide` recovers it.
   */
  async lease(session: FlowSession, options: RunOptions): Promise<FlowLease> {
    session.lease = options.lease ?? session.lease ?? (session.version === 0 ? await this.create(session) : await this.leases.acquire(session.flowId));
    return session.lease;
  }

  /**
   * Hands the flow back after it ran. An ended flow's lease was cleared by the append that ended it (no
   * round trip); an open one is released for anyone to claim when due.
   */
  async giveBack(session: { flow: FlowInstance; lease?: FlowLease | undefined }, lease: FlowLease): Promise<void> {
    session.lease = undefined;
    if (session.flow.status === 'completed' || session.flow.status === 'failed') this.leases.forget(lease);
    else await this.leases.release(lease);
  }

  /**
   * Creates the session's flow leased to this engine, with its first step started in the same commit,
   * unless that step is mapped: a mapped source is split first (its StepStarted records its shard
   * count), as every mapped step's start is never chained.
   */
  private async create(session: FlowSession, metadata: StartOptions['metadata'] = {}): Promise<FlowLease> {
    const init = initializedEvent(session.definition, metadata, resolveStepPolicies(session.definition, this.policy));
    const mapped = session.definition.steps[0]?.map !== undefined;
    const first = { type: 'StepStarted', stepIndex: 0, stepId: slotAt(session.flow, 0).stepId, attempt: 1 } as const;
    await session.commit(mapped ? [init] : [init, first], { lease: { owner: this.leases.owner, leaseMs: this.leases.leaseMs } });
    return (session.lease = this.leases.adopt(session.flowId));
  }
}

export function asSession<D extends FlowShape>(handle: FlowHandle<D>): FlowSession<D> {
  if (!(handle instanceof FlowSession)) throw new TypeError('This flow handle was not opened by a FlowEngine (use engine.open or engine.start)');
  return handle as FlowSession<D>;
}
