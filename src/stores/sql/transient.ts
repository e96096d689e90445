import { isChemflowError, StoreError } from '../../core/errors.js';
import { isConnectionLoss, isTransientDbError, sqlStateOf, storeFailureOf } from './store-failure.js';

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
 * transient one that outlives the retries, becomes a `StoreError` naming `operation`, of the kind
 * `storeFailureOf` gives it (an outage, a missing privilege, a refused value...).
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
        throw new StoreError(operation, message + suffix, { cause: error, failure: storeFailureOf(error), sqlState: sqlStateOf(error) });
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
