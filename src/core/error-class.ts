import type { JsonObject } from './canonical-json.js';

/** How a failed attempt is classified; the retry policy decides from this alone. */
export type ErrorClass = 'Transient' | 'Permanent' | 'Validation' | 'Runtime';

export const ERROR_CLASSES: readonly ErrorClass[] = ['Transient', 'Permanent', 'Validation', 'Runtime'];

export function isErrorClass(value: unknown): value is ErrorClass {
  return typeof value === 'string' && (ERROR_CLASSES as readonly string[]).includes(value);
}

export interface StepErrorOptions {
  /** Stable machine-readable code, e.g. `RATE_LIMITED`. */
  code?: string;
  /** Extra JSON facts stored in the error row's `details`. */
  details?: JsonObject;
  cause?: unknown;
}

/**
 * Base of the errors a step author throws to choose how a failure is classified. Step modules that do
 * not import chemflow can throw any error with an `errorClass` property instead (see `classifyError`).
 */
export abstract class StepError extends Error {
  abstract readonly errorClass: ErrorClass;
  readonly code: string;
  readonly details: JsonObject | undefined;
  constructor(message: string, defaultCode: string, options: StepErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code ?? defaultCode;
    this.details = options.details;
  }
}

/** Worth trying again: a timeout, a dropped connection, a rate limit. */
export class TransientError extends StepError {
  readonly errorClass = 'Transient' as const;
  /** A delay demanded by the failing party (e.g. Retry-After); overrides the policy's backoff once. */
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options: StepErrorOptions & { retryAfterMs?: number } = {}) {
    super(message, 'TRANSIENT', options);
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** Will fail the same way every time: never retried automatically. */
export class PermanentError extends StepError {
  readonly errorClass = 'Permanent' as const;
  constructor(message: string, options: StepErrorOptions = {}) {
    super(message, 'PERMANENT', options);
  }
}

/** The step's input or params are invalid: never retried automatically. */
export class ValidationError extends StepError {
  readonly errorClass = 'Validation' as const;
  constructor(message: string, options: StepErrorOptions = {}) {
    super(message, 'VALIDATION', options);
  }
}

/** The attempt exceeded its time limit. */
export class StepTimeoutError extends TransientError {
  readonly recordedByEngine = true;
  constructor(readonly timeoutMs: number) {
    super(`Step attempt exceeded its timeout of ${timeoutMs} ms`, { code: 'TIMEOUT' });
  }
}

/** The process running the attempt disappeared before recording a result. */
export class WorkerLostError extends TransientError {
  readonly recordedByEngine = true;
  constructor(attempt: number) {
    super(`Attempt ${attempt} was interrupted before it recorded a result (worker lost)`, {
      code: 'WORKER_LOST',
    });
  }
}

/**
 * The step's code ended its thread (`process.exit()`) during the attempt: a bug in the step, so
 * Runtime, never retried automatically. The exit code is in `details.exitCode`.
 */
export class StepExitedError extends StepError {
  readonly recordedByEngine = true;
  readonly errorClass = 'Runtime' as const;
  constructor(readonly exitCode: number) {
    super(`The step called process.exit(${exitCode}), which ended its thread before the attempt returned`, 'STEP_EXITED', {
      details: { exitCode },
    });
  }
}

/**
 * The flow was cancelled while this attempt ran: its `ctx.signal` was aborted and the attempt is
 * recorded with this error unless it finished first. Permanent: a cancelled flow never retries.
 */
export class FlowCancelledError extends PermanentError {
  readonly recordedByEngine = true;
  constructor(reason: string | null) {
    super(`The flow was cancelled${reason === null ? '' : `: ${reason}`}`, { code: 'FLOW_CANCELLED' });
  }
}

/**
 * This process lost its lease on the flow (it could not renew it in time, e.g. the database was away):
 * another worker may now recover the attempt, so it is stopped here to never run twice at once.
 */
export class LeaseLostError extends TransientError {
  readonly recordedByEngine = true;
  constructor(owner: string) {
    super(`Lease on the flow lost by ${owner}: the attempt was stopped so that another worker can take over`, {
      code: 'LEASE_LOST',
    });
  }
}

/** A failure reduced to what is persisted: class, code, message, details, stack. */
export interface ClassifiedError {
  errorClass: ErrorClass;
  code: string;
  message: string;
  details: JsonObject;
  stack: string | undefined;
  retryAfterMs: number | undefined;
}

/** Node and driver error codes that mean "the other side went away; try again". */
const TRANSIENT_SYSTEM_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '57P01', // admin_shutdown
  '08006', // connection_failure
]);

/**
 * Classifies anything a step threw. Typed chemflow errors and foreign errors carrying an `errorClass`
 * property keep their class; timeouts and lost connections are Transient; everything else is Runtime.
 * Non-Error throwables are wrapped, never lost.
 */
export function classifyError(thrown: unknown): ClassifiedError {
  if (!(thrown instanceof Error)) {
    return {
      errorClass: 'Runtime',
      code: 'NON_ERROR_THROWN',
      message: `Step threw a non-Error value: ${describe(thrown)}`,
      details: {},
      stack: undefined,
      retryAfterMs: undefined,
    };
  }
  const props = thrown as Error & {
    errorClass?: unknown;
    code?: unknown;
    details?: unknown;
    retryAfterMs?: unknown;
  };
  const code = typeof props.code === 'string' ? props.code : undefined;
  return {
    errorClass: classOf(thrown, code),
    code: code ?? (thrown.name && thrown.name !== 'Error' ? thrown.name : 'ERROR'),
    message: thrown.message,
    details: isPlainObject(props.details) ? toJsonObject(props.details) : {},
    // The engine's own failures (a timeout, a lost worker, a cancel) keep no stack: the engine's call
    // stack says nothing about the step, and would write chemflow's install paths into the error rows.
    stack: (thrown as { recordedByEngine?: unknown }).recordedByEngine === true ? undefined : thrown.stack,
    retryAfterMs:
      typeof props.retryAfterMs === 'number' && Number.isFinite(props.retryAfterMs) && props.retryAfterMs >= 0
        ? props.retryAfterMs
        : undefined,
  };
}

function classOf(thrown: Error, code: string | undefined): ErrorClass {
  const declared = (thrown as { errorClass?: unknown }).errorClass;
  if (isErrorClass(declared)) return declared;
  if (thrown.name === 'TimeoutError' || thrown.name === 'AbortError') return 'Transient';
  if (code !== undefined && TRANSIENT_SYSTEM_CODES.has(code)) return 'Transient';
  if (thrown.name === 'ZodError') return 'Validation';
  return 'Runtime';
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Details come from user code: keep what survives a JSON round trip, never fail the failure path. */
function toJsonObject(value: Record<string, unknown>): JsonObject {
  try {
    const parsed: unknown = JSON.parse(JSON.stringify(value));
    return isPlainObject(parsed) ? (parsed as JsonObject) : {};
  } catch {
    return { unserializable_details: Object.keys(value).join(',') };
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? typeof value;
  } catch {
    return Object.prototype.toString.call(value);
  }
}
