import { flowStatus, type FlowStatus } from '../../core/flow-state.js';
import { replay, shapeFromEvents } from '../../core/reducer.js';
import type { FlowSummary } from '../../stores/flow-store.js';
import { EXIT, type ExitCode } from '../cli-error.js';
import { printJson, type CommandContext, type OutputOptions } from '../context.js';
import { table } from '../render/table.js';
import { withStore } from '../store.js';

/** `chemflow flows --json`: one entry per flow, most recently updated first. */
export type FlowListEntry = Pick<FlowSummary, 'flowId' | 'name'> & { status: FlowStatus } & Omit<FlowSummary, 'flowId' | 'name'>;

/** `chemflow flows`: every flow in the database with its status. */
export async function flowsCommand(ctx: CommandContext, options: OutputOptions): Promise<ExitCode> {
  return withStore(ctx.db, async (store) => {
    const entries: FlowListEntry[] = [];
    for (const summary of await store.listFlows()) {
      const events = await store.list(summary.flowId);
      const shape = shapeFromEvents(events);
      if (shape === undefined) continue;
      const status = flowStatus(replay(summary.flowId, events, shape));
      entries.push({ flowId: summary.flowId, name: summary.name, status, ...withoutIdentity(summary) });
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
    return EXIT.ok;
  });
}

function withoutIdentity(summary: FlowSummary): Omit<FlowSummary, 'flowId' | 'name'> {
  return { version: summary.version, lastEventType: summary.lastEventType, createdAt: summary.createdAt, updatedAt: summary.updatedAt };
}
