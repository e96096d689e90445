import type { ShardPosition } from '../../core/definition.js';
import type { FlowEvent, FlowInitialized } from '../../core/events.js';
import { EXIT, type ExitCode } from '../cli-error.js';
import { printJson, type CommandContext, type OutputOptions } from '../context.js';
import { readStoredFlow } from '../flow-report.js';
import { shardLabel } from '../render/shards.js';
import { oneLine, table } from '../render/table.js';
import { withStore } from '../store.js';

/** `chemflow events <flowId>`: the flow's event log, oldest first (`--json`: the events as stored). */
export async function eventsCommand(ctx: CommandContext, flowId: string, options: OutputOptions): Promise<ExitCode> {
  return withStore(ctx, async (store) => {
    const { events } = await readStoredFlow(store, flowId);
    // `--json` prints the events as stored, so a shard event carries its `shard` (and a sharded start its `shardCount`) as is.
    if (options.json === true) printJson(ctx, events);
    else {
      // The SHARD column appears only in a log with shard events: other logs print as they always did.
      const sharded = events.some((e) => shardOf(e) !== undefined);
      ctx.io.stdout.write(
        table(
          ['#', 'TIME', 'TYPE', 'STEP', ...(sharded ? ['SHARD'] : []), 'ATTEMPT', 'DETAIL'],
          events.map((e) => [
            String(e.version),
            e.ts,
            e.type,
            'stepId' in e ? e.stepId : '',
            ...(sharded ? [shardCell(shardOf(e))] : []),
            'attempt' in e ? String(e.attempt) : '',
            oneLine(detail(e), 100),
          ]),
        ),
      );
    }
    return EXIT.ok;
  });
}

/** The shard an event belongs to: only step events of a sharded step's shards have one. */
function shardOf(event: FlowEvent): ShardPosition | undefined {
  return 'shard' in event ? event.shard : undefined;
}

function shardCell(shard: ShardPosition | undefined): string {
  return shard === undefined ? '' : shardLabel(shard);
}

/**
 * The flow's steps as its first event records them: a list as the chain it is (`read → score`), a graph
 * as each step with the steps it needs (`read; score ← read; report ← read, score`).
 */
function stepsText(event: FlowInitialized): string {
  const needs = event.needs;
  if (needs === undefined) return event.stepIds.join(' → ');
  return event.stepIds
    .map((id, i) => {
      const list = needs[i] ?? [];
      return list.length === 0 ? id : `${id} ← ${list.map((n) => event.stepIds[n] ?? String(n)).join(', ')}`;
    })
    .join('; ');
}

function detail(event: FlowEvent): string {
  switch (event.type) {
    case 'FlowInitialized':
      return `${event.flowName}: ${stepsText(event)}`;
    case 'StepStarted':
      // The start of a sharded step (not of one of its shards) says how many shards its input split into.
      return event.shardCount === undefined || event.shard !== undefined ? '' : `split into ${event.shardCount} shard(s)`;
    case 'StepSignal':
      return `${event.name} ${JSON.stringify(event.data)}`;
    case 'StepSkipped':
      return event.reason === 'condition' ? 'its condition is false' : 'every step it needs was skipped';
    case 'StepFinished':
      return `${event.outputs.length} output(s), fingerprint ${event.fingerprint.slice(0, 16)}${
        event.cachedFrom != null ? `, cached from flow ${event.cachedFrom.flowId} step ${event.cachedFrom.stepId}` : ''
      }`;
    case 'StepFailed':
      return `${event.errorClass} ${event.error.code}: ${event.error.message}`;
    case 'RetryScheduled':
      return `retry ${event.retryIndex}, delay ${event.delayMs} ms${event.reason === null ? '' : ` (${event.reason})`}`;
    case 'FlowCompleted':
      return `flow fingerprint ${event.flowFingerprint}`;
    case 'FlowCancelled':
      return event.reason === null ? '' : event.reason;
  }
}
