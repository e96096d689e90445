import { Worker } from 'node:worker_threads';
import type { JsonObject, JsonValue } from '../core/canonical-json.js';
import type { Signal } from '../core/decide.js';
import type { StepDefinition } from '../core/definition.js';
import { classifyError, LeaseLostError, StepExitedError, StepTimeoutError, type ClassifiedError } from '../core/error-class.js';
import type { ChunkLimits } from '../core/chunk.js';
import type { BlobStore } from '../stores/blobs/blob-store.js';
import { AttemptEndedError, stopReason, type AttemptContext, type AttemptIo, type AttemptLimits, type AttemptResult } from './step-runner.js';
import { answerBlobRequest, threadBlobsOf, type BlobReply, type BlobRequest, type ThreadBlobs } from './thread-blobs.js';

/** Which attempt a task belongs to, for reports of what its code did after it returned. */
export interface StepTaskLabel {
  id: number;
  flowId: string;
  stepId: string;
  attempt: number;
}

interface TaskBase {
  uses: string;
  baseDir: string;
  params: JsonObject;
  label: StepTaskLabel;
}

/** One piece of a step module's code sent to a step thread: its `run`, or its `cacheKey` hook. */
export type StepTask =
  | (TaskBase & { type: 'run'; context: AttemptContext; blobs: ThreadBlobs; chunkLimits: ChunkLimits | null })
  | (TaskBase & { type: 'cacheKey'; hookBaseDir: string; inputHashes: string[] });

/** What `cacheKey` replied: the hook's value, or what it threw. */
export type CacheKeyReply = { ok: true; value: JsonValue } | { ok: false; error: ClassifiedError };

/** Messages to a step thread: a task, or the abort of the task it runs (which aborts its `ctx.signal`). */
export type ToStepThread = StepTask | { type: 'abort'; id: number; reason: { name: string; message: string; code: string } } | BlobReply;

/** Messages from a step thread. */
export type FromStepThread =
  | { type: 'result'; id: number; result: AttemptResult | CacheKeyReply }
  /** A read or write of the attempt's blob store, when the thread cannot open it itself. */
  | BlobRequest
  /** A signal the step emitted, sent at once: kept even when the thread is ended before it replies. */
  | { type: 'signal'; id: number; signal: Signal }
  /** The step's own promise settled (after its abort: it has stopped). */
  | { type: 'settled'; id: number }
  /** The abort was delivered: the step's abort listeners have run. */
  | { type: 'aborted'; id: number }
  /** An error nothing caught (a throw in a timer, a rejection nobody handled), with the task it came from when known. */
  | { type: 'uncaught'; task: StepTaskLabel | null; error: ClassifiedError }
  /** `process.exit()` was called, by the task named when known. */
  | { type: 'exiting'; task: StepTaskLabel | null; code: number };

/** What a step's code did outside any attempt it could fail: reported (logged), never recorded. */
export interface StrayStepReport {
  /** The attempt whose code it was, when known (its thread may have run others since). */
  task: StepTaskLabel | null;
  /** An uncaught error, or `process.exit(code)`. */
  kind: 'uncaught' | 'exit';
  error: ClassifiedError;
}

export interface StepThreadsOptions {
  /**
   * How long a step may take to stop once its `ctx.signal` aborted (timeout, cancel, a worker's stop)
   * before its thread is terminated; default `DEFAULT_STOP_GRACE_MS`. After a lost lease the thread is
   * ended as soon as the abort listeners ran: another process may run the attempt by then.
   */
  graceMs?: number;
  /** Told of what step code did after its attempt returned (an uncaught error, `process.exit`). */
  onStray?: (report: StrayStepReport) => void;
}

export const DEFAULT_STOP_GRACE_MS = 5_000;

/** How one task on a thread ended. */
type TaskEnd =
  | { kind: 'reply'; result: AttemptResult | CacheKeyReply }
  /** The attempt ended without the step's reply: timeout, stop, its own uncaught error, its exit. */
  | { kind: 'ended'; error: ClassifiedError; signals: Signal[] }
  /** Another task's code ended the thread: this one is innocent and runs again on a fresh thread. */
  | { kind: 'again' };

/** The task a thread runs now, and how the thread's events end it. */
interface Running {
  id: number;
  signals: Signal[];
  /** The blob store of the attempt, for the thread's blob requests. */
  blobs: BlobStore | null;
  onMessage(message: FromStepThread): void;
  /** The thread is gone (exit, crash); `blame` is the failure when it was this task's doing. */
  onGone(blame: ClassifiedError | null): void;
}

interface Slot {
  worker: Worker;
  busy: boolean;
  running: Running | null;
  /** Step code threw where nothing caught it: the thread is replaced once its current task ended. */
  tainted: boolean;
  /** Terminated on purpose (or already gone): its exit is nobody's failure. */
  retired: boolean;
  /** The task that called `process.exit`, as the thread said before it ended. */
  exiting: { task: StepTaskLabel | null } | null;
}

