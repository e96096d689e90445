import { AsyncLocalStorage } from 'node:async_hooks';
import { parentPort } from 'node:worker_threads';
import type { JsonValue } from '../core/canonical-json.js';
import type { StepDefinition, StepModule } from '../core/definition.js';
import { classifyError } from '../core/error-class.js';
import { runAttempt } from './step-runner.js';
import type { CacheKeyReply, FromStepThread, StepTask, StepTaskLabel, ToStepThread } from './step-threads.js';
import { blobsInThread, settleBlobReply, type PendingBlobReplies } from './thread-blobs.js';

/**
 * The inside of a step thread (see `StepThreads`): loads step modules with `load`, once each, and runs
 * the tasks it is sent. Every task runs in an async context naming it, so that an error thrown where
 * nothing catches it (a timer, a rejection nobody awaited) or a `process.exit()` is reported with the
 * attempt whose code it was, not blamed on whichever attempt the thread runs by then.
 */
export function serveStepTasks(load: (uses: string, baseDir: string) => Promise<StepModule>): void {
  const port = parentPort;
  if (port === null) throw new Error('serveStepTasks runs in a step thread');
  const parent = port;
  const post = (message: FromStepThread): void => port.postMessage(message);
  const scope = new AsyncLocalStorage<StepTaskLabel>();
  const modules = new Map<string, Promise<StepModule>>();
  const aborts = new Map<number, AbortController>();
  const blobReplies: PendingBlobReplies = { next: 1, waiting: new Map() };

  const moduleOf = (task: StepTask): Promise<StepModule> => {
    const key = `${task.baseDir}\u0000${task.uses}`;
    let module = modules.get(key);
    if (module === undefined) {
      module = load(task.uses, task.baseDir);
      modules.set(key, module);
    }
    return module;
  };

  const uncaught = (error: unknown): void => post({ type: 'uncaught', task: scope.getStore() ?? null, error: classifyError(error) });
  process.on('uncaughtException', uncaught);
  process.on('unhandledRejection', uncaught);
  process.on('exit', (code) => post({ type: 'exiting', task: scope.getStore() ?? null, code }));

  async function handle(task: StepTask, stop: AbortSignal): Promise<void> {
    const id = task.label.id;
    // The step's own promise: after an abort `runAttempt` returns at once, while the step may still
    // be stopping; `settled` says when it has.
    let work: Promise<unknown> = Promise.resolve();
    let result: FromStepThread & { type: 'result' };
    try {
      const module = await moduleOf(task);
      if (task.type === 'cacheKey') {
        if (module.cacheKey === undefined) throw new TypeError(`Step ${task.label.stepId} has no cacheKey hook`);
        const value: Promise<JsonValue> = Promise.resolve().then(() => module.cacheKey!(task.params, { baseDir: task.hookBaseDir, inputHashes: task.inputHashes }));
        work = value;
        result = { type: 'result', id, result: { ok: true, value: await value } satisfies CacheKeyReply };
      } else {
        const step: StepDefinition = {
          id: task.label.stepId,
          kind: module.kind,
          baseParams: task.params,
          ...(module.streaming === true ? { streaming: true } : {}),
          run: (ctx) => {
            const running = Promise.resolve().then(() => module.run(ctx));
            work = running;
            return running;
          },
        };
        const blobs = blobsInThread(task.blobs, parent, id, blobReplies);
        const io = { blobs, ...(task.chunkLimits === null ? {} : { chunkLimits: task.chunkLimits }) };
        const attempt = await runAttempt(step, task.context, { timeoutMs: null, stop, onSignal: (signal) => post({ type: 'signal', id, signal }) }, io);
        result = { type: 'result', id, result: attempt };
      }
    } catch (error) {
      result = { type: 'result', id, result: { ok: false, error: classifyError(error), signals: [] } };
    }
    post(result);
    await work.catch(() => undefined);
    post({ type: 'settled', id });
  }

  port.on('message', (message: ToStepThread) => {
    if (message.type === 'blob-reply') {
      settleBlobReply(blobReplies, message);
      return;
    }
    if (message.type === 'abort') {
      const { name, message: text, code } = message.reason;
      aborts.get(message.id)?.abort(Object.assign(new Error(text), { name, code }));
      post({ type: 'aborted', id: message.id });
      return;
    }
    const controller = new AbortController();
    aborts.set(message.label.id, controller);
    void scope.run(message.label, () => handle(message, controller.signal)).finally(() => aborts.delete(message.label.id));
  });
}
