import type { ErrorClass } from './error-class.js';
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
 * When and how often a failed step is tried again. A policy is a run-time parameter: it never enters
 * a fingerprint or the definition hash, so tuning retries can never change what a result is.
 */
export interface RetryPolicy {
  maxRetries: number;
  backoff: Backoff;
  /** Error classes retried automatically; default `['Transient']`. Manual retries ignore this. */
  retryOn?: readonly ErrorClass[];
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  maxRetries: 3,
  backoff: Object.freeze({ kind: 'exponential', baseMs: 100, factor: 2, maxMs: 30_000 }),
  retryOn: Object.freeze(['Transient'] as const),
});

/** Is there a retry left after `retryCount` retries were already scheduled? */
export function hasRetriesLeft(policy: Pick<RetryPolicy, 'maxRetries'>, retryCount: number): boolean {
  return retryCount < policy.maxRetries;
}

/** Does the policy retry failures of this class automatically at all? */
export function retriesClass(policy: RetryPolicy, errorClass: ErrorClass): boolean {
  return (policy.retryOn ?? DEFAULT_RETRY_POLICY.retryOn ?? []).includes(errorClass);
}

/** Should a failure of this class, after `retryCount` retries, be retried automatically? */
export function shouldRetry(policy: RetryPolicy, errorClass: ErrorClass, retryCount: number): boolean {
  return retriesClass(policy, errorClass) && hasRetriesLeft(policy, retryCount);
}

/**
 * Delay before retry number `retryIndex` (1-based). Deterministic: the jitter comes from a hash of
 * `jitterKey` (flow, step, retry index), never from `Math.random`, so a replayed decision is identical.
 */
export function delayFor(policy: RetryPolicy, retryIndex: number, jitterKey = ''): number {
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
export function retryPolicyProblems(policy: RetryPolicy): string[] {
  const problems: string[] = [];
  if (!Number.isInteger(policy.maxRetries) || policy.maxRetries < 0)
    problems.push(`maxRetries must be a non-negative integer, got ${policy.maxRetries}`);
  if (policy.backoff.kind === 'exponential') {
    const { baseMs, factor, maxMs, jitter } = policy.backoff;
    if (!(baseMs >= 0)) problems.push(`backoff.baseMs must be >= 0, got ${baseMs}`);
    if (factor !== undefined && !(factor >= 1)) problems.push(`backoff.factor must be >= 1, got ${factor}`);
    if (maxMs !== undefined && !(maxMs >= 0)) problems.push(`backoff.maxMs must be >= 0, got ${maxMs}`);
    if (jitter !== undefined && !(jitter >= 0 && jitter <= 1))
      problems.push(`backoff.jitter must be within 0..1, got ${jitter}`);
  }
  return problems;
}
