import { withCacheForced } from '../../core/definition.js';
import { FlowEngine } from '../../runtime/engine.js';
import { EXIT, type ExitCode } from '../cli-error.js';
import { loadFlow, printJson, type CommandContext, type OutputOptions } from '../context.js';
import { describeLocation, withStore } from '../store.js';
import { writeLine } from '../render/printable.js';

/** `chemflow submit --json`: the flow that was created. */
export interface SubmitReport {
  flowId: string;
  name: string;
  status: 'pending';
  flowFile: string;
}

/**
 * `chemflow submit <flow-file>`: validates the flow file and records a new flow (its `FlowInitialized`,
 * with the flow file's path) without running it: `chemflow worker` processes pick it up.
 */
export interface SubmitOptions extends OutputOptions {
  /** `--cache` / `--no-cache`: recorded in the flow's metadata for the worker that runs it. */
  cache?: boolean;
}

export async function submitCommand(ctx: CommandContext, file: string, options: SubmitOptions): Promise<ExitCode> {
  const loaded = await loadFlow(ctx, file);
  const definition = options.cache === undefined ? loaded.definition : withCacheForced(loaded.definition, options.cache);
  const metadata = { flowFile: loaded.file, ...(options.cache === undefined ? {} : { cache: options.cache }) };
  return withStore(ctx, async (store) => {
    const flowId = await new FlowEngine({ store, retryPolicy: loaded.retryPolicy }).startFlow(definition, { metadata });
    const report: SubmitReport = { flowId, name: loaded.definition.name, status: 'pending', flowFile: loaded.file };
    if (options.json === true) printJson(ctx, report);
    else {
      ctx.io.stdout.write(`${flowId}\n`);
      writeLine(ctx.io.stderr, `Submitted flow ${flowId} (${loaded.definition.name}) to ${describeLocation(ctx.db)}.`);
      writeLine(ctx.io.stderr, `Next: \`chemflow worker\` runs it (or \`chemflow resume ${flowId}\` in this terminal).`);
    }
    return EXIT.ok;
  }, { create: true });
}
