// The entry point of a step thread (src/runtime/step-threads.ts): loads step modules by their origin,
// built-in or module path, once each, and runs the attempts it is sent.
import { parentPort } from 'node:worker_threads';
import type { StepDefinition, StepModule } from '../core/definition.js';
import { classifyError } from '../core/error-class.js';
import { resolveStepModule } from '../flowfile/step-module.js';
import type { StepTask, StepTaskReply } from '../runtime/step-threads.js';
import { runAttempt } from '../runtime/step-runner.js';
import { builtinSteps } from './context.js';

const modules = new Map<string, Promise<StepModule>>();

function moduleOf(task: StepTask): Promise<StepModule> {
  const key = `${task.baseDir}\u0000${task.uses}`;
  let module = modules.get(key);
  if (module === undefined) {
    module = builtinSteps().then((builtins) => resolveStepModule(task.uses, task.baseDir, builtins));
    modules.set(key, module);
  }
  return module;
}

async function handle(task: StepTask): Promise<StepTaskReply> {
  try {
    const module = await moduleOf(task);
    const step: StepDefinition = { id: task.stepId, kind: module.kind, baseParams: task.params, run: (ctx) => module.run(ctx) };
    return { id: task.id, result: await runAttempt(step, task.context, { timeoutMs: null }) };
  } catch (error) {
    return { id: task.id, result: { ok: false, error: classifyError(error), signals: [] } };
  }
}

parentPort?.on('message', (task: StepTask) => {
  void handle(task).then((reply) => parentPort?.postMessage(reply));
});
