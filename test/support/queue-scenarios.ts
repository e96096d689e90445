// Random but valid flow histories, appended batch by batch to a store in lock-step rounds with lease
// operations and claims between them, and what the store's queue rows were after each round, in a form
// every store can be compared on (its clock's times as the round that wrote them). The reference is
// `RuleQueue`: the queue's rules of src/core/queue-row.ts on their own, with no store around them.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ShardPosition } from '../../src/core/definition.js';
import type { FlowEvent, NewFlowEvent } from '../../src/core/events.js';
import { EVENT_SCHEMA_VERSION } from '../../src/core/events.js';
import { appendedQueueRow, isClaimable, mayTakeLease, rebuiltQueueRow, type QueueLease, type QueueRow } from '../../src/core/queue-row.js';
import type { QueueStatus } from '../../src/core/queue-status.js';
import type { AppendRequest, ClaimedFlow, FlowStore, FlowSummary, LeaseAcquisition } from '../../src/stores/flow-store.js';
import { queueRowSummary } from '../../src/stores/memory-queue.js';
import type { HeldWork, RenewedWork } from '../../src/stores/work-queue.js';

export const LEASE_MS = 600_000;
const OWNERS = ['w1', 'w2'] as const;
const STEP_IDS = ['load', 'score', 'report'] as const;

/** mulberry32: a small seeded generator, so a failing history can be replayed from its seed. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  uuid(): string {
    const hex = Array.from({ length: 32 }, () => this.int(16).toString(16)).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  }
}

export type LeaseOp =
  | { kind: 'acquire'; owner: string; takeOverFrom?: string }
  | { kind: 'release'; owner: string }
  | { kind: 'renew'; owner: string };

/** One flow's history: its batches (batch r is appended in round r) and the lease operations of each round. */
export interface FlowPlan {
  flowId: string;
  batches: NewFlowEvent[][];
  /** The lease its first append takes (a process that creates a flow and runs it at once). */
  lease?: QueueLease;
  ops: LeaseOp[][];
  /**
   * Per batch after the first, the lease owner the appender says it holds the flow under
   * (`AppendOptions.holder`), if any: whoever holds it or not, so the SQL stores' appends both write
   * the row and leave it unwritten; the rows must not tell.
   */
  holders?: (string | undefined)[];
}

export interface Scenario {
  flows: FlowPlan[];
  /** Per round: whether its appends go one by one or as one many-flow `appendBatch`; whether a claimer then claims every claimable flow. */
  rounds: { together: boolean; claim: boolean }[];
}

/** The operations a scenario uses: the flow store's, or the rules' own (`RuleQueue`). */
export type QueueSubject = Pick<
  FlowStore,
  'append' | 'appendBatch' | 'claimFlows' | 'acquireLease' | 'releaseLease' | 'renewWork' | 'listFlows' | 'rebuildQueue'
>;

type Draft = NewFlowEvent & { due?: 'now' | 'soon' | 'later' };

/** A flow's events as the engine writes them: steps with retries, sharded steps, signals, a cancel with outcomes in flight after it. */
function flowEvents(rng: Rng, name: string): NewFlowEvent[] {
  const events: Draft[] = [
    { type: 'FlowInitialized', ts: '', definitionHash: 'a'.repeat(64), stepCount: STEP_IDS.length, flowName: name, stepIds: [...STEP_IDS], metadata: {} },
  ];
  let ended = false;
  for (let step = 0; step < STEP_IDS.length && !ended; step++) {
    let done = false;
    for (let attempt = 1; attempt <= 3 && !done && !ended; attempt++) {
      if (rng.chance(0.3)) {
        events.push({ ...started(step, attempt), shardCount: 2 });
        const { events: shardEvents, failedForGood } = shardsOf(rng, step);
        events.push(...shardEvents);
        if (failedForGood) ended = true;
        else {
          events.push(finished(step, attempt));
          done = true;
        }
      } else {
        events.push(started(step, attempt));
        if (rng.chance(0.2)) events.push(signal(step, attempt));
        if (rng.chance(0.6)) {
          events.push(finished(step, attempt));
          done = true;
        } else if (attempt === 3 || rng.chance(0.3)) {
          events.push(failed(step, attempt, 'Permanent'));
          ended = true;
        } else events.push(failed(step, attempt, 'Transient'), retry(rng, step, attempt));
      }
    }
  }
  if (!ended) events.push({ type: 'FlowCompleted', ts: '', flowFingerprint: 'b'.repeat(64) });
  else if (events[events.length - 1]?.type === 'StepFailed' && rng.chance(0.3)) events.push(retry(rng, 0, 9)); // `chemflow retry`
  const kept = rng.chance(0.3) ? cancelledAt(rng, events) : events;
  return stamp(kept);
}

