import type { FlowEvent } from '../../core/events.js';
import { EXIT, type ExitCode } from '../cli-error.js';
import { printJson, type CommandContext, type OutputOptions } from '../context.js';
import { readStoredFlow } from '../flow-report.js';
import { oneLine, table } from '../render/table.js';
import { withStore } from '../store.js';

/** `chemflow events <flowId>`: the flow's event log, oldest first (`--json`: the events as stored). */
export async function eventsCommand(ctx: CommandContext, flowId: string, options: OutputOptions): Promise<ExitCode> {
  return withStore(ctx, async (store) => {
    const { events } = await readStoredFlow(store, flowId);
    if (options.json === true) printJson(ctx, events);
    else
      ctx.io.stdout.write(
        table(
          ['#', 'TIME', 'TYPE', 'STEP', 'ATTEMPT', 'DETAIL'],
          events.map((e) => [
            String(e.version),
            e.ts,
            e.type,
            'stepId' in e ? e.stepId : '',
            'attempt' in e ? String(e.attempt) : '',
            oneLine(detail(e), 100),
          ]),
        ),
      );
    return EXIT.ok;
  });
}

function detail(event: FlowEvent): string {
  switch (event.type) {
    case 'FlowInitialized':
      return `${event.flowName}: ${event.stepIds.join(' → ')}`;
    case 'StepStarted':
      return '';
    case 'StepSignal':
      return `${event.name} ${JSON.stringify(event.data)}`;
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
