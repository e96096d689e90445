// The flow queue's rules, one statement per store: random but valid histories appended to every store,
// batch by batch, with lease operations and claims in between, leave each flow's queue row exactly as
// the rules of src/core/queue-row.ts say (status, due time, lease, version, times), and the rows rebuilt
// from the log too. A store whose queue applies a rule its own way differs on some history here. And
// the rows the appends leave are the rows rebuilt from the log, however the log was batched: a rule
// that every store applies alike but that depends on the batching differs on some history here too.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlowStore } from '../../src/stores/flow-store.js';
import { OPEN_STATUSES, QUEUE_STATUSES, queueStatusAfter } from '../../src/core/queue-status.js';
import { eventPayload } from '../../src/core/event-codec.js';
import type { FlowEvent } from '../../src/core/events.js';
import { ENDED_STATUSES } from '../../src/core/flow-state.js';
import { run } from '../../src/stores/sql/executor.js';
import { SqlFlowStore } from '../../src/stores/sql/sql-flow-store.js';
import {
  cancelThenFailed,
  continueFlowEvents,
  failedThenRetriedInOneBatch,
  firstDifference,
  firstRebuildDifference,
  observe,
  Rng,
  RuleQueue,
  scenario,
  shardFailedThenSiblingRanInOneBatch,
  type Observation,
} from '../support/queue-scenarios.js';
import { engineStores } from '../support/stores.js';

const SEED = Number(process.env.CHEMFLOW_QUEUE_SEED ?? 20261204);
const FLOWS = 200;

/** The queue statuses a piece of SQL names. */
const statusesIn = (sql: string): string[] => [...new Set([...sql.matchAll(/'(\w+)'/g)].map((m) => m[1] as string))].filter((w) => (QUEUE_STATUSES as readonly string[]).includes(w)).sort();