/** Two shards of a step, each started, possibly signalled, finished or failed (for good, or retried); interleaved. */
function shardsOf(rng: Rng, step: number): { events: Draft[]; failedForGood: boolean } {
  let failedForGood = false;
  const perShard = [0, 1].map((index) => {
    const shard: ShardPosition = { index, count: 2 };
    const own: Draft[] = [];
    for (let attempt = 1; attempt <= 2; attempt++) {
      own.push({ ...started(step, attempt), shard });
      if (rng.chance(0.2)) own.push({ ...signal(step, attempt), shard });
      if (rng.chance(0.6)) {
        own.push({ ...finished(step, attempt), shard });
        return own;
      }
      const forGood = attempt === 2 || rng.chance(0.3);
      own.push({ ...failed(step, attempt, forGood ? 'Permanent' : 'Transient'), shard });
      if (forGood) {
        failedForGood = true;
        return own;
      }
      own.push({ ...retry(rng, step, attempt), shard });
    }
    return own;
  });
  const merged: Draft[] = [];
  const [a = [], b = []] = perShard;
  while (a.length > 0 || b.length > 0) merged.push((b.length === 0 || (a.length > 0 && rng.chance(0.5)) ? a.shift() : b.shift()) as Draft);
  return { events: merged, failedForGood };
}

/** An operator's cancel at a random point after creation; up to two outcomes already in flight are recorded after it. */
function cancelledAt(rng: Rng, events: Draft[]): Draft[] {
  const at = 1 + rng.int(events.length - 1);
  return [...events.slice(0, at), { type: 'FlowCancelled', ts: '', reason: 'cancelled' }, ...events.slice(at, at + rng.int(3))];
}

let clock = Date.parse('2024-06-01T00:00:00.000Z');

/** Timestamps in log order; a retry is due at once (`now`), soon after its failure (`soon`: waiting, but due) or in an hour (`later`). */
function stamp(drafts: Draft[]): NewFlowEvent[] {
  return drafts.map(({ due, ...event }) => {
    clock += 7;
    const ts = new Date(clock).toISOString();
    if (event.type !== 'RetryScheduled') return { ...event, ts };
    const notBefore = due === 'later' ? Date.now() + 3_600_000 : due === 'soon' ? clock + 5_000 : clock;
    return { ...event, ts, notBefore: new Date(notBefore).toISOString() };
  });
}

const stepId = (step: number): string => STEP_IDS[step] ?? `step-${step}`;

