import type { Artifact } from '../../core/artifact.js';
import { canonicalJson } from '../../core/canonical-json.js';
import { ConcurrencyError, isConcurrencyError, StoreError } from '../../core/errors.js';
import { eventPayload } from '../../core/event-codec.js';
import { EVENT_SCHEMA_VERSION, type FlowEvent, type FlowEventBody, type NewFlowEvent } from '../../core/events.js';
import { errorRecordFromEvent } from '../../core/step-execution-error.js';
import { unstorableInBatch } from '../../core/storable.js';
import type { AppendOptions, AppendResult } from '../flow-store.js';
import { appendEventsQuery, eventsInRangeQuery, headVersionQuery, listEventsQuery, type ErrorRowInput } from './event-queries.js';
import { run, type SqlExecutor } from './executor.js';
import { cacheEntryProblem } from '../step-cache-index.js';
import { eventFromRow, type EventRow } from './rows.js';
import { withRetry } from './transient.js';
import { isUuid } from './uuid.js';

interface AppendRow {
  head_version: number;
  seq: string | number | null;
  version: number | null;
}

/** The name `event_log`'s unique (flow_id, version) constraint has in migration 0001. */
const VERSION_CONSTRAINT = 'event_log_flow_version_unique';

/** The seeds' `PgEventStore`: the append-only event log (PGlite and the PostgreSQL server alike). */
export class PgEventStore {
  constructor(private readonly executor: SqlExecutor) {}

  /**
   * Appends atomically in one statement, with the error row of every `StepFailed` and the artifacts.
   * Transient failures are retried; if a lost connection hid a commit, the retry sees its own events
   * and reports success, so the batch is neither lost nor duplicated.
   */
  append(
    flowId: string,
    expectedVersion: number,
    events: readonly NewFlowEvent[],
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    const operation = `append to flow ${flowId}`;
    if (!isUuid(flowId)) return Promise.reject(new StoreError(operation, 'flow ids must be UUIDs'));
    const unstorable = unstorableInBatch(events, options.artifacts);
    if (unstorable !== undefined) return Promise.reject(unstorable);
    const stored = events.map(
      (event, i): FlowEvent => ({
        ...structuredClone<NewFlowEvent>(event),
        flowId,
        version: expectedVersion + i + 1,
        seq: 0, // assigned by the database
        schemaVersion: EVENT_SCHEMA_VERSION,
      }),
    );
    const badEntry = cacheEntryProblem(flowId, stored, options.cacheEntry);
    if (badEntry !== undefined) return Promise.reject(badEntry);
    return withRetry(operation, async (connectionLost) => {
      try {
        return await this.appendOnce(flowId, expectedVersion, stored, options);
      } catch (error) {
        if (connectionLost && isConcurrencyError(error)) {
          const committed = await this.alreadyCommitted(flowId, stored);
          if (committed !== undefined) return { events: committed, version: expectedVersion + stored.length };
        }
        throw error;
      }
    });
  }

  /**
   * The seeds' `append_kind(flow_id, kind)`: appends one event. Without `expectedVersion` it appends at
   * the flow's current head, read first — a writer that slips in between still gets `ConcurrencyError`,
   * never an interleaved log.
   */
  async appendKind(
    flowId: string,
    body: FlowEventBody,
    options: { expectedVersion?: number; ts?: string } = {},
  ): Promise<FlowEvent> {
    const expectedVersion = options.expectedVersion ?? (await this.headVersion(flowId));
    const { events } = await this.append(flowId, expectedVersion, [{ ...body, ts: options.ts ?? new Date().toISOString() }]);
    return events[0] as FlowEvent;
  }

  /** A flow's current version: 0 when it has no events. */
  async headVersion(flowId: string): Promise<number> {
    if (!isUuid(flowId)) return 0;
    const rows = await withRetry(`read the version of flow ${flowId}`, () =>
      run<{ version: number }>(this.executor, headVersionQuery(flowId)),
    );
    return rows[0]?.version ?? 0;
  }

  /** A flow's events ordered by version; a row that does not decode throws `CorruptEventError`. */
  async list(flowId: string): Promise<FlowEvent[]> {
    if (!isUuid(flowId)) return [];
    const rows = await withRetry(`list events of flow ${flowId}`, () => run<EventRow>(this.executor, listEventsQuery(flowId)));
    return rows.map((row) => eventFromRow(flowId, row));
  }

  private async appendOnce(
    flowId: string,
    expectedVersion: number,
    stored: readonly FlowEvent[],
    options: AppendOptions,
  ): Promise<AppendResult> {
    const errors: ErrorRowInput[] = stored.flatMap((event) =>
      event.type === 'StepFailed' ? [{ ...errorRecordFromEvent(event), version: event.version }] : [],
    );
    const query = appendEventsQuery({
      flowId,
      expectedVersion,
      schemaVersion: EVENT_SCHEMA_VERSION,
      events: stored.map((event) => ({ type: event.type, ts: event.ts, payload: bodyPayload(event) })),
      errors,
      artifacts: firstOfEachHash(options.artifacts ?? []),
      lease: expectedVersion === 0 ? options.lease : undefined,
      cacheEntry: options.cacheEntry,
    });
    let rows: AppendRow[];
    try {
      rows = await run<AppendRow>(this.executor, query);
    } catch (error) {
      if (isVersionConflict(error)) throw new ConcurrencyError(flowId, expectedVersion, undefined);
      throw error;
    }
    const inserted = rows.filter((row) => row.seq !== null);
    const head = rows[0]?.head_version ?? 0;
    if (head !== expectedVersion || inserted.length !== stored.length)
      throw new ConcurrencyError(flowId, expectedVersion, head);
    const seqs = new Map(inserted.map((row) => [row.version, Number(row.seq)]));
    return {
      events: stored.map((event) => ({ ...event, seq: seqs.get(event.version) ?? 0 })),
      version: expectedVersion + stored.length,
    };
  }

  /** The batch as stored, when an earlier attempt committed it before its connection died. */
  private async alreadyCommitted(flowId: string, batch: readonly FlowEvent[]): Promise<FlowEvent[] | undefined> {
    const first = batch[0];
    const last = batch[batch.length - 1];
    if (first === undefined || last === undefined) return undefined;
    const rows = await run<EventRow>(this.executor, eventsInRangeQuery(flowId, first.version, last.version));
    const found = rows.map((row) => eventFromRow(flowId, row));
    const same =
      found.length === batch.length &&
      found.every((event, i) => {
        const ours = batch[i];
        return ours !== undefined && sameEvent(event, ours);
      });
    return same ? found : undefined;
  }
}

/** The stored payload: the event's body, without its type, timestamp or envelope (flow, version, seq). */
function bodyPayload(event: FlowEvent): Record<string, unknown> {
  const { flowId: _flowId, version: _version, seq: _seq, schemaVersion: _schemaVersion, ...body } = event;
  return eventPayload(body);
}

function sameEvent(a: FlowEvent, b: FlowEvent): boolean {
  return a.type === b.type && a.ts === b.ts && canonicalJson(bodyPayload(a)) === canonicalJson(bodyPayload(b));
}

function isVersionConflict(error: unknown): boolean {
  const { code, constraint } = (error ?? {}) as { code?: unknown; constraint?: unknown };
  return code === '23505' && constraint === VERSION_CONSTRAINT;
}

/** Duplicates within one batch are the same content; keep the first, as the memory store does. */
function firstOfEachHash(artifacts: readonly Artifact[]): Artifact[] {
  const seen = new Set<string>();
  return artifacts.filter((artifact) => !seen.has(artifact.hash) && seen.add(artifact.hash));
}
