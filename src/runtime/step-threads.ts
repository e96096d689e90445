import { Worker } from 'node:worker_threads';
import type { JsonObject } from '../core/canonical-json.js';
import type { StepDefinition } from '../core/definition.js';
import { classifyError, StepTimeoutError } from '../core/error-class.js';
import type { AttemptContext, AttemptResult } from './step-runner.js';

/** One attempt sent to a step thread: what it needs to load the step's module and run it. */
export interface StepTask {
  id: number;
  uses: string;
  baseDir: string;
  stepId: string;
  params: JsonObject;
  context: AttemptContext;
}

export interface StepTaskReply {
  id: number;
  result: AttemptResult;
}

interface Slot {
  worker: Worker;
  busy: boolean;
  /** The task it runs now, if any. */
  task: number | null;
}

/**
 * Runs step attempts in worker threads, so that the shards of a CPU-bound mapped step (RDKit is
 * synchronous) use every core of one process. A thread loads a step's module from its `origin` once
 * and runs `run(ctx)` on the input sent to it; the attempt's timeout and stop are enforced here, by
 * terminating the thread (the only way to stop synchronous code) and starting a fresh one. `script`
 * is the thread's entry point: the composition root (the CLI) knows the built-in steps, not the runtime.
 */
export class StepThreads {
  private readonly slots: Slot[] = [];
  private readonly waiting: ((slot: Slot) => void)[] = [];
  private readonly replies = new Map<number, (reply: StepTaskReply) => void>();
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly script: URL,
    readonly size: number,
  ) {}

  /** Whether `step` can run in a thread: its code was loaded from a module or a built-in type. */
  canRun(step: StepDefinition): boolean {
    return step.origin !== undefined && !this.closed;
  }

  /** One attempt of `step` in a thread; never throws (as `runAttempt`). */
  async run(step: StepDefinition, context: AttemptContext, { stop, timeoutMs }: { stop?: AbortSignal | undefined; timeoutMs: number | null }): Promise<AttemptResult> {
    const origin = step.origin;
    if (origin === undefined) throw new TypeError(`Step ${step.id} has no origin: it cannot run in a thread`);
    const slot = await this.acquire();
    const id = this.nextId++;
    const task: StepTask = { id, uses: origin.uses, baseDir: origin.baseDir, stepId: step.id, params: step.baseParams, context };
    let timer: NodeJS.Timeout | undefined;
    let onStop: (() => void) | undefined;
    try {
      const reply = new Promise<AttemptResult>((resolve) => this.replies.set(id, (r) => resolve(r.result)));
      const ended = new Promise<AttemptResult>((resolve) => {
        if (timeoutMs !== null) timer = setTimeout(() => resolve({ ok: false, error: classifyError(new StepTimeoutError(timeoutMs)), signals: [] }), timeoutMs);
        if (stop !== undefined) {
          onStop = () => resolve({ ok: false, error: classifyError(stop.reason instanceof Error ? stop.reason : new Error(String(stop.reason))), signals: [] });
          if (stop.aborted) onStop();
          else stop.addEventListener('abort', onStop, { once: true });
        }
      });
      slot.task = id;
      slot.worker.postMessage(task);
      const result = await Promise.race([reply, ended]);
      if (this.replies.has(id)) {
        // Timed out or stopped while the step still runs: only a new thread stops synchronous code.
        this.replies.delete(id);
        this.replace(slot);
        return result;
      }
      this.release(slot);
      return result;
    } catch (error) {
      this.replace(slot);
      return { ok: false, error: classifyError(error), signals: [] };
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      if (onStop !== undefined) stop?.removeEventListener('abort', onStop);
    }
  }

  /** Terminates every thread. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.splice(0).map((s) => s.worker.terminate()));
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
    slot.task = null;
    const next = this.waiting.shift();
    if (next !== undefined) next(slot);
    else slot.busy = false;
  }

  private spawn(): Slot {
    const worker = new Worker(this.script);
    const slot: Slot = { worker, busy: false, task: null };
    worker.on('message', (reply: StepTaskReply) => {
      const resolve = this.replies.get(reply.id);
      this.replies.delete(reply.id);
      resolve?.(reply);
    });
    worker.on('error', (error) => {
      // A thread that died (out of memory, a crash in native code) fails the attempt it was running.
      const id = slot.task;
      const resolve = id === null ? undefined : this.replies.get(id);
      if (id !== null) this.replies.delete(id);
      resolve?.({ id: id ?? 0, result: { ok: false, error: classifyError(error), signals: [] } });
      this.replace(slot);
    });
    this.slots.push(slot);
    return slot;
  }

  private replace(slot: Slot): void {
    const index = this.slots.indexOf(slot);
    if (index === -1) return; // replaced already
    this.slots.splice(index, 1);
    void slot.worker.terminate();
    if (this.closed) return;
    const next = this.waiting.shift();
    if (next === undefined) return;
    const fresh = this.spawn();
    fresh.busy = true;
    next(fresh);
  }
}