function started(stepIndex: number, attempt: number): Extract<Draft, { type: 'StepStarted' }> {
  return { type: 'StepStarted', ts: '', stepIndex, stepId: stepId(stepIndex), attempt };
}
function signal(stepIndex: number, attempt: number): Extract<Draft, { type: 'StepSignal' }> {
  return { type: 'StepSignal', ts: '', stepIndex, stepId: stepId(stepIndex), attempt, name: 'progress', data: attempt };
}
function finished(stepIndex: number, attempt: number): Extract<Draft, { type: 'StepFinished' }> {
  return { type: 'StepFinished', ts: '', stepIndex, stepId: stepId(stepIndex), attempt, outputs: [], fingerprint: 'c'.repeat(64) };
}
function failed(stepIndex: number, attempt: number, errorClass: 'Permanent' | 'Transient'): Extract<Draft, { type: 'StepFailed' }> {
  return {
    type: 'StepFailed',
    ts: '',
    stepIndex,
    stepId: stepId(stepIndex),
    attempt,
    errorClass,
    error: { code: 'E_TEST', message: `attempt ${attempt} failed` },
    details: {},
    fingerprint: 'c'.repeat(64),
    retryCount: attempt - 1,
    maxRetries: 2,
  };
}
function retry(rng: Rng, stepIndex: number, retryIndex: number): Extract<Draft, { type: 'RetryScheduled' }> {
  return {
    type: 'RetryScheduled',
    ts: '',
    stepIndex,
    stepId: stepId(stepIndex),
    retryIndex,
    reason: null,
    delayMs: 0,
    notBefore: '',
    due: rng.pick(['now', 'soon', 'later'] as const),
  };
}

/** Split into batches of one to three events (the first holds the FlowInitialized), with lease operations between them. */
function planOf(rng: Rng, events: NewFlowEvent[]): FlowPlan {
  const batches: NewFlowEvent[][] = [];
  for (let i = 0; i < events.length; ) {
    const size = 1 + rng.int(3);
    batches.push(events.slice(i, i + size));
    i += size;
  }
  const ops = batches.map(() => (rng.chance(0.3) ? [leaseOp(rng)] : []));
  const plan = { flowId: rng.uuid(), batches, ops, ...(rng.chance(0.4) ? { lease: { owner: rng.pick(OWNERS), leaseMs: LEASE_MS } } : {}) };
  return { ...plan, holders: batches.map(() => rng.pick([...OWNERS, 'claimer', undefined])) };
}

function leaseOp(rng: Rng): LeaseOp {
  const owner = rng.pick([...OWNERS, 'claimer']);
  const kind = rng.pick(['acquire', 'release', 'renew'] as const);
  if (kind === 'acquire' && rng.chance(0.3)) return { kind, owner, takeOverFrom: rng.pick([...OWNERS, 'claimer']) };
  return { kind, owner };
}

/**
 * The case the stores once disagreed on: a flow leased to the worker running its step, cancelled, then
 * the attempt in flight records its failure. The failure ends the attempt: the lease is cleared.
 */
export function cancelThenFailed(flowId: string): FlowPlan {
  const events = stamp([
    { type: 'FlowInitialized', ts: '', definitionHash: 'a'.repeat(64), stepCount: 3, flowName: 'cancelled', stepIds: [...STEP_IDS], metadata: {} },
    started(0, 1),
    { type: 'FlowCancelled', ts: '', reason: 'operator' },
    failed(0, 1, 'Transient'),
  ]);
  return { flowId, batches: [events.slice(0, 2), events.slice(2, 3), events.slice(3)], lease: { owner: 'w1', leaseMs: LEASE_MS }, ops: [[], [], []] };
}

/**
 * The case the SQL merge once got wrong: a failed flow's retry, its new attempt and that attempt's
 * StepFinished committed in one batch. The flow is pending again, so it must be due, not left without
 * a due time where no claim would ever find it.
 */
export function failedThenRetriedInOneBatch(flowId: string): FlowPlan {
  const events = stamp([
    { type: 'FlowInitialized', ts: '', definitionHash: 'a'.repeat(64), stepCount: 3, flowName: 'retried', stepIds: [...STEP_IDS], metadata: {} },
    started(0, 1),
    failed(0, 1, 'Transient'),
    { ...retry(new Rng(1), 0, 1), due: 'now' },
    started(0, 2),
    finished(0, 2),
  ]);
  return { flowId, batches: [events.slice(0, 3), events.slice(3)], ops: [[], []] };
}

