import { randomUUID } from 'node:crypto';
import { withCacheForced } from '../../core/definition.js';
import { FlowEngine } from '../../runtime/engine.js';
import type { ExitCode } from '../cli-error.js';
import { loadFlow, type CommandContext } from '../context.js';
import { describeLocation, withStore } from '../store.js';
import { stepThreadsFor } from '../step-threads.js';
import { workRootOf } from '../work-root.js';
import { driveFlow, progressFor, type DriveOptions } from './drive.js';
import { writeLine } from '../render/printable.js';
import { poolForFlow } from '../resources.js';

/**
 * `chemflow run <flow-file>`: validates the whole flow file first (a bad one writes nothing), then
 * starts a flow, recording the flow file's path so `resume` can find it, and runs it to its end.
 */
export interface RunOptions extends DriveOptions {
  /** `--cache` (true) / `--no-cache` (false): force the step cache on or off; undefined: the flow file decides. */
  cache?: boolean;
  /** `--concurrency`: shards of a mapped step run at once by this process; default the number of cores. */
  concurrency?: number;
  /** `--cpus` / `--memory-mb`: what steps with `resources` share; default this machine's cores and memory. */
  cpus?: number;
  memoryMb?: number;
}

export async function runCommand(ctx: CommandContext, file: string, options: RunOptions): Promise<ExitCode> {
  const loaded = await loadFlow(ctx, file);
  // Recorded in the flow's metadata too, so `resume` and workers continue it with the same choice.
  const definition = options.cache === undefined ? loaded.definition : withCacheForced(loaded.definition, options.cache);
  const metadata = { flowFile: loaded.file, ...(options.cache === undefined ? {} : { cache: options.cache }) };
  const resources = poolForFlow(definition, options);
  return withStore(ctx, async (store) => {
    const progress = progressFor(ctx, options);
    const threads = stepThreadsFor(ctx, options.concurrency);
    const engine = new FlowEngine({
      store,
      retryPolicy: loaded.retryPolicy,
      baseDir: loaded.baseDir,
      workRoot: workRootOf(ctx),
      onEvent: progress.onEvent,
      resources,
      ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
      ...(threads === undefined ? {} : { threads }),
    });
    // Said before the flow exists: its first commit already starts the first step, which the progress shows.
    const flowId = randomUUID();
    if (options.quiet !== true)
      writeLine(ctx.io.stderr, `Flow ${flowId} (${definition.name}, ${definition.steps.length} steps) in ${describeLocation(ctx.db)}`);
    // Created leased with its first step started in the same commit: this process runs it at once.
    try {
      const handle = await engine.start(definition, { flowId, metadata, leased: true });
      return await driveFlow(ctx, { store, engine, progress, handle }, options);
    } finally {
      await threads?.close();
    }
  }, { create: true });
}
