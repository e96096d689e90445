import type { Artifact, BatchArtifact, FileArtifact } from '../../core/artifact.js';
import type { BatchManifest, ChunkRef } from '../../core/batch.js';
import type { JsonObject, JsonValue } from '../../core/canonical-json.js';
import type { ErrorClass } from '../../core/error-class.js';
import { ArtifactIntegrityError, type ArtifactProducer } from '../../core/errors.js';
import { decodeEvent } from '../../core/event-codec.js';
import type { FlowEvent } from '../../core/events.js';
import type { QueueStatus } from '../../core/queue-status.js';
import type { StepExecutionError } from '../../core/step-execution-error.js';
import { BLOB_HASH } from '../blobs/blob-store.js';
import type { FlowSummary } from '../flow-store.js';

/** BIGINT arrives as a string from `pg` and as a number from PGlite. */
type BigIntColumn = string | number | bigint;

export interface EventRow {
  seq: BigIntColumn;
  version: number;
  ts: string;
  event_type: string;
  schema_version: number;
  payload: unknown;
}

export interface ErrorRow {
  id: number;
  step_id: string;
  attempt_number: number;
  error_class: string;
  error_message: string | null;
  details: JsonObject | null;
  timestamp: string;
  retry_count: number | null;
  max_retries: number | null;
}

export interface ArtifactRow {
  hash: string;
  kind: string;
  /** `whole` (payload set), `batch` or `file` (manifest set): guarded by the table's CHECK constraints. */
  form: 'whole' | 'batch' | 'file';
  payload: JsonValue;
  manifest: unknown;
  metadata: Record<string, JsonValue> | null;
  produced_by_flow: string | null;
  produced_by_step: string | null;
}

export interface FlowSummaryRow {
  flow_id: string;
  name: string;
  status: QueueStatus;
  version: number;
  last_event_type: FlowEvent['type'];
  created_at: string;
  updated_at: string;
  next_due_at: string | null;
  lease_owner: string | null;
  lease_expires_at: string | null;
}

/** Rows are untrusted input: every event goes through the codec, which names flow and version. */
export function eventFromRow(flowId: string, row: EventRow): FlowEvent {
  return decodeEvent({
    flowId,
    version: row.version,
    seq: Number(row.seq),
    ts: row.ts,
    eventType: row.event_type,
    schemaVersion: row.schema_version,
    payload: row.payload,
  });
}

/** Nullable columns fall back to the table's column defaults, so rows written by hand still read back. */
export function errorFromRow(flowId: string, row: ErrorRow): StepExecutionError {
  return {
    flowId,
    stepId: row.step_id,
    attemptNumber: row.attempt_number,
    errorClass: row.error_class as ErrorClass, // guarded by the table's CHECK constraint
    errorMessage: row.error_message ?? '',
    details: row.details ?? {},
    timestamp: row.timestamp,
    retryCount: row.retry_count ?? 0,
    maxRetries: row.max_retries ?? 3,
  };
}

/** `metadata` is absent, not null, when the artifact had none (as the memory store keeps it). */
export function artifactFromRow(row: ArtifactRow): Artifact {
  const base = { kind: row.kind, hash: row.hash, payload: row.payload };
  return row.metadata === null ? base : { ...base, metadata: row.metadata };
}

/**
 * A batch or file row as its `StoredArtifact`. The manifest is untrusted input like every row: one
 * whose shape is wrong is corrupt (`ArtifactIntegrityError`, part `manifest`); its bytes are verified
 * when they are read from the blob store.
 */
export function storedArtifactFromRow(row: ArtifactRow): BatchArtifact | FileArtifact {
  const corrupt = () => new ArtifactIntegrityError(row.hash, null, producerFromRow(row), 'manifest');
  const metadata = row.metadata === null ? {} : { metadata: row.metadata };
  if (row.form === 'file') {
    const file = row.manifest as { size?: unknown; name?: unknown } | null;
    if (!isCount(file?.size) || typeof file?.name !== 'string') throw corrupt();
    return { form: 'file', kind: row.kind, hash: row.hash, size: file.size, name: file.name, ...metadata };
  }
  if (!isBatchManifest(row.manifest)) throw corrupt();
  return { form: 'batch', kind: row.kind, hash: row.hash, manifest: row.manifest, ...metadata };
}

function isBatchManifest(value: unknown): value is BatchManifest {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Partial<Record<keyof BatchManifest, unknown>>;
  if (m.rowsField !== null && typeof m.rowsField !== 'string') return false;
  if (typeof m.header !== 'object' || m.header === null || Array.isArray(m.header)) return false;
  if (!isCount(m.rowCount) || !Array.isArray(m.chunks)) return false;
  // A slice of a batch (a shard passing its rows on) starts `offset` rows into its first chunk.
  const offset = m.offset ?? 0;
  if (!isCount(offset)) return false;
  let rows = 0;
  for (const chunk of m.chunks as unknown[]) {
    const c = (chunk ?? {}) as Partial<Record<keyof ChunkRef, unknown>>;
    if (typeof c.hash !== 'string' || !BLOB_HASH.test(c.hash) || !isCount(c.rows) || !isCount(c.bytes)) return false;
    rows += c.rows;
  }
  // A slice names its covering chunks: the first and last may hold rows outside it.
  return offset + m.rowCount <= rows;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

export function producerFromRow(row: ArtifactRow): ArtifactProducer | null {
  return row.produced_by_flow === null || row.produced_by_step === null
    ? null
    : { flowId: row.produced_by_flow, stepId: row.produced_by_step };
}

/** Status and event type are guarded by the table's CHECK constraints. */
export function summaryFromRow(row: FlowSummaryRow): FlowSummary {
  return {
    flowId: row.flow_id,
    name: row.name,
    status: row.status,
    version: row.version,
    lastEventType: row.last_event_type,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    nextDueAt: row.next_due_at,
    leaseOwner: row.lease_owner,
    leaseExpiresAt: row.lease_expires_at,
  };
}