/**
 * The case where the append once depended on how the log was batched: a shard fails for good, then its
 * sibling's StepStarted and StepFinished are committed in one batch. The flow is running again, as the
 * rebuild says: the sibling started after the failure (as a retry would). The merge once kept the row
 * failed, looking only at the batch's last event, a sibling's outcome.
 */
export function shardFailedThenSiblingRanInOneBatch(flowId: string): FlowPlan {
  const events = stamp([
    { type: 'FlowInitialized', ts: '', definitionHash: 'a'.repeat(64), stepCount: 3, flowName: 'sharded', stepIds: [...STEP_IDS], metadata: {} },
    { ...started(0, 1), shardCount: 2 },
    { ...started(0, 1), shard: { index: 0, count: 2 } },
    { ...failed(0, 1, 'Permanent'), shard: { index: 0, count: 2 } },
    { ...started(0, 1), shard: { index: 1, count: 2 } },
    { ...finished(0, 1), shard: { index: 1, count: 2 } },
  ]);
  return { flowId, batches: [events.slice(0, 2), events.slice(2, 4), events.slice(4)], ops: [[], [], []] };
}

export function scenario(seed: number, flowCount: number): Scenario {
  const rng = new Rng(seed);
  const flows = [cancelThenFailed(rng.uuid()), failedThenRetriedInOneBatch(rng.uuid())];
  for (let i = flows.length; i < flowCount; i++) flows.push(planOf(rng, flowEvents(rng, `flow-${i % 5}`)));
  // Its id is drawn last, so that a seed's histories and rounds stay what they were before it was added.
  const sharded = shardFailedThenSiblingRanInOneBatch('');
  flows.push(sharded);
  const roundCount = Math.max(...flows.map((f) => f.batches.length));
  const rounds = Array.from({ length: roundCount }, () => ({ together: rng.chance(0.3), claim: rng.chance(0.4) }));
  sharded.flowId = rng.uuid();
  // Flows that go on after a failure (onFailure: continue), from a generator of their own: the
  // histories and rounds above stay the seed's.
  const going = new Rng(seed ^ 0x0c0ffee);
  for (let i = 0; i < Math.ceil(flowCount / 4); i++) flows.push(planOf(going, continueFlowEvents(going, `going-${i % 3}`)));
  while (rounds.length < Math.max(...flows.map((f) => f.batches.length))) rounds.push({ together: going.chance(0.3), claim: going.chance(0.4) });
  return { flows, rounds };
}

/**
 * A flow whose onFailure is continue, as the engine writes it: `load`, then `score` and `report` (both
 * need only `load`) at once; `score` fails for good (whole, or one of its two shards) while `report`
 * runs, so its StepFailed is marked `flowFailed: false`; `report` then finishes (marked `true`: the
 * flow fails with it), fails for good, or fails and is retried. Then maybe `chemflow retry` of what
 * failed and the flow completes; maybe a cancel anywhere; maybe cut anywhere.
 */