/**
 * Runs step attempts in worker threads, so that the shards of a CPU-bound mapped step (RDKit is
 * synchronous) use every core of one process. A thread loads a step's module from its `origin` once
 * and runs `run(ctx)` on the input sent to it (and its `cacheKey` hook). The attempt's timeout and stop
 * are enforced here: the step's `ctx.signal` aborts in its thread, and a step that has not stopped
 * after a grace period has its thread terminated (the only way to stop synchronous code) and replaced.
 * A thread whose step code ended it (`process.exit`) or threw where nothing caught it fails only the
 * attempt whose code it was, if that attempt still runs; otherwise it is reported through `onStray`.
 * `script` is the thread's entry point: the composition root (the CLI) knows the built-in steps, not
 * the runtime.
 */
export class StepThreads {
  private readonly slots: Slot[] = [];
  private readonly waiting: ((slot: Slot) => void)[] = [];
  private nextId = 1;
  private closed = false;
  /** Threads retired and still terminating: `close` waits for them too. */
  private readonly terminating = new Set<Promise<number>>();
  private readonly graceMs: number;
  private readonly onStray: ((report: StrayStepReport) => void) | undefined;

  constructor(
    private readonly script: URL,
    readonly size: number,
    options: StepThreadsOptions = {},
  ) {
    this.graceMs = Math.max(0, options.graceMs ?? DEFAULT_STOP_GRACE_MS);
    this.onStray = options.onStray;
  }

  /** Whether `step` can run in a thread: its code was loaded from a module or a built-in type. */
  canRun(step: StepDefinition): boolean {
    return step.origin !== undefined && !this.closed;
  }

  /** One attempt of `step` in a thread; never throws (as `runAttempt`). */
  async run(step: StepDefinition, context: AttemptContext, limits: AttemptLimits, io: AttemptIo): Promise<AttemptResult> {
    const origin = this.originOf(step);
    const label = { flowId: context.flowId, stepId: step.id, attempt: context.attempt };
    const blobs = threadBlobsOf(io.blobs);
    const chunkLimits = io.chunkLimits ?? null;
    const end = await this.execute(
      (id) => ({ type: 'run', uses: origin.uses, baseDir: origin.baseDir, params: step.baseParams, label: { id, ...label }, context, blobs, chunkLimits }),
      limits,
      this.graceMs,
      io.blobs,
    );
    if (end.kind === 'ended') return { ok: false, error: end.error, signals: end.signals };
    return end.result as AttemptResult;
  }

  /**
   * The value of the `cacheKey` hook of `step`'s module, computed in a thread within the attempt's
   * limits. Rejects with what the hook threw, or with `AttemptEndedError` when the attempt ended first.
   */
  async cacheKey(step: StepDefinition, hook: { baseDir: string; inputHashes: readonly string[]; flowId: string; attempt: number }, limits: AttemptLimits): Promise<JsonValue> {
    const origin = this.originOf(step);
    const end = await this.execute(
      (id) => ({
        type: 'cacheKey',
        uses: origin.uses,
        baseDir: origin.baseDir,
        params: step.baseParams,
        label: { id, flowId: hook.flowId, stepId: step.id, attempt: hook.attempt },
        hookBaseDir: hook.baseDir,
        inputHashes: [...hook.inputHashes],
      }),
      limits,
      0, // the hook has no signal to honour: nothing to wait for
      null,
    );
    if (end.kind === 'ended') throw new AttemptEndedError(end.error);
    const reply = end.result as CacheKeyReply;
    if (!reply.ok) throw Object.assign(new Error(reply.error.message), { code: reply.error.code });
    return reply.value;
  }

  /** Terminates every thread, and resolves once every thread it ever ran, retired ones included, is gone. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([
      ...this.slots.splice(0).map((s) => {
        s.retired = true;
        return s.worker.terminate();
      }),
      ...this.terminating,
    ]);
  }

  private originOf(step: StepDefinition): NonNullable<StepDefinition['origin']> {
    if (step.origin === undefined) throw new TypeError(`Step ${step.id} has no origin: it cannot run in a thread`);
    return step.origin;
  }

  /** Runs a task on a thread until it ends; again on a fresh thread when another task's code ended the first. */
  private async execute(task: (id: number) => StepTask, limits: AttemptLimits, graceMs: number, blobs: BlobStore | null): Promise<Exclude<TaskEnd, { kind: 'again' }>> {
    for (;;) {
      const slot = await this.acquire();
      const end = await this.runOn(slot, task(this.nextId++), limits, graceMs, blobs);
      if (end.kind !== 'again') return end;
    }
  }

