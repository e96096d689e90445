import { FlowNotFoundError } from '../../core/errors.js';
import { EXIT, type ExitCode } from '../cli-error.js';
import { printJson, type CommandContext, type OutputOptions } from '../context.js';
import { withStore } from '../store.js';

/** `chemflow queue rebuild --json`. */
export interface QueueRebuildReport {
  rebuilt: number;
  flowId: string | null;
}

/**
 * `chemflow queue rebuild [flowId]`: recomputes the flow queue (one row per flow) from the event log,
 * which stays the system of record. Leases are kept, so it is safe while workers run.
 */
export async function queueRebuildCommand(ctx: CommandContext, flowId: string | undefined, options: OutputOptions): Promise<ExitCode> {
  return withStore(ctx, async (store) => {
    const rebuilt = await store.rebuildQueue(flowId);
    // A flow with events always gets its row rewritten: none written means no such flow (a typo, another database).
    if (flowId !== undefined && rebuilt === 0) throw new FlowNotFoundError(flowId);
    const report: QueueRebuildReport = { rebuilt, flowId: flowId ?? null };
    if (options.json === true) printJson(ctx, report);
    else ctx.io.stdout.write(`Rebuilt ${rebuilt} flow queue row(s) from the event log.\n`);
    return EXIT.ok;
  });
}