export function continueFlowEvents(rng: Rng, name: string): NewFlowEvent[] {
  const events: Draft[] = [
    {
      type: 'FlowInitialized',
      ts: '',
      definitionHash: 'd'.repeat(64),
      stepCount: STEP_IDS.length,
      flowName: name,
      stepIds: [...STEP_IDS],
      metadata: {},
      needs: [[], [0], [0]],
      onFailure: 'continue',
    },
    started(0, 1),
    finished(0, 1),
  ];
  const sharded = rng.chance(0.4);
  const first = { index: 0, count: 2 };
  const second = { index: 1, count: 2 };
  if (sharded) events.push({ ...started(1, 1), shardCount: 2 }, { ...started(1, 1), shard: first }, { ...started(1, 1), shard: second });
  else events.push(started(1, 1));
  events.push(started(2, 1));
  if (rng.chance(0.3)) events.push(signal(2, 1));
  events.push({ ...failed(1, 1, 'Permanent'), ...(sharded ? { shard: first } : {}), flowFailed: false });
  // The sibling shard of the failed one records its outcome before or after `report` ends.
  const siblingFirst = sharded && rng.chance(0.5);
  if (siblingFirst) events.push({ ...finished(1, 1), shard: second });
  if (rng.chance(0.3)) events.push(signal(2, 1));
  const reportEnd = rng.pick(['finished', 'failed', 'retried'] as const);
  if (reportEnd === 'finished') events.push({ ...finished(2, 1), flowFailed: true });
  // Nothing else can run when `report` fails: the StepFailed fails the flow, as in any flow (no mark).
  else if (reportEnd === 'failed') events.push(failed(2, 1, 'Permanent'));
  else events.push(failed(2, 1, 'Transient'), retry(rng, 2, 1), started(2, 2), { ...finished(2, 2), flowFailed: true });
  if (sharded && !siblingFirst) events.push({ ...finished(1, 1), shard: second });
  if (rng.chance(0.5)) {
    // `chemflow retry score` (and `report`): the flow goes on and completes.
    // `report` alone done again while `score` is Failed: the flow fails again with it.
    if (reportEnd === 'failed') events.push(retry(rng, 2, 1), started(2, 2), { ...finished(2, 2), flowFailed: true });
    events.push(sharded ? { ...retry(rng, 1, 1), shard: first } : retry(rng, 1, 1));
    if (sharded) events.push({ ...started(1, 2), shard: first }, { ...finished(1, 2), shard: first }, finished(1, 1));
    else events.push(started(1, 2), finished(1, 2));
    events.push({ type: 'FlowCompleted', ts: '', flowFingerprint: 'b'.repeat(64) });
  }
  const kept = rng.chance(0.2) ? cancelledAt(rng, events) : events;
  // Some logs stop anywhere (a flow still on its way), so the rebuild reads every kind of last event.
  return stamp(rng.chance(0.4) ? kept.slice(0, 1 + rng.int(kept.length)) : kept);
}

/** A queue row with its times as the round whose operation set them (`r3`), or their ISO string when no round did (an event's own time). */
export interface ComparableRow {
  name: string;
  status: QueueStatus;
  version: number;
  lastEventType: string;
  createdAt: string;
  updatedAt: string;
  due: string | null;
  leaseOwner: string | null;
  leased: string | null;
}

/** What a scenario saw: per round, every flow's row, each lease operation's answer, the flows claimed. */
export interface Observation {
  round: string;
  rows: Map<string, ComparableRow>;
  answers: Map<string, unknown[]>;
  claimed: string[] | null;
}

