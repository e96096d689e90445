import type { Artifact } from '../../core/artifact.js';
import type { BatchManifest } from '../../core/batch.js';
import type { JsonValue } from '../../core/canonical-json.js';
import type { QueueProjection } from '../../core/queue-status.js';
import type { StepExecutionError } from '../../core/step-execution-error.js';
import type { CacheEntryInput } from '../step-cache-index.js';
import { appendCacheEntry } from './cache-queries.js';
import type { SqlQuery } from './executor.js';
import { closeCancelledShards } from './shard-queries.js';
import { ERROR_COLUMNS, ERROR_VALUES_FROM_JSON, isoTimestamp, msFromNow, QUEUE_ROW_COLUMNS, queueRowValues, queueUpdate } from './sql-fragments.js';

/** One event of an append batch as the statement receives it. */
export interface EventRowInput {
  type: string;
  ts: string;
  payload: Record<string, unknown>;
}

/**
 * A batch or file artifact as the statement writes it: its manifest (a batch's, or a file's size and
 * name) in place of a payload.
 */
export interface ManifestRowInput {
  kind: string;
  hash: string;
  form: 'batch' | 'file';
  manifest: BatchManifest | { size: number; name: string };
  metadata?: Record<string, JsonValue>;
}

/** An artifact as the statement receives it: a whole one as it is (no copy of its payload), or a manifest row. */
export type ArtifactRowInput = Artifact | ManifestRowInput;

/** An error row tied to the version of the `StepFailed` that it projects. */
export type ErrorRowInput = StepExecutionError & { version: number };

export interface AppendBatch {
  flowId: string;
  /** Set only on the batch that creates the flow: its queue row starts leased to this owner. */
  lease?: { owner: string; leaseMs: number } | undefined;
  /**
   * The lease owner under which the appender holds the flow, if it does (`AppendOptions.holder`): its
   * appends that change nothing a claimer reads leave the queue row unwritten (`queueUpdate`).
   */
  holder?: string | undefined;
  expectedVersion: number;
  schemaVersion: number;
  events: readonly EventRowInput[];
  /** What the batch writes on the flow's queue row (`batchProjection`), merged with the row in SQL; null for no events. */
  queue: QueueProjection | null;
  errors: readonly ErrorRowInput[];
  artifacts: readonly ArtifactRowInput[];
  /** The step cache entry of the batch's clean StepFinished, if the step ran with the cache on. */
  cacheEntry?: CacheEntryInput | undefined;
}

/**
 * The whole append in ONE statement (one round trip, one implicit transaction): the events at
 * `expectedVersion + 1 ...`, the error row of every `StepFailed` and the artifacts. The `head` guard
 * inserts nothing unless the log is exactly at `expectedVersion` (stale or gapped appends write no
 * row), and a concurrent appender that passed the same guard hits the unique (flow_id, version)
 * constraint and the whole statement rolls back. Error rows and artifacts join on the inserted
 * events, so they exist only if the events do. The result always has one row carrying `head_version`.
 * The error, artifact and cache parts are left out when the batch has none: a few fixed texts, each
 * prepared once per connection, and the common batch pays for no empty INSERT.
 */
export function appendEventsQuery(batch: AppendBatch): SqlQuery {
  return appendQuery(batch, false);
}

/**
 * The common append of a flow's lease holder in a cheaper statement: a running flow that stays running,
 * due, and leased to the appender (`holder`), whose queue row `queueUpdate` would leave unwritten. One
 * `INSERT` whose guard is the head check and that check on the row (one key lookup each, no update
 * planned), with the error rows, artifacts and cache entry only if it inserted; it never writes the
 * row. It returns only the inserted events: none when the guard did not hold (another append came
 * first, the lease expired or was taken, the flow was deferred or cancelled meanwhile), and the caller
 * then runs `appendEventsQuery`, which tells a conflict from the rest and merges the row. Undefined for
 * a batch that is not such an append (it creates, starts, ends, defers or cancels the flow, or has no
 * holder).
 */
export function quietAppendQuery(batch: AppendBatch): SqlQuery | undefined {
  const quiet =
    batch.expectedVersion > 0 &&
    batch.holder !== undefined &&
    batch.queue?.status === 'running' &&
    OUTCOMES.has(batch.events[0]?.type ?? '') &&
    !batch.events.some((e) => e.type === 'FlowCancelled');
  return quiet ? appendQuery(batch, true) : undefined;
}

/**
 * A batch that opens with a step's outcome follows a running step, so the row was running before it:
 * the batch that starts a pending flow's first step changes the row, and would only fail the check.
 */
const OUTCOMES: ReadonlySet<string> = new Set(['StepFinished', 'StepFailed', 'StepSignal']);

