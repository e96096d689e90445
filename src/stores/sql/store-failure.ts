import type { StoreFailure } from '../../core/errors.js';

/**
 * The one rule that sorts a database failure by its SQLSTATE (PostgreSQL and PGlite alike) or, for a
 * failure that never reached the server, by the network error code and the messages of `pg`. Whether
 * a failure is retried (`withRetry`), waited out (the worker loop) or reported as an outage (the CLI's
 * exit code 3) follows from it and from nothing else.
 */

/** SQLSTATEs worth a retry right away: the server rolled the work back, or the connection went away. */
const TRANSIENT_SQLSTATES = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '57P01', // admin_shutdown (also pg_terminate_backend)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
]);

/** Network errors of a connection that broke or could not be made (other errno codes count as outages too). */
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN']);

/** Messages `pg` uses for a lost or unobtainable connection, which carry no code. */
const CONNECTION_LOST = /Connection terminated|connection error|not queryable|timeout exceeded when trying to connect|terminating connection/i;

const SQLSTATE = /^[0-9A-Z]{5}$/;

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The SQLSTATE of a failure the database reported, if it is one. */
export function sqlStateOf(error: unknown): string | undefined {
  const code = codeOf(error);
  return code !== undefined && SQLSTATE.test(code) ? code : undefined;
}

/** The connection died: the statement may or may not have committed. */
export function isConnectionLoss(error: unknown): boolean {
  const code = codeOf(error);
  if (code !== undefined && (code.startsWith('08') || code.startsWith('57P') || NETWORK_CODES.has(code))) return true;
  return error instanceof Error && CONNECTION_LOST.test(error.message);
}

/** A failure that a later attempt can reasonably be expected not to hit. */
export function isTransientDbError(error: unknown): boolean {
  const code = codeOf(error);
  return (code !== undefined && TRANSIENT_SQLSTATES.has(code)) || isConnectionLoss(error);
}

/**
 * What kind of failure `error` is (see `StoreFailure`). A failure without a SQLSTATE that is no known
 * connection loss (a driver error, a timeout of its own) counts as `unavailable`: a worker waits it out.
 */
export function storeFailureOf(error: unknown): StoreFailure {
  if (isConnectionLoss(error)) return 'unavailable';
  const state = sqlStateOf(error);
  if (state === undefined) return 'unavailable';
  if (state === '42501') return 'permission';
  const sqlClass = state.slice(0, 2);
  switch (sqlClass) {
    case '08': // connection exception
    case '40': // transaction rollback (retried first)
    case '53': // insufficient resources: disk full, out of memory, too many connections
    case '57': // operator intervention: shutdown, query cancelled
    case '58': // system error: I/O error
      return 'unavailable';
    case '28': // invalid authorization: wrong role or password
    case '3D': // invalid catalog name: no such database
    case '3F': // invalid schema name
    case '42': // syntax error or access rule violation: e.g. a missing table (schema not migrated, wrong search_path)
      return 'configuration';
    case '22':
      return 'data';
    case '54':
      return 'limit';
    default:
      return 'refused';
  }
}