/** Runs `scenario` on `subject`, round after round, each round's times apart from the next one's. */
export async function observe(subject: QueueSubject, { flows, rounds }: Scenario): Promise<Observation[]> {
  const windows: { start: number; end: number }[] = [];
  const asRound = (ms: number | null): string | null => {
    if (ms === null) return null;
    const index = windows.findIndex((w) => ms >= w.start - 1 && ms <= w.end + 1);
    return index === -1 ? new Date(ms).toISOString() : `r${index}`;
  };
  const iso = (at: string | null): string | null => asRound(at === null ? null : Date.parse(at));
  const comparable = (row: FlowSummary): ComparableRow => ({
    name: row.name,
    status: row.status,
    version: row.version,
    lastEventType: row.lastEventType,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    due: iso(row.nextDueAt),
    leaseOwner: row.leaseOwner,
    leased: row.leaseExpiresAt === null ? null : asRound(Date.parse(row.leaseExpiresAt) - LEASE_MS),
  });
  const observations: Observation[] = [];
  // The store may hold other flows (other tests'): only the scenario's are compared.
  const ids = new Set(flows.map((f) => f.flowId));
  const versions = new Map<string, number>();

  const round = async (label: string, body: (answers: Map<string, unknown[]>) => Promise<boolean>): Promise<void> => {
    // Rounds' windows must not touch (`asRound` allows 1 ms either side): start once the clock is past the last one's.
    const last = windows.at(-1)?.end;
    if (last !== undefined) while (Date.now() <= last + 2) await sleep(1);
    windows.push({ start: Date.now(), end: Number.POSITIVE_INFINITY });
    const answers = new Map<string, unknown[]>();
    const claim = await body(answers);
    const claims = claim ? await subject.claimFlows('claimer', { limit: 100_000, leaseMs: LEASE_MS }) : null;
    const claimed = claims?.filter((c: ClaimedFlow) => ids.has(c.flowId)).map((c) => `${c.flowId}@${c.version}:${c.status}`).sort() ?? null;
    const listed = await subject.listFlows({ limit: 100_000 });
    (windows[windows.length - 1] as { end: number }).end = Date.now();
    observations.push({ round: label, rows: new Map(listed.filter((r) => ids.has(r.flowId)).map((r) => [r.flowId, comparable(r)])), answers, claimed });
  };

  for (const [r, { together, claim }] of rounds.entries()) {
    await round(`round ${r}${together ? ' (appendBatch)' : ''}${claim ? ' + claim' : ''}`, async (answers) => {
      const requests: AppendRequest[] = flows.flatMap((flow) => {
        const events = flow.batches[r];
        if (events === undefined) return [];
        const expectedVersion = versions.get(flow.flowId) ?? 0;
        versions.set(flow.flowId, expectedVersion + events.length);
        const holder = r === 0 ? undefined : flow.holders?.[r];
        const options = r === 0 && flow.lease !== undefined ? { lease: flow.lease } : holder !== undefined ? { holder } : undefined;
        return [{ flowId: flow.flowId, expectedVersion, events, ...(options === undefined ? {} : { options }) }];
      });
      if (together) {
        const outcomes = await subject.appendBatch(requests);
        const refused = outcomes.find((o) => !o.ok);
        if (refused !== undefined && !refused.ok) throw refused.error;
      } else for (const q of requests) await subject.append(q.flowId, q.expectedVersion, q.events, q.options);
      for (const flow of flows) {
        for (const op of flow.ops[r] ?? []) {
          const said: unknown[] = answers.get(flow.flowId) ?? [];
          said.push(await leaseAnswer(subject, flow.flowId, op, asRound));
          answers.set(flow.flowId, said);
        }
      }
      return claim;
    });
  }
  await round('rebuilt from the log + claim', async () => {
    await subject.rebuildQueue();
    return true;
  });
  return observations;
}

async function leaseAnswer(subject: QueueSubject, flowId: string, op: LeaseOp, asRound: (ms: number | null) => string | null): Promise<unknown> {
  switch (op.kind) {
    case 'acquire': {
      const got: LeaseAcquisition = await subject.acquireLease(flowId, op.owner, LEASE_MS, op.takeOverFrom);
      return got.acquired || got.reason === 'not_found' ? got : { ...got, expiresAt: asRound(Date.parse(got.expiresAt) - LEASE_MS) };
    }
    case 'release':
      await subject.releaseLease(flowId, op.owner);
      return { released: op.owner };
    case 'renew':
      return { renewed: (await subject.renewWork(op.owner, { flowIds: [flowId], items: [] }, LEASE_MS)).flows.get(flowId) ?? null };
  }
}

/**
 * The queue's rules on their own: rows written by `appendedQueueRow`, rebuilt by `rebuiltQueueRow`,
 * claimed by `isClaimable`, leased by `mayTakeLease`, on this process's clock. What every store's
 * queue must equal.
 */
export class RuleQueue implements QueueSubject {
  private readonly logs = new Map<string, FlowEvent[]>();
  private readonly rows = new Map<string, QueueRow>();