describe.each(engineStores.filter((s) => s.name !== 'memory'))('the queue rules in the SQL of $name', ({ create }) => {
  let store: FlowStore;
  beforeAll(async () => {
    store = await create();
  });
  afterAll(() => store.close());

  // The claim statement reads OPEN_STATUSES (as "not ENDED_STATUSES"); the partial index it runs on
  // and the wake-up trigger must name the same statuses, or claims scan history and idle workers miss
  // wake-ups.
  it("the database's index of open flows and its wake-up trigger name the open statuses", async () => {
    if (!(store instanceof SqlFlowStore)) throw new Error('expected a SQL store');
    const [row] = await run<{ index: string; trigger: string; notify: string }>(store.executor, {
      text: `SELECT pg_get_indexdef('flow_queue_runnable'::regclass) AS index,
  (SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgname = 'flow_queue_notify_update' AND tgrelid = 'flow_queue'::regclass) AS trigger,
  pg_get_functiondef('chemflow_notify_flow_queue'::regproc) AS notify`,
      values: [],
    });
    const open = [...OPEN_STATUSES].sort();
    expect(row?.index).toMatch(/WHERE \(status <> ALL/);
    expect(statusesIn(row?.index ?? '')).toEqual([...ENDED_STATUSES].sort());
    expect([statusesIn(row?.trigger ?? ''), statusesIn(row?.notify ?? '')]).toEqual([open, open]);
    expect([...OPEN_STATUSES, ...ENDED_STATUSES].sort()).toEqual([...QUEUE_STATUSES].sort());
  });

  // The rebuild states the status rule in SQL; the random histories end on few kinds of last event,
  // so the rule is also compared event by event, on the outcomes of flows that go on after a failure.
  it('chemflow_queue_status gives the status of queueStatusAfter for every event of flows whose onFailure is continue', async () => {
    if (!(store instanceof SqlFlowStore)) throw new Error('expected a SQL store');
    const rng = new Rng(SEED);
    const events = Array.from({ length: 30 }, () => continueFlowEvents(rng, 'going')).flat();
    const rows = await run<{ status: string }>(store.executor, {
      text: `SELECT chemflow_queue_status(e.type, e.payload, e.ts, false) AS status
FROM unnest($1::text[], $2::jsonb[], $3::timestamptz[]) WITH ORDINALITY AS e(type, payload, ts, n) ORDER BY e.n`,
      values: [events.map((e) => e.type), events.map((e) => JSON.stringify(eventPayload(e))), events.map((e) => e.ts)],
    });
    const marked = events.filter((e) => 'flowFailed' in e);
    expect(new Set(marked.map((e) => `${e.type}:${'flowFailed' in e ? String(e.flowFailed) : ''}`))).toEqual(new Set(['StepFailed:false', 'StepFinished:true']));
    expect(rows.map((r) => r.status)).toEqual(events.map((e) => queueStatusAfter(e as FlowEvent, false)));
  });
});

describe.each(engineStores)('the queue rules on $name', { timeout: 180_000 }, ({ create }) => {
  // One store for the file (a fresh embedded database takes seconds): each test's flows are its own.
  let store: FlowStore;
  beforeAll(async () => {
    store = await create();
  });
  afterAll(() => store.close());

  it('cancelled, then the attempt in flight fails: the row stays cancelled and the lease is cleared', async () => {
    const plan = cancelThenFailed(randomUUID());
    const script = { flows: [plan], rounds: plan.batches.map(() => ({ together: false, claim: false })) };
    const rows = (seen: Observation[]) => seen.map((o) => o.rows.get(plan.flowId));
    const expected = await observe(new RuleQueue(), script);
    expect(rows(expected).at(-2)).toMatchObject({ status: 'cancelled', lastEventType: 'StepFailed', due: null, leaseOwner: null, leased: null });
    expect(rows(await observe(store, script))).toEqual(rows(expected));
  });

  it('a failed flow retried, restarted and finished in one batch is pending and due at once', async () => {
    const plan = failedThenRetriedInOneBatch(randomUUID());
    const script = { flows: [plan], rounds: plan.batches.map(() => ({ together: false, claim: true })) };
    const seen = await observe(store, script);
    expect(seen[1]?.rows.get(plan.flowId)).toMatchObject({ status: 'pending', lastEventType: 'StepFinished', due: 'r1', leaseOwner: 'claimer' });
    expect(firstDifference(await observe(new RuleQueue(), script), seen, script.flows)).toBeNull();
  });

  it("a shard failed for good, then its sibling started and finished in one batch: running, as the rebuild says", async () => {
    const plan = shardFailedThenSiblingRanInOneBatch(randomUUID());
    const script = { flows: [plan], rounds: plan.batches.map(() => ({ together: false, claim: false })) };
    const seen = await observe(store, script);
    expect(seen.map((o) => o.rows.get(plan.flowId)?.status)).toEqual(['running', 'failed', 'running', 'running']);
    expect(firstRebuildDifference(seen, script.flows)).toBeNull();
    expect(firstDifference(await observe(new RuleQueue(), script), seen, script.flows)).toBeNull();
  });

  // The random histories are appended once (their flows' ids are the seed's); both tests read the run.
  const script = scenario(SEED, FLOWS);
  let random: Promise<{ expected: Observation[]; actual: Observation[] }> | undefined;
  const randomRun = () => (random ??= (async () => ({ expected: await observe(new RuleQueue(), script), actual: await observe(store, script) }))());

  it(`${FLOWS} random histories (seed ${SEED}) leave the rows the rules say, after every round and after a rebuild`, async () => {
    const { expected, actual } = await randomRun();
    expect(firstDifference(expected, actual, script.flows)).toBeNull();
  });

  it(`${FLOWS} random histories (seed ${SEED}): each flow's row after its appends is the row rebuilt from its log, however the log was batched`, async () => {
    const { expected, actual } = await randomRun();
    expect(firstRebuildDifference(expected, script.flows)).toBeNull();
    expect(firstRebuildDifference(actual, script.flows)).toBeNull();
  });
});
