import { isBatchArtifact, isWholeArtifact, type StoredArtifact } from '../../core/artifact.js';
import { ConcurrencyError, StoreError } from '../../core/errors.js';
import { eventPayload } from '../../core/event-codec.js';
import { EVENT_SCHEMA_VERSION, type FlowEvent } from '../../core/events.js';
import { batchProjection } from '../../core/queue-status.js';
import { errorRecordFromEvent } from '../../core/step-execution-error.js';
import { unstorableInBatch } from '../../core/storable.js';
import type { AppendRequest, AppendResult } from '../flow-store.js';
import { cacheEntryProblem } from '../step-cache-index.js';
import { appendEventsQuery, quietAppendQuery, type AppendBatch, type ArtifactRowInput, type ErrorRowInput } from './event-queries.js';
import type { SqlQuery } from './executor.js';
import { isUuid } from './uuid.js';

/**
 * What the append statement returns: one row carrying `head_version`, plus one per inserted event
 * (`quietAppendQuery`: only the inserted events, each carrying the head its guard checked).
 */
export interface AppendRow {
  head_version: number;
  seq: string | number | null;
  version: number | null;
}

/** The name `event_log`'s unique (flow_id, version) constraint has in migration 0001. */
const VERSION_CONSTRAINT = 'event_log_flow_version_unique';

/**
 * One append checked and turned into its statement before any round trip, so that the single append
 * and every request of a batch share the validation, the statement and the reading of its rows.
 */
export class PreparedAppend {
  readonly operation: string;
  private single: SqlQuery | undefined;

  constructor(
    readonly flowId: string,
    readonly expectedVersion: number,
    /** The events as they will be stored; `seq` is assigned by the database. */
    readonly stored: readonly FlowEvent[],
    /** What the append statement receives (alone, or with other flows' in one statement). */
    readonly input: AppendBatch,
  ) {
    this.operation = `append to flow ${flowId}`;
  }

  /** The statement of this append alone. */
  get query(): SqlQuery {
    return (this.single ??= appendEventsQuery(this.input));
  }

  /** The cheaper statement of this append alone, if it is a lease holder's plain step (`quietAppendQuery`). */
  get quietQuery(): SqlQuery | undefined {
    return quietAppendQuery(this.input);
  }

  /** The result of the statement's rows; `ConcurrencyError` when the head guard let nothing in. */
  result(rows: readonly AppendRow[]): AppendResult {
    const inserted = rows.filter((row) => row.seq !== null);
    const head = rows[0]?.head_version ?? 0;
    if (head !== this.expectedVersion || inserted.length !== this.stored.length) throw this.conflict(head);
    // Each event takes its row's seq. The rows come in version order, as the events, in every plan
    // PostgreSQL makes of these statements; looked up by version should one ever not. The events are
    // this append's own copies (made by `prepareAppend`), so they are stamped in place.
    const inOrder = inserted.every((row, i) => row.version === this.stored[i]?.version);
    const byVersion = inOrder ? undefined : new Map(inserted.map((row) => [row.version, row]));
    this.stored.forEach((event, i) => {
      const row = byVersion === undefined ? inserted[i] : byVersion.get(event.version);
      (event as { seq: number }).seq = Number(row?.seq ?? 0);
    });
    return { events: [...this.stored], version: this.expectedVersion + this.stored.length };
  }

  conflict(head?: number): ConcurrencyError {
    return new ConcurrencyError(this.flowId, this.expectedVersion, head);
  }
}

/** The request as a statement, or the error `append` rejects it with before reaching the database. */
export function prepareAppend(request: AppendRequest): PreparedAppend | Error {
  const { flowId, expectedVersion, events, options = {} } = request;
  if (!isUuid(flowId)) return new StoreError(`append to flow ${flowId}`, 'flow ids must be UUIDs', { failure: 'refused' });
  const unstorable = unstorableInBatch(events, options.artifacts);
  if (unstorable !== undefined) return unstorable;
  const stored = events.map(
    // Object.assign onto the fresh copy, not a spread into a literal: V8 clones these varied event
    // shapes through its slow path when a spread is followed by more properties (µs per event).
    (event, i): FlowEvent =>
      Object.assign(copyOf(event), {
        flowId,
        version: expectedVersion + i + 1,
        seq: 0, // assigned by the database
        schemaVersion: EVENT_SCHEMA_VERSION,
      }),
  );
  const badEntry = cacheEntryProblem(flowId, stored, options.cacheEntry);
  if (badEntry !== undefined) return badEntry;
  const errors: ErrorRowInput[] = stored.flatMap((event) =>
    event.type === 'StepFailed' ? [{ ...errorRecordFromEvent(event), version: event.version }] : [],
  );
  return new PreparedAppend(flowId, expectedVersion, stored, {
    flowId,
    expectedVersion,
    schemaVersion: EVENT_SCHEMA_VERSION,
    events: stored.map((event) => ({ type: event.type, ts: event.ts, payload: bodyPayload(event) })),
    queue: batchProjection(stored) ?? null,
    errors,
    artifacts: firstOfEachHash(options.artifacts ?? []).map(artifactRowInput),
    lease: expectedVersion === 0 ? options.lease : undefined,
    holder: options.holder,
    cacheEntry: options.cacheEntry,
  });
}

/** Two appenders passed the head guard at once: the later one hit the unique (flow_id, version) index. */
export function isVersionConflict(error: unknown): boolean {
  const { code, constraint } = (error ?? {}) as { code?: unknown; constraint?: unknown };
  return code === '23505' && constraint === VERSION_CONSTRAINT;
}

/** The stored payload: the event's body, without its type, timestamp or envelope (flow, version, seq). */
export function bodyPayload(event: FlowEvent): Record<string, unknown> {
  const { flowId: _flowId, version: _version, seq: _seq, schemaVersion: _schemaVersion, ...body } = event;
  return eventPayload(body);
}

/**
 * A deep copy of an event, so that the caller may reuse its objects: plain objects and arrays are
 * copied member by member (what `structuredClone` does with them, several times faster on an event's
 * few fields); anything else (a Date, a typed array) goes through `structuredClone`. The events reached
 * here passed `unstorableInBatch`, which walks them whole, so they hold no cycle.
 */
function copyOf<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(copyOf) as T;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return structuredClone(value);
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const member = copyOf((value as Record<string, unknown>)[key]);
    // An own `__proto__` key (JSON.parse makes one) stays a key: assigning it would set the prototype.
    if (key === '__proto__') Object.defineProperty(copy, key, { value: member, enumerable: true, writable: true, configurable: true });
    else copy[key] = member;
  }
  return copy as T;
}

/** Duplicates within one batch are the same content; keep the first, as the memory store does. */
function firstOfEachHash(artifacts: readonly StoredArtifact[]): StoredArtifact[] {
  const seen = new Set<string>();
  return artifacts.filter((artifact) => !seen.has(artifact.hash) && seen.add(artifact.hash));
}

/** A whole artifact goes as it is; a batch or file as its manifest row. */
function artifactRowInput(artifact: StoredArtifact): ArtifactRowInput {
  if (isWholeArtifact(artifact)) return artifact;
  const { kind, hash, metadata } = artifact;
  const manifest = isBatchArtifact(artifact) ? artifact.manifest : { size: artifact.size, name: artifact.name };
  return { kind, hash, form: artifact.form, manifest, ...(metadata === undefined ? {} : { metadata }) };
}
