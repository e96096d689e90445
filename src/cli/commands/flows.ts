import { EXIT, type ExitCode } from '../cli-error.js';
import { printJson, type CommandContext, type OutputOptions } from '../context.js';
import { listEntry, type FlowListEntry } from '../flow-listing.js';
import { table } from '../render/table.js';
import { withStore } from '../store.js';

export type { FlowListEntry };

/** `chemflow flows`: every flow in the database with its status. */
export async function flowsCommand(ctx: CommandContext, options: OutputOptions): Promise<ExitCode> {
  return withStore(ctx.db, async (store) => {
    const entries: FlowListEntry[] = [];
    for (const summary of await store.listFlows()) {
      const entry = await listEntry(store, summary);
      if (entry !== undefined) entries.push(entry);
    }
    if (options.json === true) printJson(ctx, entries);
    else if (entries.length === 0) ctx.io.stdout.write('No flows yet. Start one with `chemflow run <flow-file>`.\n');
    else
      ctx.io.stdout.write(
        table(
          ['FLOW ID', 'NAME', 'STATUS', 'EVENTS', 'UPDATED'],
          entries.map((e) => [e.flowId, e.name, e.status, String(e.version), e.updatedAt]),
        ),
      );
    const corrupt = entries.filter((e) => e.status === 'corrupt');
    for (const e of corrupt) ctx.io.stderr.write(`Warning: ${e.problem ?? `flow ${e.flowId} has an unreadable event`}\n`);
    if (corrupt.length > 0)
      ctx.io.stderr.write(
        'Next: an event written by a newer chemflow needs that version to read it; otherwise inspect the row in event_log (flow_id and version above). The other flows are unaffected.\n',
      );
    return EXIT.ok;
  });
}
