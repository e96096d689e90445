import type { AppendOutcome } from '../flow-store.js';
import { run, type SqlExecutor } from './executor.js';
import { isVersionConflict, type AppendRow, type PreparedAppend } from './prepared-append.js';

/** Thrown out of the transaction to roll it back and name the request whose insert collided. */
class RequestCollided extends Error {
  constructor(readonly request: PreparedAppend) {
    super(`append to flow ${request.flowId} collided with a concurrent writer`);
  }
}

/**
 * The appends of a batch in ONE transaction, one commit (one WAL flush) for all: each keeps its own
 * statement, so each has its own head guard, and a stale request inserts nothing and fails alone,
 * without an error that would abort the transaction.
 *
 * No savepoints: the only way one request can abort the transaction is the unique (flow_id, version)
 * violation of a true race with another process's transaction, and that is rare (the lease keeps
 * one writer per flow). So rather than pay two more round trips per request on every batch
 * (SAVEPOINT and RELEASE), the batch is rolled back and run again without the request that collided,
 * which gets its `ConcurrencyError`; each rerun drops one request, so it ends. Any other error
 * rejects the whole batch (the caller's retry decides what is transient).
 *
 * Requests run sorted by flow id (stably: one flow's requests keep their order), so two processes'
 * batches lock the queue rows of their common flows in the same order instead of deadlocking.
 */
export async function appendInOneTransaction(
  executor: SqlExecutor,
  requests: readonly PreparedAppend[],
): Promise<Map<PreparedAppend, AppendOutcome>> {
  const outcomes = new Map<PreparedAppend, AppendOutcome>();
  let pending = [...requests].sort((a, b) => (a.flowId < b.flowId ? -1 : a.flowId > b.flowId ? 1 : 0));
  for (;;) {
    try {
      const rows = await executor.transaction(async (tx) => {
        const all: AppendRow[][] = [];
        for (const request of pending) {
          try {
            all.push(await run<AppendRow>(tx, request.query));
          } catch (error) {
            if (isVersionConflict(error)) throw new RequestCollided(request);
            throw error;
          }
        }
        return all;
      });
      pending.forEach((request, i) => outcomes.set(request, settle(request, rows[i] ?? [])));
      return outcomes;
    } catch (error) {
      if (!(error instanceof RequestCollided)) throw error;
      outcomes.set(error.request, { ok: false, error: error.request.conflict() });
      pending = pending.filter((request) => request !== error.request);
      if (pending.length === 0) return outcomes;
    }
  }
}

function settle(request: PreparedAppend, rows: readonly AppendRow[]): AppendOutcome {
  try {
    return { ok: true, result: request.result(rows) };
  } catch (error) {
    return { ok: false, error: error as Error };
  }
}
