import type { JsonObject } from './canonical-json.js';
import type { ClassifiedError } from './error-class.js';
import { makeStorable } from './storable.js';

/**
 * A failure as it can always be recorded. Its message, code, stack and details come from user code
 * and may hold text no store accepts; the record of a failed attempt must commit whatever the step
 * threw, so such text is replaced (U+FFFD) instead of refused, and `details.unstorable_text` keeps each
 * original, JSON-escaped, by where it was (`message`, `code`, `stack`, `details.<path>`). The class,
 * and so the retry decision, is never changed.
 */
export function storableFailure(error: ClassifiedError): ClassifiedError {
  const originals: Record<string, string> = {};
  const message = makeStorable(error.message, 'message', originals).value;
  const code = makeStorable(error.code, 'code', originals).value;
  const stack = error.stack === undefined ? undefined : makeStorable(error.stack, 'stack', originals).value;
  const details = makeStorable<JsonObject>(error.details, 'details', originals).value;
  if (Object.keys(originals).length === 0) return error;
  return { ...error, message, code, stack, details: { ...details, unstorable_text: originals } };
}
