import { isChemflowError, StoreError } from '../../core/errors.js';

/** SQLSTATEs worth a retry: the server rolled the work back, or the connection went away. */
const TRANSIENT_SQLSTATES = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '57P01', // admin_shutdown (also pg_terminate_backend)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
]);

const TRANSIENT_NODE_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN']);

/** Messages `pg` uses for a lost or unobtainable connection, which carry no code. */
const CONNECTION_LOST = /Connection terminated|connection error|not queryable|timeout exceeded when trying to connect|terminating connection/i;

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The connection died: the statement may or may not have committed. */
export function isConnectionLoss(error: unknown): boolean {
  const code = codeOf(error);
  if (code !== undefined && (code.startsWith('08') || code.startsWith('57P') || TRANSIENT_NODE_CODES.has(code))) return true;
  return error instanceof Error && CONNECTION_LOST.test(error.message);
}

/** A failure that a later attempt can reasonably be expected not to hit. */
export function isTransientDbError(error: unknown): boolean {
  const code = codeOf(error);
  return (code !== undefined && TRANSIENT_SQLSTATES.has(code)) || isConnectionLoss(error);
}

export interface RetryOptions {
  /** Total attempts, the first included. */
  attempts: number;
  /** Delay before the first retry; doubled each time, with jitter. */
  baseDelayMs: number;
}

export const DEFAULT_RETRY: RetryOptions = { attempts: 6, baseDelayMs: 25 };

/**
 * Runs `work`, retrying transient database failures with exponential backoff. chemflow's own typed
 * errors (a version conflict, a corrupt event) pass through untouched; every other failure, and a
 * transient one that outlives the retries, becomes a `StoreError` naming `operation`.
 * `work` learns whether an earlier attempt lost its connection, so it can resolve an ambiguous commit.
 */
export async function withRetry<T>(
  operation: string,
  work: (previousConnectionLost: boolean) => Promise<T>,
  options: RetryOptions = DEFAULT_RETRY,
): Promise<T> {
  let connectionLost = false;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work(connectionLost);
    } catch (error) {
      if (isChemflowError(error)) throw error;
      if (!isTransientDbError(error) || attempt >= options.attempts) {
        const message = error instanceof Error ? error.message : String(error);
        const suffix = isTransientDbError(error) ? ` (after ${attempt} attempts)` : '';
        throw new StoreError(operation, message + suffix, { cause: error });
      }
      connectionLost ||= isConnectionLoss(error);
      const delay = options.baseDelayMs * 2 ** (attempt - 1);
      await sleep(delay / 2 + Math.random() * delay);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