function appendQuery(batch: AppendBatch, quiet: boolean): SqlQuery {
  const creates = batch.expectedVersion === 0;
  const values: unknown[] = [batch.flowId, batch.expectedVersion, JSON.stringify(batch.events), batch.schemaVersion];
  // The quiet statement reads no projection: its row is running and stays so.
  if (quiet) values.push(batch.holder);
  else values.push(JSON.stringify(batch.queue), (creates ? batch.lease?.owner : batch.holder) ?? null);
  if (creates) values.push(batch.lease?.leaseMs ?? null);
  // Artifacts and cache entries read the inserted events' types and payloads; the common batch does not
  // need its payloads copied back out of the insert.
  const readsPayloads = batch.artifacts.length > 0 || batch.cacheEntry !== undefined;
  const hasErrors = batch.errors.length > 0;
  const hasArtifacts = batch.artifacts.length > 0;
  const cancels = !quiet && batch.events.some((e) => e.type === 'FlowCancelled');
  if (hasErrors) values.push(JSON.stringify(batch.errors));
  if (hasArtifacts) values.push(JSON.stringify(batch.artifacts));
  if (batch.cacheEntry !== undefined) values.push(batch.cacheEntry.key, batch.cacheEntry.stepIndex, batch.cacheEntry.stepType);
  const shape = `${quiet ? 1 : 0}${creates ? 1 : 0}${readsPayloads ? 1 : 0}${hasErrors ? 1 : 0}${hasArtifacts ? 1 : 0}${batch.cacheEntry !== undefined ? 1 : 0}${cancels ? 1 : 0}`;
  let text = APPEND_TEXTS.get(shape);
  if (text === undefined) {
    const parts = quiet
      ? [quietInsertPart(readsPayloads ? 'seq, version, event_type, payload' : 'seq, version')]
      : [readsPayloads ? APPEND_EVENTS_WITH_PAYLOADS : APPEND_EVENTS, creates ? CREATE_QUEUE_ROW : UPDATE_QUEUE_ROW];
    let param = values.length - (hasErrors ? 1 : 0) - (hasArtifacts ? 1 : 0) - (batch.cacheEntry !== undefined ? 3 : 0);
    if (hasErrors) parts.push(appendErrors(++param));
    if (hasArtifacts) parts.push(appendArtifacts(++param));
    if (batch.cacheEntry !== undefined) parts.push(appendCacheEntry(param + 1, param + 2, param + 3));
    if (cancels) parts.push(CLOSE_SHARDS);
    // The quiet statement with nothing but events is the INSERT itself, returning its rows.
    if (quiet && parts.length === 1) text = QUIET_INSERT_ALONE;
    else text = `WITH ${parts.join(',\n')}\n${quiet ? QUIET_APPEND_RESULT : APPEND_RESULT}`;
    APPEND_TEXTS.set(shape, text);
  }
  return { text, values };
}

/**
 * The statement's text for each combination of parts, built once: the same string object every time,
 * so the executor's lookup of its prepared name hashes no fresh 2 kB string per append.
 */
const APPEND_TEXTS = new Map<string, string>();

const BATCH = `batch AS (
  SELECT source.ord::int AS ord, source.e->>'type' AS event_type,
    (source.e->>'ts')::timestamptz AS ts, source.e->'payload' AS payload
  FROM jsonb_array_elements($3::text::jsonb) WITH ORDINALITY AS source(e, ord)
)`;

/** The batch's events inserted at `expectedVersion + 1 ...`, read from `from` where `guard` holds. */
const insertEvents = (from: string, guard: string, returning: string): string => `INSERT INTO event_log (flow_id, version, ts, event_type, schema_version, payload)
  SELECT $1::uuid, $2::int + batch.ord, batch.ts, batch.event_type, $4::int, batch.payload
  FROM ${from}
  WHERE ${guard}
  ORDER BY batch.ord
  RETURNING ${returning}`;

const appendEvents = (returning: string): string => `${BATCH}, head AS (
  SELECT COALESCE(MAX(version), 0) AS version FROM event_log WHERE flow_id = $1::uuid
), inserted AS (
  ${insertEvents('batch CROSS JOIN head', 'head.version = $2::int', returning)}
)`;

const APPEND_EVENTS = appendEvents('seq, version');
const APPEND_EVENTS_WITH_PAYLOADS = appendEvents('seq, version, event_type, payload');

/**
 * The quiet statement's insert: its guard is the log's head at `expectedVersion` and the queue row as
 * `queueUpdate` would leave it unwritten (running, due: the merge keeps the earlier of the due time and
 * now; leased to the appender, $5, unexpired). Both are uncorrelated, so PostgreSQL evaluates each once
 * and inserts all the events or none.
 */
const QUIET_GUARD = `(SELECT COALESCE(MAX(version), 0) FROM event_log WHERE flow_id = $1::uuid) = $2::int
    AND EXISTS (
      SELECT 1 FROM flow_queue AS q
      WHERE q.flow_id = $1::uuid AND q.status = 'running' AND q.next_due_at <= now()
        AND q.lease_owner = $5::text AND q.lease_expires_at > now()
    )`;

const quietInsert = (returning: string): string => insertEvents('batch', QUIET_GUARD, returning);

