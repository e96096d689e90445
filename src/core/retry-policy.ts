import { ERROR_CLASSES, isErrorClass, type ErrorClass } from './error-class.js';
import { InvalidRetryPolicyError } from './errors.js';
import { sha256Hex } from './hash.js';

export type Backoff =
  | { kind: 'none' }
  | {
      kind: 'exponential';
      /** Delay before the first retry. */
      baseMs: number;
      /** Growth per retry; default 2. */
      factor?: number;
      /** Upper bound of one delay; default unbounded. */
      maxMs?: number;
      /** 0..1: up to this fraction of the delay is removed, deterministically per flow/step/retry. */
      jitter?: number;
    };

/**
 * A retry policy as plain data: what flow files, engine options and step definitions hold. A policy is a
 * run-time parameter: it never enters a fingerprint or the definition hash, so tuning retries can never
 * change what a result is.
 */
export interface RetryPolicyOptions {
  maxRetries: number;
  backoff: Backoff;
  /** Error classes retried automatically; default `['Transient']`. Manual retries ignore this. */
  retryOn?: readonly ErrorClass[];
}

/**
 * `RetryPolicy {maxRetries, backoff, shouldRetry}`: validated on construction, with the
 * decisions as methods. Anything that takes a policy also takes its plain `RetryPolicyOptions`.
 */
export class RetryPolicy implements RetryPolicyOptions {
  readonly maxRetries: number;
  readonly backoff: Backoff;
  readonly retryOn: readonly ErrorClass[];

  /** Throws `InvalidRetryPolicyError` listing every problem of `options`. */
  constructor(options: RetryPolicyOptions) {
    const problems = retryPolicyProblems(options);
    if (problems.length > 0) throw new InvalidRetryPolicyError(problems);
    this.maxRetries = options.maxRetries;
    this.backoff = Object.freeze({ ...options.backoff });
    this.retryOn = Object.freeze([...(options.retryOn ?? DEFAULT_RETRY_ON)]);
    Object.freeze(this);
  }

  static from(policy: RetryPolicyOptions): RetryPolicy {
    return policy instanceof RetryPolicy ? policy : new RetryPolicy(policy);
  }

  /**
   * `shouldRetry(retryCount)`: is a retry left? `shouldRetry(errorClass, retryCount)`:
   * is a failure of this class retried automatically after `retryCount` retries?
   */
  shouldRetry(retryCount: number): boolean;
  shouldRetry(errorClass: ErrorClass, retryCount: number): boolean;
  shouldRetry(classOrCount: ErrorClass | number, retryCount?: number): boolean {
    if (typeof classOrCount === 'number') return hasRetriesLeft(this, classOrCount);
    return shouldRetry(this, classOrCount, retryCount ?? 0);
  }

  /** Delay before retry number `retryIndex` (1-based); see `delayFor`. */
  delayFor(retryIndex: number, jitterKey = ''): number {
    return delayFor(this, retryIndex, jitterKey);
  }

  toJSON(): RetryPolicyOptions {
    return { maxRetries: this.maxRetries, backoff: this.backoff, retryOn: this.retryOn };
  }
}

const DEFAULT_RETRY_ON: readonly ErrorClass[] = Object.freeze(['Transient'] as const);

export const DEFAULT_RETRY_POLICY: RetryPolicy = new RetryPolicy({
  maxRetries: 3,
  backoff: { kind: 'exponential', baseMs: 100, factor: 2, maxMs: 30_000 },
  retryOn: DEFAULT_RETRY_ON,
});

/** Is there a retry left after `retryCount` retries were already scheduled? */
export function hasRetriesLeft(policy: Pick<RetryPolicyOptions, 'maxRetries'>, retryCount: number): boolean {
  return retryCount < policy.maxRetries;
}

/** Does the policy retry failures of this class automatically at all? */
export function retriesClass(policy: RetryPolicyOptions, errorClass: ErrorClass): boolean {
  return (policy.retryOn ?? DEFAULT_RETRY_ON).includes(errorClass);
}

/** Should a failure of this class, after `retryCount` retries, be retried automatically? */
export function shouldRetry(policy: RetryPolicyOptions, errorClass: ErrorClass, retryCount: number): boolean {
  return retriesClass(policy, errorClass) && hasRetriesLeft(policy, retryCount);
}

/**
 * Delay before retry number `retryIndex` (1-based). Deterministic: the jitter comes from a hash of
 * `jitterKey` (flow, step, retry index), never from `Math.random`, so a replayed decision is identical.
 */
export function delayFor(policy: RetryPolicyOptions, retryIndex: number, jitterKey = ''): number {
  const backoff = policy.backoff;
  if (backoff.kind === 'none') return 0;
  const raw = backoff.baseMs * (backoff.factor ?? 2) ** Math.max(0, retryIndex - 1);
  const capped = Math.min(raw, backoff.maxMs ?? Number.POSITIVE_INFINITY);
  const jitter = Math.min(Math.max(backoff.jitter ?? 0, 0), 1);
  if (jitter === 0) return Math.round(capped);
  const unit = parseInt(sha256Hex(`${jitterKey}#${retryIndex}`).slice(0, 8), 16) / 0x1_0000_0000;
  return Math.round(capped * (1 - jitter * unit));
}

/** Checks a policy's numbers; returns a list of problems (empty when valid). */
export function retryPolicyProblems(policy: RetryPolicyOptions): string[] {
  const problems: string[] = [];
  if (!Number.isInteger(policy.maxRetries) || policy.maxRetries < 0)
    problems.push(`maxRetries must be a non-negative integer, got ${policy.maxRetries}`);
  // Policies also come from plain JavaScript: check the shape the types cannot promise.
  const backoff = policy.backoff as Backoff | undefined;
  const kind = (backoff as { kind?: unknown } | undefined)?.kind;
  if (kind !== 'none' && kind !== 'exponential')
    problems.push(`backoff.kind must be 'none' or 'exponential', got ${JSON.stringify(kind) ?? 'nothing'}`);
  for (const errorClass of policy.retryOn ?? [])
    if (!isErrorClass(errorClass)) problems.push(`retryOn holds ${JSON.stringify(errorClass)}, not an error class (${ERROR_CLASSES.join(', ')})`);
  if (backoff?.kind === 'exponential') {
    const { baseMs, factor, maxMs, jitter } = backoff;
    if (!(baseMs >= 0)) problems.push(`backoff.baseMs must be >= 0, got ${baseMs}`);
    if (factor !== undefined && !(factor >= 1)) problems.push(`backoff.factor must be >= 1, got ${factor}`);
    if (maxMs !== undefined && !(maxMs >= 0)) problems.push(`backoff.maxMs must be >= 0, got ${maxMs}`);
    if (jitter !== undefined && !(jitter >= 0 && jitter <= 1))
      problems.push(`backoff.jitter must be within 0..1, got ${jitter}`);
  }
  return problems;
}
