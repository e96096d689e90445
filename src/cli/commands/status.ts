import type { FlowStore } from '../../stores/flow-store.js';
import { EXIT, type ExitCode } from '../cli-error.js';
import { printJson, type CommandContext, type OutputOptions } from '../context.js';
import { flowReport, readStoredFlow, type FlowReport } from '../flow-report.js';
import { styleFor } from '../io.js';
import { renderSummary } from '../render/summary.js';
import { withStore } from '../store.js';

/** `chemflow status <flowId>`: the replayed state of a flow, read without its step code. */
export async function statusCommand(ctx: CommandContext, flowId: string, options: OutputOptions): Promise<ExitCode> {
  return withStore(ctx, async (store) => {
    const { report, name } = await statusReport(store, flowId);
    if (options.json === true) printJson(ctx, report);
    else ctx.io.stdout.write(renderSummary(report, name, styleFor(ctx.io.stdout, ctx.io.env)));
    return EXIT.ok;
  });
}

/** A flow's `status --json` document, and its name, from its log and error counts. */
export async function statusReport(store: FlowStore, flowId: string): Promise<{ report: FlowReport; name: string }> {
  const { flow } = await readStoredFlow(store, flowId);
  return { report: flowReport(flow, await store.countErrorsByFlow(flowId)), name: flow.name };
}
