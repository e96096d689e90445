import { EVENT_SCHEMA_VERSION } from '../../core/events.js';
import type { AppendOutcome } from '../flow-store.js';
import { appendManyQuery, type AppendManyRow } from './append-many-query.js';
import { run, type SqlExecutor, type SqlRunner } from './executor.js';
import { isVersionConflict, type AppendRow, type PreparedAppend } from './prepared-append.js';

type Outcomes = Map<PreparedAppend, AppendOutcome>;

/**
 * The appends of a batch in ONE transaction, one commit (one WAL flush) for all, each with its own
 * head guard: a stale request inserts nothing and fails alone, without an error that would abort
 * the others.
 *
 * Usually in ONE statement (`appendManyQuery`): the batch is split into rounds of distinct flows (a
 * flow's second append waits for the round after its first), and a batch of one round is one
 * autocommit statement; several rounds run in BEGIN ... COMMIT. Requests run sorted by flow id
 * (stably: one flow's requests keep their order), so two processes' batches lock the queue rows of
 * their common flows in the same order instead of deadlocking.
 *
 * The only way one request can abort the statement is the unique (flow_id, version) violation of a
 * true race with another process's transaction — rare, since the lease keeps one writer per flow. The
 * error does not say which request collided, so then the batch runs again with a statement per request
 * (`appendOneByOne`).
 */
export async function appendTogether(executor: SqlExecutor, requests: readonly PreparedAppend[]): Promise<Outcomes> {
  const sorted = byFlowId(requests);
  // The one-statement form has no step-cache branch: a batch with a cache entry goes a statement per request.
  if (sorted.some((r) => r.input.cacheEntry !== undefined)) return appendOneByOne(executor, sorted);
  const rounds = splitIntoRounds(sorted);
  const runRound = async (db: SqlRunner, round: readonly PreparedAppend[]): Promise<AppendManyRow[]> =>
    run<AppendManyRow>(db, appendManyQuery(round.map((r) => r.input), EVENT_SCHEMA_VERSION));
  let results: AppendManyRow[][];
  try {
    const only = rounds.length === 1 ? rounds[0] : undefined;
    if (only !== undefined) results = [await runRound(executor, only)];
    else
      results = await executor.transaction(async (tx) => {
        const all: AppendManyRow[][] = [];
        for (const round of rounds) all.push(await runRound(tx, round));
        return all;
      });
  } catch (error) {
    if (isVersionConflict(error)) return appendOneByOne(executor, sorted);
    throw error;
  }
  const outcomes: Outcomes = new Map();
  rounds.forEach((round, r) => {
    const rows = results[r] ?? [];
    round.forEach((request, i) => outcomes.set(request, settle(request, rows.filter((row) => row.request === i + 1))));
  });
  return outcomes;
}

/** Thrown out of the transaction to roll it back and name the request whose insert collided. */
class RequestCollided extends Error {
  constructor(readonly request: PreparedAppend) {
    super(`append to flow ${request.flowId} collided with a concurrent writer`);
  }
}

/**
 * A statement per request in one transaction, so that a collision names its request. No savepoints
 * (two more round trips per request on every batch): the transaction is rolled back and run again
 * without the request that collided, which gets its `ConcurrencyError`; each rerun drops one request,
 * so it ends. Any other error rejects the whole batch (the caller's retry decides what is transient).
 */
export async function appendOneByOne(executor: SqlExecutor, requests: readonly PreparedAppend[]): Promise<Outcomes> {
  const outcomes: Outcomes = new Map();
  let pending = byFlowId(requests);
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

function byFlowId(requests: readonly PreparedAppend[]): PreparedAppend[] {
  return [...requests].sort((a, b) => (a.flowId < b.flowId ? -1 : a.flowId > b.flowId ? 1 : 0));
}

/** Rounds in which no flow appears twice; a flow's later requests go to later rounds, in order. */
function splitIntoRounds(requests: readonly PreparedAppend[]): PreparedAppend[][] {
  const rounds: PreparedAppend[][] = [];
  const seen = new Map<string, number>();
  for (const request of requests) {
    const round = seen.get(request.flowId) ?? 0;
    seen.set(request.flowId, round + 1);
    (rounds[round] ??= []).push(request);
  }
  return rounds;
}

function settle(request: PreparedAppend, rows: readonly AppendRow[]): AppendOutcome {
  try {
    return { ok: true, result: request.result(rows) };
  } catch (error) {
    return { ok: false, error: error as Error };
  }
}
