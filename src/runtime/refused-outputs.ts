import { classifyError, PermanentError, type ClassifiedError } from '../core/error-class.js';
import { StoreError } from '../core/errors.js';

/**
 * The failure to record when the store refused an attempt's outputs for their size or content (a
 * limit or a value of the database: SQLSTATE 54… or 22…) although they passed the checks every store
 * shares (`MAX_OUTPUT_BYTES`, `assertStorable`); undefined for any other error. The attempt then fails,
 * Permanent since the same outputs would be refused again, instead of being left Running as if the
 * database were away and run again as a lost attempt to fail the same way.
 */
export function refusedOutputsFailure(error: unknown): ClassifiedError | undefined {
  if (!(error instanceof StoreError) || (error.failure !== 'limit' && error.failure !== 'data')) return undefined;
  return classifyError(
    new PermanentError(`The store refused the step's outputs: ${error.message}`, {
      code: error.failure === 'limit' ? 'OUTPUT_TOO_LARGE' : 'OUTPUT_REFUSED',
      details: { store_error: error.code, sqlstate: error.sqlState ?? null },
      cause: error,
    }),
  );
}
