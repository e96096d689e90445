import type { QueueStatus } from '../../core/queue-status.js';
import type { FlowQuery, FlowStore, FlowSummary } from '../../stores/flow-store.js';
import { EXIT, type ExitCode } from '../cli-error.js';
import { printJson, type CommandContext } from '../context.js';
import { table } from '../render/table.js';
import { withStore } from '../store.js';
import { writeLine } from '../render/printable.js';

/** `chemflow flows --json`: one entry per flow, newest first. */
export type FlowListEntry = Pick<FlowSummary, 'flowId' | 'name' | 'status' | 'version' | 'lastEventType' | 'createdAt' | 'updatedAt'>;

export interface FlowsCommandOptions {
  json?: boolean;
  /** `--status` (repeatable). */
  status?: QueueStatus[];
  name?: string;
  limit?: number;
  /** `--after <flowId>`: the next page after this flow. */
  after?: string;
}

/**
 * `chemflow flows`: one page of flows from the flow queue, newest first. It reads one indexed page of
 * the queue table, never the event log, so it costs the same with ten flows or ten million.
 */
export async function flowsCommand(ctx: CommandContext, options: FlowsCommandOptions): Promise<ExitCode> {
  const query: FlowQuery = {
    ...(options.status === undefined ? {} : { status: options.status }),
    ...(options.name === undefined ? {} : { name: options.name }),
    ...(options.limit === undefined ? {} : { limit: options.limit }),
    ...(options.after === undefined ? {} : { after: options.after }),
  };
  return withStore(ctx, async (store) => {
    const entries = await listFlowEntries(store, query);
    if (options.json === true) printJson(ctx, entries);
    else if (entries.length === 0)
      ctx.io.stdout.write(
        query.status !== undefined || query.name !== undefined || query.after !== undefined
          ? 'No flows match.\n'
          : 'No flows yet. Start one with `chemflow run <flow-file>`.\n',
      );
    else {
      ctx.io.stdout.write(
        table(
          ['FLOW ID', 'NAME', 'STATUS', 'EVENTS', 'CREATED', 'UPDATED'],
          entries.map((e) => [e.flowId, e.name, e.status, String(e.version), e.createdAt, e.updatedAt]),
        ),
      );
      const last = entries[entries.length - 1];
      if (last !== undefined && entries.length === (query.limit ?? 50))
        writeLine(ctx.io.stderr, `More flows may follow: \`chemflow flows --after ${last.flowId}\` shows the next page.`);
    }
    return EXIT.ok;
  });
}

/** One page of the flow queue as `flows --json` prints it. */
export async function listFlowEntries(store: FlowStore, query: FlowQuery): Promise<FlowListEntry[]> {
  return (await store.listFlows(query)).map(entry);
}

function entry(summary: FlowSummary): FlowListEntry {
  const { flowId, name, status, version, lastEventType, createdAt, updatedAt } = summary;
  return { flowId, name, status, version, lastEventType, createdAt, updatedAt };
}
