import type { SqlQuery } from './executor.js';
import type { AppendBatch } from './event-queries.js';
import { closeCancelledShards } from './shard-queries.js';
import { ERROR_COLUMNS, ERROR_VALUES_FROM_JSON, msFromNow, QUEUE_ROW_COLUMNS, queueRowValues, queueUpdate } from './sql-fragments.js';

/** One row of the result: `request` is the 1-based position of the append in the statement. */
export interface AppendManyRow {
  request: number;
  head_version: number;
  seq: string | number | null;
  version: number | null;
}

/**
 * The appends of several DIFFERENT flows in ONE statement: one round trip, one parse and plan, one
 * executor start-up and one commit for all, where a statement per flow would pay each per flow (on a
 * CPU-bound server that is most of an append's cost). It is `appendEventsQuery` with every part keyed
 * by flow: each flow has its own head guard, so a stale append inserts nothing and the others go on;
 * its error rows, artifacts and queue row join on its own inserted events.
 *
 * Every flow may appear only once (a statement sees one snapshot, so a second append of the same flow
 * could not see the first, and the queue upsert may touch a row only once): the caller splits a batch
 * into rounds of distinct flows. The queue rows' parts (created, updated), the error and the artifact
 * parts are left out when no append needs them: a few fixed texts, each prepared once per connection.
 */
export function appendManyQuery(batches: readonly AppendBatch[], schemaVersion: number): SqlQuery {
  const requests = batches.map((b) => ({
    flowId: b.flowId,
    expectedVersion: b.expectedVersion,
    leaseOwner: (b.expectedVersion === 0 ? b.lease?.owner : b.holder) ?? null,
    leaseMs: b.expectedVersion === 0 ? (b.lease?.leaseMs ?? null) : null,
    events: b.events,
    queue: b.queue,
  }));
  const values: unknown[] = [JSON.stringify(requests), schemaVersion];
  const errors = batches.flatMap((b) => b.errors);
  if (errors.length > 0) values.push(JSON.stringify(errors));
  const artifacts = batches.flatMap((b) => b.artifacts.map((a) => ({ ...a, flowId: b.flowId })));
  if (artifacts.length > 0) values.push(JSON.stringify(artifacts));
  const cancels = batches.some((b) => b.events.some((e) => e.type === 'FlowCancelled'));
  const creates = batches.some((b) => b.expectedVersion === 0);
  const updates = batches.some((b) => b.expectedVersion !== 0);
  const shape = `${creates ? 1 : 0}${updates ? 1 : 0}${errors.length > 0 ? 1 : 0}${artifacts.length > 0 ? 1 : 0}${cancels ? 1 : 0}`;
  let text = APPEND_MANY_TEXTS.get(shape);
  if (text === undefined) {
    const parts = [APPEND_EVENTS];
    if (creates) parts.push(CREATE_QUEUE_ROWS);
    if (updates) parts.push(UPDATE_QUEUE_ROWS);
    if (errors.length > 0) parts.push(appendErrors(3));
    if (artifacts.length > 0) parts.push(appendArtifacts(errors.length > 0 ? 4 : 3));
    if (cancels) parts.push(CLOSE_SHARDS);
    text = `WITH ${parts.join(',\n')}\n${APPEND_RESULT}`;
    APPEND_MANY_TEXTS.set(shape, text);
  }
  return { text, values };
}

/** The text of each combination of parts, built once (see `appendEventsQuery`'s). */
const APPEND_MANY_TEXTS = new Map<string, string>();