  append(flowId: string, expectedVersion: number, events: readonly NewFlowEvent[], options: { lease?: QueueLease; holder?: string } = {}) {
    const log = this.logs.get(flowId) ?? [];
    if (log.length !== expectedVersion) return Promise.reject(new Error(`expected version ${expectedVersion}, head ${log.length}`));
    const stored = events.map((e, i): FlowEvent => ({ ...e, flowId, version: expectedVersion + i + 1, seq: 0, schemaVersion: EVENT_SCHEMA_VERSION }));
    log.push(...stored);
    this.logs.set(flowId, log);
    const row = appendedQueueRow(this.rows.get(flowId), stored, Date.now(), expectedVersion === 0 ? options.lease : undefined);
    if (row !== undefined) this.rows.set(flowId, row);
    return Promise.resolve({ events: stored, version: log.length });
  }

  async appendBatch(requests: readonly AppendRequest[]) {
    const outcomes = [];
    for (const r of requests) outcomes.push({ ok: true as const, result: await this.append(r.flowId, r.expectedVersion, r.events, r.options) });
    return outcomes;
  }

  claimFlows(owner: string, options: { limit: number; leaseMs: number }) {
    const now = Date.now();
    const claimed = [...this.rows.entries()].filter(([, row]) => isClaimable(row, now)).slice(0, options.limit);
    for (const [, row] of claimed) Object.assign(row, { leaseOwner: owner, leaseExpiresAt: now + options.leaseMs });
    return Promise.resolve(claimed.map(([flowId, row]) => ({ flowId, status: row.status, version: row.version })));
  }

  acquireLease(flowId: string, owner: string, leaseMs: number, takeOverFrom?: string): Promise<LeaseAcquisition> {
    const row = this.rows.get(flowId);
    const now = Date.now();
    if (row === undefined) return Promise.resolve({ acquired: false, reason: 'not_found' });
    if (!mayTakeLease(row, owner, now, takeOverFrom))
      return Promise.resolve({ acquired: false, reason: 'leased', owner: row.leaseOwner ?? '?', expiresAt: new Date(row.leaseExpiresAt ?? 0).toISOString() });
    Object.assign(row, { leaseOwner: owner, leaseExpiresAt: now + leaseMs });
    return Promise.resolve({ acquired: true });
  }

  releaseLease(flowId: string, owner: string): Promise<void> {
    const row = this.rows.get(flowId);
    if (row?.leaseOwner === owner) Object.assign(row, { leaseOwner: null, leaseExpiresAt: null });
    return Promise.resolve();
  }

  /** The flows' part of the heartbeat (a scenario holds no work items). */
  renewWork(owner: string, leases: HeldWork, leaseMs: number): Promise<RenewedWork> {
    const held = new Map<string, QueueStatus>();
    for (const flowId of leases.flowIds) {
      const row = this.rows.get(flowId);
      if (row?.leaseOwner !== owner) continue;
      row.leaseExpiresAt = Date.now() + leaseMs;
      held.set(flowId, row.status);
    }
    return Promise.resolve({ flows: held, items: new Map() });
  }

  listFlows(): Promise<FlowSummary[]> {
    return Promise.resolve([...this.rows.entries()].map(([flowId, row]) => queueRowSummary(flowId, row)));
  }

  rebuildQueue(): Promise<number> {
    for (const [flowId, log] of this.logs) {
      const row = rebuiltQueueRow(log, this.rows.get(flowId));
      if (row !== undefined) this.rows.set(flowId, row);
    }
    return Promise.resolve(this.logs.size);
  }
}

