import { cancelFlow } from '../../runtime/cancel.js';
import { EXIT, type ExitCode } from '../cli-error.js';
import { printJson, type CommandContext, type OutputOptions } from '../context.js';
import { withStore } from '../store.js';

export interface CancelOptions extends OutputOptions {
  reason?: string;
}

/** `chemflow cancel --json`: the cancellation that was recorded. */
export interface CancelReport {
  flowId: string;
  status: 'cancelled';
  reason: string | null;
  version: number;
}

/**
 * `chemflow cancel <flowId>`: appends `FlowCancelled`. No step starts after it; an attempt in flight is
 * told through `ctx.signal` at its worker's next heartbeat and its outcome is recorded. A completed or
 * already cancelled flow exits 2 and nothing is appended.
 */
export async function cancelCommand(ctx: CommandContext, flowId: string, options: CancelOptions): Promise<ExitCode> {
  return withStore(ctx, async (store) => {
    const event = await cancelFlow(store, flowId, options.reason ?? null);
    const report: CancelReport = { flowId, status: 'cancelled', reason: event.reason, version: event.version };
    if (options.json === true) printJson(ctx, report);
    else
      ctx.io.stdout.write(
        `Cancelled flow ${flowId}${event.reason === null ? '' : ` (${event.reason})`}. No step starts again; ` +
          'an attempt in flight stops at its next heartbeat.\n',
      );
    return EXIT.ok;
  });
}
