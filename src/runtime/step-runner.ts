import { measureArtifact, type Artifact } from '../core/artifact.js';
import { canonicalJson, type JsonValue } from '../core/canonical-json.js';
import type { Signal } from '../core/decide.js';
import type { StepContext, StepDefinition } from '../core/definition.js';
import { classifyError, StepTimeoutError, type ClassifiedError } from '../core/error-class.js';
import { outputSizeProblem } from '../core/output-size.js';
import { checkMapInput } from '../core/shards.js';
import { assertStorable, storableJsonProblem, storableText, unstorableReason } from '../core/storable.js';

export type AttemptResult =
  | { ok: true; outputs: Artifact[]; signals: Signal[] }
  | { ok: false; error: ClassifiedError; signals: Signal[] };

export type AttemptContext = Omit<StepContext, 'signal' | 'emit' | 'params'>;

/** What bounds an attempt: its timeout (null: none) and `stop` (the flow was cancelled, the lease lost). */
export interface AttemptLimits {
  stop?: AbortSignal | undefined;
  timeoutMs: number | null;
}

/**
 * The attempt ended (its timeout, its stop, or its code ended the thread) while a hook of its step's
 * module ran before `run`: the attempt fails with `failure`, it is not run.
 */
export class AttemptEndedError extends Error {
  constructor(readonly failure: ClassifiedError) {
    super(failure.message);
  }
}

/**
 * Runs `work` (a hook of the step's module, e.g. `cacheKey`) within the attempt's limits in this
 * thread: rejects with `AttemptEndedError` when the timeout or the stop comes first. A hook that never
 * settles is left behind, as `runAttempt` leaves a step that ignores its signal.
 */
export async function withinLimits<T>(work: () => T | Promise<T>, { stop, timeoutMs }: AttemptLimits): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onStop: (() => void) | undefined;
  try {
    const ended = new Promise<never>((_, reject) => {
      if (timeoutMs !== null) timer = setTimeout(() => reject(new AttemptEndedError(classifyError(new StepTimeoutError(timeoutMs)))), timeoutMs);
      if (stop !== undefined) {
        onStop = () => reject(new AttemptEndedError(classifyError(stopReason(stop))));
        if (stop.aborted) onStop();
        else stop.addEventListener('abort', onStop, { once: true });
      }
    });
    ended.catch(() => undefined);
    return await Promise.race([Promise.resolve().then(work), ended]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    if (onStop !== undefined) stop?.removeEventListener('abort', onStop);
  }
}

/** Why `stop` aborted, as an error to record. */
export function stopReason(stop: AbortSignal): Error {
  return stop.reason instanceof Error ? stop.reason : new Error(String(stop.reason));
}

/**
 * Runs one attempt of a step: enforces its timeout, collects its signals, hashes its outputs and turns
 * whatever it throws into a classified error. Never throws itself.
 */
export async function runAttempt(
  step: StepDefinition,
  context: AttemptContext,
  { stop, timeoutMs, onSignal }: AttemptLimits & { onSignal?: (signal: Signal) => void },
): Promise<AttemptResult> {
  const signals: Signal[] = [];
  let badSignal: InvalidStepSignalError | undefined;
  const controller = new AbortController();
  const ctx: StepContext = {
    ...context,
    params: step.baseParams,
    signal: controller.signal,
    emit: (name, data = null) => {
      const problem = signalProblem(name, data);
      if (problem === undefined) {
        signals.push({ name, data });
        onSignal?.({ name, data });
        return;
      }
      // Thrown where the step called emit (its stack names the line), and remembered: a step that
      // catches it still fails, since a signal it meant to record was not.
      const error = new InvalidStepSignalError(`ctx.emit(${JSON.stringify(storableText(String(name)))}): ${problem}`);
      badSignal ??= error;
      throw error;
    },
  };
  let timer: NodeJS.Timeout | undefined;
  let onStop: (() => void) | undefined;
  try {
    // The attempt ends at the first of: its own result, its timeout, or `stop` (the flow was cancelled
    // or this process lost its lease). Either way `ctx.signal` tells the step to give up its work.
    const ended = new Promise<never>((_, reject) => {
      const end = (reason: Error): void => {
        controller.abort(reason);
        reject(reason);
      };
      if (timeoutMs !== null) timer = setTimeout(() => end(new StepTimeoutError(timeoutMs)), timeoutMs);
      if (stop !== undefined) {
        onStop = () => end(stopReason(stop));
        if (stop.aborted) onStop();
        else stop.addEventListener('abort', onStop, { once: true });
      }
    });
    ended.catch(() => undefined);
    const work = Promise.resolve().then(() => {
      if (controller.signal.aborted) throw controller.signal.reason; // ended before it began: never started
      // A mapped step runs whole when its input does not fit its map (or its cache entry satisfies
      // it): a wrong `over` then fails here, Validation, naming what the input has.
      if (step.map !== undefined) checkMapInput(ctx.input, step.map);
      return step.run(ctx);
    });
    const result = timer === undefined && onStop === undefined ? await work : await Promise.race([work, ended]);
    if (badSignal !== undefined) return { ok: false, error: classifyError(badSignal), signals };
    return { ok: true, outputs: toArtifacts(result), signals };
  } catch (thrown) {
    return { ok: false, error: classifyError(thrown), signals };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    if (onStop !== undefined) stop?.removeEventListener('abort', onStop);
  }
}

/** A step returned outputs no store can keep: a bug in the step (class Runtime). */
class InvalidStepOutputError extends Error {
  readonly code = 'INVALID_OUTPUT';
}

/** A step emitted a signal no store can keep: a bug in the step (class Runtime). */
class InvalidStepSignalError extends Error {
  readonly code = 'INVALID_SIGNAL';
}

/** Signals are stored in the log as they are emitted: plain JSON with storable strings, like outputs. */
function signalProblem(name: unknown, data: unknown): string | undefined {
  if (typeof name !== 'string') return 'the signal name must be a string';
  const nameProblem = unstorableReason(name);
  if (nameProblem !== undefined) return `the signal name ${nameProblem}`;
  const problem = storableJsonProblem(data);
  return problem === undefined ? undefined : `data ${problem.message}`;
}

function toArtifacts(result: unknown): Artifact[] {
  const outputs = (result as { outputs?: unknown } | null | undefined)?.outputs;
  if (!Array.isArray(outputs))
    throw new InvalidStepOutputError('A step must return { outputs: [{ kind, payload }] }');
  const sizes: number[] = [];
  const artifacts = outputs.map((draft: unknown, i) => {
    const { kind, payload, metadata } = (draft ?? {}) as { kind?: unknown; payload?: unknown; metadata?: unknown };
    if (typeof kind !== 'string' || kind === '')
      throw new InvalidStepOutputError(`outputs[${i}].kind must be a non-empty string`);
    try {
      if (metadata !== undefined) canonicalJson(metadata);
      const { artifact, bytes } = measureArtifact({
        kind,
        payload: payload as JsonValue,
        ...(metadata === undefined ? {} : { metadata: metadata as Record<string, JsonValue> }),
      });
      // Refused here, for every store alike, rather than by PostgreSQL at commit time.
      assertStorable({ kind, payload, metadata: metadata ?? null });
      sizes.push(bytes);
      return artifact;
    } catch (error) {
      throw new InvalidStepOutputError(`outputs[${i}]: ${(error as Error).message}`, { cause: error });
    }
  });
  // Too large for a store is refused here as well, measured on the text each payload was hashed from.
  const tooLarge = outputSizeProblem(sizes);
  if (tooLarge !== undefined) throw tooLarge;
  return artifacts;
}
