import { EXIT, type ExitCode } from '../cli-error.js';
import { printJson, type CommandContext, type OutputOptions } from '../context.js';
import { flowReport, readStoredFlow } from '../flow-report.js';
import { styleFor } from '../io.js';
import { renderSummary } from '../render/summary.js';
import { withStore } from '../store.js';

/** `chemflow status <flowId>`: the replayed state of a flow, read without its step code. */
export async function statusCommand(ctx: CommandContext, flowId: string, options: OutputOptions): Promise<ExitCode> {
  return withStore(ctx, async (store) => {
    const { flow } = await readStoredFlow(store, flowId);
    const report = flowReport(flow, await store.countErrorsByFlow(flowId));
    if (options.json === true) printJson(ctx, report);
    else ctx.io.stdout.write(renderSummary(report, flow.name, styleFor(ctx.io.stdout, ctx.io.env)));
    return EXIT.ok;
  });
}