/** The first difference between two runs of one scenario, with the history of the flow it is in; null when none. */
export function firstDifference(expected: Observation[], actual: Observation[], flows: readonly FlowPlan[]): string | null {
  for (const [i, want] of expected.entries()) {
    const got = actual[i];
    if (got === undefined) return `${want.round}: not run`;
    if (JSON.stringify(want.claimed) !== JSON.stringify(got.claimed)) {
      const only = (a: string[] | null, b: string[] | null) => (a ?? []).filter((x) => !(b ?? []).includes(x));
      return `${want.round}: claimed differently\n  only by the rules: ${only(want.claimed, got.claimed).join(', ')}\n  only by the store: ${only(got.claimed, want.claimed).join(', ')}`;
    }
    for (const [index, flow] of flows.entries()) {
      const [w, g] = [want.rows.get(flow.flowId), got.rows.get(flow.flowId)];
      const [wa, ga] = [want.answers.get(flow.flowId), got.answers.get(flow.flowId)];
      if (JSON.stringify(w) === JSON.stringify(g) && JSON.stringify(wa) === JSON.stringify(ga)) continue;
      return [
        `${want.round}, flow #${index} (${flow.flowId})`,
        `  rules: ${JSON.stringify(w)}${wa === undefined ? '' : ` answers ${JSON.stringify(wa)}`}`,
        `  store: ${JSON.stringify(g)}${ga === undefined ? '' : ` answers ${JSON.stringify(ga)}`}`,
        `  history: ${describeFlow(flow)}`,
      ].join('\n');
    }
  }
  return null;
}

/**
 * What a rebuild recomputes of a row, to compare the row the appends left with the row rebuilt from the
 * log: all but the lease (kept by the rebuild, taken by claims) and the due time of an open flow (from
 * the append's clock, or the last event's time); a waiting flow's due time is its retry's notBefore.
 */
function recomputed(row: ComparableRow | undefined): unknown {
  if (row === undefined) return undefined;
  const { leaseOwner: _owner, leased: _leased, due, ...rest } = row;
  return { ...rest, due: row.status === 'waiting' || due === null ? due : 'open' };
}

/**
 * The first flow whose row after its last append differs from its row rebuilt from the log, in what
 * the rebuild recomputes (`recomputed`): the queue's row must not depend on how the log was batched.
 * `seen` is a run of `observe`: its last round is the rebuild, the one before it the last appends.
 */
export function firstRebuildDifference(seen: Observation[], flows: readonly FlowPlan[]): string | null {
  const [appended, rebuilt] = [seen.at(-2), seen.at(-1)];
  if (appended === undefined || rebuilt === undefined) return 'no appends and rebuild observed';
  const differences = flows.flatMap((flow, index) => {
    const [a, r] = [recomputed(appended.rows.get(flow.flowId)), recomputed(rebuilt.rows.get(flow.flowId))];
    if (JSON.stringify(a) === JSON.stringify(r)) return [];
    return [
      [
        `flow #${index} (${flow.flowId}): the appends and the rebuild leave different rows`,
        `  appended: ${JSON.stringify(a)}`,
        `  rebuilt:  ${JSON.stringify(r)}`,
        `  history: ${describeFlow(flow)}`,
      ].join('\n'),
    ];
  });
  const [first] = differences;
  if (first === undefined) return null;
  const others = differences.slice(1).map((d) => d.slice(0, d.indexOf(' (')));
  return others.length === 0 ? first : `${first}\nand ${others.length} more: ${others.join(', ')}`;
}

function describeFlow(flow: FlowPlan): string {
  const event = (e: NewFlowEvent): string => {
    const shard = 'shard' in e && e.shard !== undefined ? `#${e.shard.index}` : '';
    const retry = e.type === 'RetryScheduled' ? `(${Date.parse(e.notBefore) - Date.parse(e.ts)}ms)` : '';
    return `${e.type}${shard}${retry}`;
  };
  const lease = flow.lease === undefined ? '' : `created leased to ${flow.lease.owner}; `;
  return lease + flow.batches.map((b, r) => `r${r} [${b.map(event).join(' ')}]${(flow.ops[r] ?? []).map((o) => ` ${JSON.stringify(o)}`).join('')}`).join(' ');
}