  private runOn(slot: Slot, task: StepTask, { stop, timeoutMs }: AttemptLimits, graceMs: number, blobs: BlobStore | null): Promise<TaskEnd> {
    const id = task.label.id;
    return new Promise<TaskEnd>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      let graceTimer: NodeJS.Timeout | undefined;
      let onStop: (() => void) | undefined;
      /** Why the attempt ends, once its timeout or stop came: the step is told and given its grace. */
      let ending: { error: ClassifiedError; urgent: boolean } | null = null;
      let done = false;
      const finish = (end: TaskEnd, retire: boolean): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        clearTimeout(graceTimer);
        if (onStop !== undefined) stop?.removeEventListener('abort', onStop);
        slot.running = null;
        if (retire || slot.tainted) this.retire(slot);
        else this.release(slot);
        resolve(end);
      };
      const ended = (error: ClassifiedError): TaskEnd => ({ kind: 'ended', error, signals: running.signals });
      const running: Running = {
        id,
        signals: [],
        blobs,
        onMessage: (message) => {
          switch (message.type) {
            case 'signal':
              running.signals.push(message.signal);
              return;
            case 'result':
              if (ending === null) finish({ kind: 'reply', result: message.result }, false);
              return;
            case 'settled':
              if (ending !== null) finish(ended(ending.error), true);
              return;
            case 'aborted':
              if (ending?.urgent === true) finish(ended(ending.error), true);
              return;
          }
        },
        onGone: (blame) => {
          if (ending !== null) finish(ended(ending.error), true);
          else if (blame !== null) finish(ended(blame), true);
          else finish({ kind: 'again' }, true);
        },
      };
      const end = (reason: Error): void => {
        if (ending !== null || done) return;
        const urgent = reason instanceof LeaseLostError;
        ending = { error: classifyError(reason), urgent };
        const code = ending.error.code;
        slot.worker.postMessage({ type: 'abort', id, reason: { name: reason.name, message: reason.message, code } } satisfies ToStepThread);
        if (graceMs === 0) finish(ended(ending.error), true);
        else graceTimer = setTimeout(() => finish(ended((ending ?? { error: classifyError(reason) }).error), true), graceMs);
      };
      if (timeoutMs !== null) timer = setTimeout(() => end(new StepTimeoutError(timeoutMs)), timeoutMs);
      slot.running = running;
      slot.worker.postMessage(task satisfies ToStepThread);
      if (stop !== undefined) {
        onStop = () => end(stopReason(stop));
        if (stop.aborted) onStop();
        else stop.addEventListener('abort', onStop, { once: true });
      }
    });
  }

  private async acquire(): Promise<Slot> {
    const idle = this.slots.find((s) => !s.busy);
    if (idle !== undefined) {
      idle.busy = true;
      return idle;
    }
    if (this.slots.length < this.size) {
      const slot = this.spawn();
      slot.busy = true;
      return slot;
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(slot: Slot): void {
    const next = this.waiting.shift();
    if (next !== undefined) next(slot);
    else slot.busy = false;
  }

  private spawn(): Slot {
    const worker = new Worker(this.script);
    const slot: Slot = { worker, busy: false, running: null, tainted: false, retired: false, exiting: null };
    worker.on('message', (message: FromStepThread) => this.onMessage(slot, message));
    worker.on('error', (error) => {
      // The thread died of something its own handlers could not catch (out of memory, a crash in
      // native code): the attempt it ran is the one to fail.
      if (slot.retired) return;
      this.retire(slot);
      slot.running?.onGone(classifyError(error));
    });
    worker.on('exit', (code) => {
      if (slot.retired) return;
      this.retire(slot);
      // Step code called process.exit(): the attempt whose code it was fails, if it is the one running.
      const exiter = slot.exiting?.task ?? null;
      const running = slot.running;
      const own = running !== null && (exiter === null || exiter.id === running.id);
      if (!own) this.onStray?.({ task: exiter, kind: 'exit', error: classifyError(new StepExitedError(code)) });
      running?.onGone(own ? classifyError(new StepExitedError(code)) : null);
    });
    this.slots.push(slot);
    return slot;
  }

  private onMessage(slot: Slot, message: FromStepThread): void {
    if (message.type === 'blob') {
      const blobs = slot.running?.id === message.id ? slot.running.blobs : null;
      void answerBlobRequest(blobs, message).then(({ reply, transfer }) => {
        if (!slot.retired) slot.worker.postMessage(reply satisfies ToStepThread, transfer);
      });
      return;
    }
    if (message.type === 'exiting') {
      slot.exiting = { task: message.task };
      return;
    }
    if (message.type === 'uncaught') {
      // The thread survived (its handler caught it), but the code that threw may have left it in any
      // state: it runs no task after the current one.
      slot.tainted = true;
      const running = slot.running;
      if (running !== null && message.task?.id === running.id) {
        running.onGone(message.error); // recorded against the attempt that threw, which still runs
        return;
      }
      this.onStray?.({ task: message.task, kind: 'uncaught', error: message.error });
      if (running === null && !slot.busy) this.retire(slot);
      return;
    }
    if (slot.running !== null && message.id === slot.running.id) slot.running.onMessage(message);
  }

  /** Ends a thread (terminated, or gone by itself) and hands a fresh one to whoever waits for a thread. */
  private retire(slot: Slot): void {
    const index = this.slots.indexOf(slot);
    if (index === -1) return; // retired already
    this.slots.splice(index, 1);
    slot.retired = true;
    const terminated = slot.worker.terminate();
    this.terminating.add(terminated);
    void terminated.finally(() => this.terminating.delete(terminated));
    if (this.closed) return;
    const next = this.waiting.shift();
    if (next === undefined) return;
    const fresh = this.spawn();
    fresh.busy = true;
    next(fresh);
  }
}
