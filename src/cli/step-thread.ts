// The entry point of a step thread (src/runtime/step-threads.ts): loads step modules by their origin,
// built-in or module path, once each, and runs the tasks it is sent (src/runtime/step-thread-host.ts).
import { isModulePath, resolveStepModule } from '../flowfile/step-module.js';
import { serveStepTasks } from '../runtime/step-thread-host.js';
import { builtinSteps } from './context.js';

// The built-in steps (RDKit among them) are imported only by a thread that runs one: a thread replaced
// after a timeout is ready sooner.
serveStepTasks(async (uses, baseDir) => resolveStepModule(uses, baseDir, isModulePath(uses) ? {} : await builtinSteps()));