const APPEND_EVENTS = `request AS (
  SELECT r.ord::int AS ord, (r.e->>'flowId')::uuid AS flow_id, (r.e->>'expectedVersion')::int AS expected,
    r.e->>'leaseOwner' AS lease_owner, (r.e->>'leaseMs')::int AS lease_ms, r.e->'events' AS events,
    r.e->'queue' AS queue
  FROM jsonb_array_elements($1::text::jsonb) WITH ORDINALITY AS r(e, ord)
), head AS (
  SELECT request.*, (SELECT COALESCE(MAX(l.version), 0) FROM event_log l WHERE l.flow_id = request.flow_id) AS version
  FROM request
), inserted AS (
  INSERT INTO event_log (flow_id, version, ts, event_type, schema_version, payload)
  SELECT head.flow_id, head.expected + source.ord::int, (source.e->>'ts')::timestamptz, source.e->>'type', $2::int,
    source.e->'payload'
  FROM head CROSS JOIN LATERAL jsonb_array_elements(head.events) WITH ORDINALITY AS source(e, ord)
  WHERE head.version = head.expected
  ORDER BY head.ord, source.ord
  RETURNING flow_id, seq, version, event_type, payload
)`;

/**
 * `appendEventsQuery`'s queue rows, per flow: each request carries its batch's projection, and its
 * lease (a flow it creates) or its holder (`queueUpdate`) as `lease_owner`.
 */
const CREATE_QUEUE_ROWS = `created AS (
  INSERT INTO flow_queue AS q (${QUEUE_ROW_COLUMNS})
  SELECT head.flow_id, head.lease_owner,
    CASE WHEN head.lease_owner IS NULL THEN NULL ELSE ${msFromNow('head.lease_ms')} END,
    ${queueRowValues('head.queue')}
  FROM head
  WHERE head.expected = 0 AND EXISTS (SELECT 1 FROM inserted i WHERE i.flow_id = head.flow_id)
  ORDER BY head.flow_id
  ON CONFLICT (flow_id) DO NOTHING
)`;

const UPDATE = queueUpdate('head.queue', 'head.lease_owner');
const UPDATE_QUEUE_ROWS = `queue AS (
  UPDATE flow_queue AS q SET ${UPDATE.set}
  FROM head
  WHERE q.flow_id = head.flow_id AND head.expected > 0 AND EXISTS (SELECT 1 FROM inserted i WHERE i.flow_id = head.flow_id)
    AND ${UPDATE.changes}
)`;

/** `appendEventsQuery`'s closing of a cancelled flow's shard rows, per flow that the batch cancels. */
const CLOSE_SHARDS = closeCancelledShards(`SELECT DISTINCT flow_id FROM inserted WHERE event_type = 'FlowCancelled'`);

function appendErrors(param: number): string {
  return `errors AS (
  INSERT INTO step_execution_errors (${ERROR_COLUMNS})
  SELECT ${ERROR_VALUES_FROM_JSON}
  FROM jsonb_array_elements($${param}::text::jsonb) WITH ORDINALITY AS source(e, ord)
  JOIN inserted ON inserted.flow_id = (source.e->>'flowId')::uuid AND inserted.version = (source.e->>'version')::int
  ORDER BY source.ord
)`;
}

/** As in `appendEventsQuery`, within the artifact's own flow; the first of a hash in the batch wins. */
function appendArtifacts(param: number): string {
  return `artifacts AS (
  INSERT INTO workflow_step_artifacts (hash, kind, form, payload, manifest, metadata, produced_in_seq)
  SELECT source.e->>'hash', source.e->>'kind', coalesce(source.e->>'form', 'whole'), source.e->'payload',
    source.e->'manifest', source.e->'metadata',
    (SELECT i.seq FROM inserted i
      WHERE i.flow_id = (source.e->>'flowId')::uuid AND i.event_type = 'StepFinished'
        AND i.payload->'outputs' ? (source.e->>'hash')
      ORDER BY i.version LIMIT 1)
  FROM jsonb_array_elements($${param}::text::jsonb) WITH ORDINALITY AS source(e, ord)
  WHERE EXISTS (SELECT 1 FROM inserted i WHERE i.flow_id = (source.e->>'flowId')::uuid)
  ORDER BY source.ord
  ON CONFLICT (hash) DO NOTHING
)`;
}

const APPEND_RESULT = `SELECT head.ord AS request, head.version AS head_version, inserted.seq, inserted.version
FROM head LEFT JOIN inserted ON inserted.flow_id = head.flow_id
ORDER BY head.ord, inserted.version`;