const quietInsertPart = (returning: string): string => `${BATCH}, inserted AS (
  ${quietInsert(returning)}
)`;

/** The head it returns is the guard's: any row returned means the log was at `expectedVersion`. */
const QUIET_INSERT_ALONE = `WITH ${BATCH}
${quietInsert('$2::int AS head_version, seq, version')}`;

/**
 * The flow's queue row, in the same statement (so in the same transaction) as the events, written only
 * if they were: the batch's `batchProjection` ($5) merged with the row. The batch that creates the flow
 * inserts it, leased to $6 for $7 ms when the creating process runs the flow at once; every later batch
 * updates it by `queueUpdate` (a cancelled flow stays cancelled, a failed one failed, the batch that
 * ends the flow clears the lease), and only when that changes the row or $6 does not hold the flow's
 * lease. The log's head is no column: readers take it from the log. The rebuild derives the same row
 * from the log in SQL (`chemflow_rebuild_flow_queue`); the contract suite checks that both agree.
 */
// MATERIALIZED: parsed once, not once per column that reads it.
const PROJECTION = `projection AS MATERIALIZED (
  SELECT $5::text::jsonb AS q
)`;

// A row already there (none should be: the flow's first events were just inserted) is left as it is.
const CREATE_QUEUE_ROW = `${PROJECTION}, queue AS (
  INSERT INTO flow_queue AS q (${QUEUE_ROW_COLUMNS})
  SELECT $1::uuid, $6::text, CASE WHEN $6::text IS NULL THEN NULL ELSE ${msFromNow('$7::int')} END,
    ${queueRowValues('projection.q')}
  FROM projection
  WHERE EXISTS (SELECT 1 FROM inserted)
  ON CONFLICT (flow_id) DO NOTHING
)`;

const UPDATE = queueUpdate('projection.q', '$6::text');
const UPDATE_QUEUE_ROW = `${PROJECTION}, queue AS (
  UPDATE flow_queue AS q SET ${UPDATE.set}
  FROM projection
  WHERE q.flow_id = $1::uuid AND EXISTS (SELECT 1 FROM inserted)
    AND ${UPDATE.changes}
)`;

/** A cancelling batch closes the flow's shard rows, if its events were inserted. */
const CLOSE_SHARDS = closeCancelledShards('SELECT $1::uuid AS flow_id WHERE EXISTS (SELECT 1 FROM inserted)');

function appendErrors(param: number): string {
  return `errors AS (
  INSERT INTO step_execution_errors (${ERROR_COLUMNS})
  SELECT ${ERROR_VALUES_FROM_JSON}
  FROM jsonb_array_elements($${param}::text::jsonb) WITH ORDINALITY AS source(e, ord)
  JOIN inserted ON inserted.version = (source.e->>'version')::int
  ORDER BY source.ord
)`;
}

/**
 * `produced_in_seq` is the first StepFinished of the batch whose outputs name the artifact. A whole
 * artifact has no `form` or `manifest` key (NULL manifest, form `whole`); a batch or file no `payload`.
 */
function appendArtifacts(param: number): string {
  return `artifacts AS (
  INSERT INTO workflow_step_artifacts (hash, kind, form, payload, manifest, metadata, produced_in_seq)
  SELECT source.e->>'hash', source.e->>'kind', coalesce(source.e->>'form', 'whole'), source.e->'payload',
    source.e->'manifest', source.e->'metadata',
    (SELECT i.seq FROM inserted i
      WHERE i.event_type = 'StepFinished' AND i.payload->'outputs' ? (source.e->>'hash')
      ORDER BY i.version LIMIT 1)
  FROM jsonb_array_elements($${param}::text::jsonb) WITH ORDINALITY AS source(e, ord)
  WHERE EXISTS (SELECT 1 FROM inserted)
  ORDER BY source.ord
  ON CONFLICT (hash) DO NOTHING
)`;
}

const APPEND_RESULT = `SELECT head.version AS head_version, inserted.seq, inserted.version
FROM head LEFT JOIN inserted ON true
ORDER BY inserted.version`;

const QUIET_APPEND_RESULT = `SELECT $2::int AS head_version, inserted.seq, inserted.version FROM inserted ORDER BY inserted.version`;

const SELECT_EVENT = `SELECT seq, version, ${isoTimestamp('ts')} AS ts, event_type, schema_version, payload FROM event_log`;

/** A flow's events ordered by version (served by the unique (flow_id, version) index). */
export function listEventsQuery(flowId: string): SqlQuery {
  return { text: `${SELECT_EVENT} WHERE flow_id = $1::uuid ORDER BY version`, values: [flowId] };
}

/** The events of a flow at versions `from..to` inclusive. */
export function eventsInRangeQuery(flowId: string, from: number, to: number): SqlQuery {
  return {
    text: `${SELECT_EVENT} WHERE flow_id = $1::uuid AND version BETWEEN $2::int AND $3::int ORDER BY version`,
    values: [flowId, from, to],
  };
}
