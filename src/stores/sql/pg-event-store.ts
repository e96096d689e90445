import { canonicalJson } from '../../core/canonical-json.js';
import { isConcurrencyError, StoreError } from '../../core/errors.js';
import type { FlowEvent, NewFlowEvent } from '../../core/events.js';
import type { AppendOptions, AppendOutcome, AppendRequest, AppendResult } from '../flow-store.js';
import { appendTogether } from './append-transaction.js';
import { eventsInRangeQuery, listEventsQuery } from './event-queries.js';
import { run, type SqlExecutor } from './executor.js';
import { bodyPayload, isVersionConflict, prepareAppend, PreparedAppend, type AppendRow } from './prepared-append.js';
import { eventFromRow, type EventRow } from './rows.js';
import { withRetry } from './transient.js';
import { isUuid } from './uuid.js';

/** `PgEventStore`: the append-only event log (PGlite and the PostgreSQL server alike). */
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
    const prepared = prepareAppend({ flowId, expectedVersion, events, options });
    return prepared instanceof PreparedAppend ? this.appendPrepared(prepared) : Promise.reject(prepared);
  }

  /**
   * Several appends in one transaction, usually one statement (see `appendTogether`), retried as a
   * whole on a transient failure. One valid request alone is a plain `append`, with its own simpler
   * statement. Requests refused before the database (not a UUID, unstorable text) fail alone, and so
   * does a request the database refuses (a value or a size beyond its limits): the batch, rolled back
   * whole, is then appended a request at a time, so the others are not failed with it.
   */
  async appendBatch(requests: readonly AppendRequest[]): Promise<AppendOutcome[]> {
    const prepared = requests.map(prepareAppend);
    const valid = prepared.filter((p): p is PreparedAppend => p instanceof PreparedAppend);
    const outcomes = new Map<PreparedAppend, AppendOutcome>();
    const only = valid.length === 1 ? valid[0] : undefined;
    if (only !== undefined) outcomes.set(only, await settleConflict(this.appendPrepared(only)));
    else if (valid.length > 1) {
      const settled = await withRetry(`append a batch of ${valid.length}`, async (connectionLost) => {
        const results = await appendTogether(this.executor, valid);
        // A lost connection may have hidden the commit of an earlier attempt: its appends now look stale.
        if (connectionLost)
          for (const [request, outcome] of results) {
            if (outcome.ok || !isConcurrencyError(outcome.error)) continue;
            const committed = await this.alreadyCommitted(request);
            if (committed !== undefined) results.set(request, { ok: true, result: committed });
          }
        return results;
      }).catch(async (error: unknown) => {
        if (!refusesContent(error)) throw error;
        const alone = new Map<PreparedAppend, AppendOutcome>();
        for (const request of valid) alone.set(request, await settleRefusal(this.appendPrepared(request)));
        return alone;
      });
      for (const [request, outcome] of settled) outcomes.set(request, outcome);
    }
    return prepared.map((p): AppendOutcome => {
      if (!(p instanceof PreparedAppend)) return { ok: false, error: p };
      return outcomes.get(p) ?? { ok: false, error: new Error(`no outcome for the append to flow ${p.flowId}`) };
    });
  }

  /** A flow's events ordered by version; a row that does not decode throws `CorruptEventError`. */
  async list(flowId: string): Promise<FlowEvent[]> {
    if (!isUuid(flowId)) return [];
    const rows = await withRetry(`list events of flow ${flowId}`, () => run<EventRow>(this.executor, listEventsQuery(flowId)));
    return rows.map((row) => eventFromRow(flowId, row));
  }

  private appendPrepared(prepared: PreparedAppend): Promise<AppendResult> {
    return withRetry(prepared.operation, async (connectionLost) => {
      try {
        return prepared.result(await this.runAppend(prepared));
      } catch (error) {
        if (connectionLost && isConcurrencyError(error)) {
          const committed = await this.alreadyCommitted(prepared);
          if (committed !== undefined) return committed;
        }
        throw error;
      }
    });
  }

  private async runAppend(prepared: PreparedAppend): Promise<AppendRow[]> {
    try {
      const quiet = prepared.quietQuery;
      if (quiet !== undefined) {
        const rows = await run<AppendRow>(this.executor, quiet);
        // Nothing inserted: its guard did not hold. The full statement tells a conflict from a row
        // that is not as a lease holder's step leaves it, and merges the row.
        if (rows.length > 0) return rows;
      }
      return await run<AppendRow>(this.executor, prepared.query);
    } catch (error) {
      if (isVersionConflict(error)) throw prepared.conflict();
      throw error;
    }
  }

  /** The append as stored, when an earlier attempt committed it before its connection died. */
  private async alreadyCommitted(prepared: PreparedAppend): Promise<AppendResult | undefined> {
    const { flowId, stored } = prepared;
    const first = stored[0];
    const last = stored[stored.length - 1];
    if (first === undefined || last === undefined) return undefined;
    const rows = await run<EventRow>(this.executor, eventsInRangeQuery(flowId, first.version, last.version));
    const found = rows.map((row) => eventFromRow(flowId, row));
    const same =
      found.length === stored.length &&
      found.every((event, i) => {
        const ours = stored[i];
        return ours !== undefined && sameEvent(event, ours);
      });
    return same ? { events: found, version: prepared.expectedVersion + stored.length } : undefined;
  }
}

/** A conflict is the request's own outcome; any other failure (the database's) rejects the batch. */
async function settleConflict(append: Promise<AppendResult>): Promise<AppendOutcome> {
  try {
    return { ok: true, result: await append };
  } catch (error) {
    if (isConcurrencyError(error)) return { ok: false, error };
    throw error;
  }
}

/** The database refused a value or a size of what a request writes: that request's own failure. */
function refusesContent(error: unknown): error is StoreError {
  return error instanceof StoreError && (error.failure === 'data' || error.failure === 'limit');
}

/** A conflict or a refused value is the request's own outcome; any other failure rejects the batch. */
async function settleRefusal(append: Promise<AppendResult>): Promise<AppendOutcome> {
  try {
    return { ok: true, result: await append };
  } catch (error) {
    if (isConcurrencyError(error) || refusesContent(error)) return { ok: false, error };
    throw error;
  }
}

function sameEvent(a: FlowEvent, b: FlowEvent): boolean {
  return a.type === b.type && a.ts === b.ts && canonicalJson(bodyPayload(a)) === canonicalJson(bodyPayload(b));
}
