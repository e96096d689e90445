import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StoredArtifact } from '../core/artifact.js';
import type { ChunkLimits } from '../core/chunk.js';
import { corruptInputFailure, type Signal } from '../core/decide.js';
import { ArtifactIntegrityError } from '../core/errors.js';
import type { StepContext, StepDefinition } from '../core/definition.js';
import { classifyError, StepTimeoutError, type ClassifiedError } from '../core/error-class.js';
import { checkMapInput } from '../core/shards.js';
import type { StepInput } from '../core/step-data.js';
import { storableJsonProblem, storableText, unstorableReason } from '../core/storable.js';
import type { BlobStore } from '../stores/blobs/blob-store.js';
import { openBatchOutput, storeFileOutput, streamingInputs, wholeInputs } from './step-data-io.js';
import { KnownOutputs, storedOutputs } from './step-outputs.js';

export type AttemptResult =
  | { ok: true; outputs: StoredArtifact[]; signals: Signal[] }
  | { ok: false; error: ClassifiedError; signals: Signal[] };

/**
 * What an attempt is given besides its step: its inputs as stored (whole artifacts, and manifests of
 * batches and files: small, so they cross to a step thread as they are), and what `StepContext` says.
 */
export type AttemptContext = Omit<StepContext, 'signal' | 'emit' | 'params' | 'input' | 'inputs' | 'batch' | 'file'> & {
  readonly input: readonly StoredArtifact[];
  /** Where each named input is in `input` (see `StepContext.inputs`). */
  readonly inputNames?: Readonly<Record<string, number>>;
};

/** Where an attempt reads its batch and file inputs and writes its outputs' chunks and files. */
export interface AttemptIo {
  readonly blobs: BlobStore;
  /** Where batch outputs are cut into chunks; default `DEFAULT_CHUNK_LIMITS`. */
  readonly chunkLimits?: ChunkLimits | undefined;
}

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
  /** The failure's own class and code, so that the attempt is recorded alike wherever it is caught. */
  readonly errorClass: ClassifiedError['errorClass'];
  readonly code: string;
  constructor(readonly failure: ClassifiedError) {
    super(failure.message);
    this.errorClass = failure.errorClass;
    this.code = failure.code;
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
  io: AttemptIo,
): Promise<AttemptResult> {
  const signals: Signal[] = [];
  let badSignal: InvalidStepSignalError | undefined;
  // `ctx.signal`'s controller, made when the step first reads it: most steps never do.
  let controller: AbortController | undefined;
  let endedBy: { reason: Error } | undefined;
  const known = new KnownOutputs();
  const { blobs } = io;
  // Where file inputs are copied for the step to read (`FileInput.path()`): made on first use only.
  let workDir: Promise<string> | undefined;
  const attemptDir = (): Promise<string> => (workDir ??= mkdtemp(join(tmpdir(), 'chemflow-attempt-')));
  const inputNames = context.inputNames;
  // Object.assign, not a spread followed by more properties: V8 clones through its slow path then.
  const ctx: StepContext = withLazySignal(Object.assign(attemptView(context), {
    input: [],
    inputs: {},
    batch: (kind, options) => {
      const writer = openBatchOutput(kind, options, blobs, io.chunkLimits);
      return {
        get rowCount() {
          return writer.rowCount;
        },
        push: (row) => writer.push(row),
        pushAll: (rows) => writer.pushAll(rows),
        close: async (header) => {
          const artifact = await writer.close(header);
          known.addWritten(artifact);
          return artifact;
        },
      };
    },
    file: async (kind, source, options = {}) => {
      const artifact = await storeFileOutput(kind, source, options, blobs, context.baseDir);
      known.addWritten(artifact);
      return artifact;
    },
    params: step.baseParams,
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
  } satisfies Pick<StepContext, 'input' | 'inputs' | 'batch' | 'file' | 'params' | 'emit'>), () => {
    if (controller === undefined) {
      controller = new AbortController();
      if (endedBy !== undefined) controller.abort(endedBy.reason);
    }
    return controller.signal;
  });

  let timer: NodeJS.Timeout | undefined;
  let onStop: (() => void) | undefined;
  try {
    // The attempt ends at the first of: its own result, its timeout, or `stop` (the flow was cancelled
    // or this process lost its lease). Either way `ctx.signal` tells the step to give up its work.
    const ended = new Promise<never>((_, reject) => {
      const end = (reason: Error): void => {
        endedBy ??= { reason };
        controller?.abort(reason);
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
    const work = Promise.resolve().then(async () => {
      if (endedBy !== undefined) throw endedBy.reason; // ended before it began: never started
      // A mapped step runs whole when its input does not fit its map (or its cache entry satisfies
      // it): a wrong `over` then fails here, Validation, naming what the input has.
      if (step.map !== undefined && step.split === undefined) checkMapInput(context.input, step.map);
      const input = step.streaming === true ? streamingInputs(context.input, blobs, attemptDir) : await wholeInputs(context.input, blobs, attemptDir);
      input.forEach((given, i) => known.addInput(given, context.input[i] as StoredArtifact));
      (ctx as { input: readonly StepInput[] }).input = input;
      (ctx as { inputs: Readonly<Record<string, StepInput>> }).inputs = Object.fromEntries(
        Object.entries(inputNames ?? {}).flatMap(([name, at]) => (input[at] === undefined ? [] : [[name, input[at]]])),
      );
      const result = await step.run(ctx);
      // A shard's batches stay batches however small: the merge joins their chunk lists, and never has
      // to hold every shard's rows at once.
      return storedOutputs(result, known, io, { keepBatches: context.shard !== undefined });
    });
    const waitsForStep = (timer === undefined && onStop === undefined) || step.settlesOnAbort === true;
    const outputs = waitsForStep ? await work : await Promise.race([work, ended]);
    if (badSignal !== undefined) return { ok: false, error: classifyError(badSignal), signals };
    return { ok: true, outputs, signals };
  } catch (thrown) {
    // A batch or file input found corrupt as it was read fails for good, as a corrupt whole input does.
    return { ok: false, error: thrown instanceof ArtifactIntegrityError ? corruptInputFailure(thrown) : classifyError(thrown), signals };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    if (onStop !== undefined) stop?.removeEventListener('abort', onStop);
    if (workDir !== undefined) await workDir.then((dir) => rm(dir, { recursive: true, force: true })).catch(() => undefined);
  }
}

/** `target` with a `signal` property made by `signal()` when first read (an AbortController per attempt costs, and few steps read it). */
/**
 * The fields of a step's context that its attempt gives, the views of the whole flow read through
 * rather than copied: one the step never reads is never built (see `withFlowViews`).
 */
function attemptView(context: AttemptContext): Omit<AttemptContext, 'input' | 'inputNames'> {
  const view: { -readonly [K in keyof Omit<AttemptContext, 'input' | 'inputNames'>]: AttemptContext[K] } = {
    attempt: context.attempt,
    flowId: context.flowId,
    stepId: context.stepId,
    baseDir: context.baseDir,
    get errorHistory() {
      return context.errorHistory;
    },
    get cachedSteps() {
      return context.cachedSteps;
    },
    get flowSteps() {
      return context.flowSteps;
    },
  };
  if (context.workRoot !== undefined) view.workRoot = context.workRoot;
  if (context.shard !== undefined) view.shard = context.shard;
  return view;
}

function withLazySignal<T extends object>(target: T, signal: () => AbortSignal): T & { readonly signal: AbortSignal } {
  return Object.defineProperty(target, 'signal', { enumerable: true, get: signal }) as T & { readonly signal: AbortSignal };
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
