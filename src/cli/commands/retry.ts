import { manualRetryLimit } from '../../core/retry-decision.js';
import { DEFAULT_RETRY_POLICY } from '../../core/retry-policy.js';
import { FlowEngine } from '../../runtime/engine.js';
import type { FlowStore } from '../../stores/flow-store.js';
import { EXIT, type ExitCode } from '../cli-error.js';
import { printJson, type CommandContext, type OutputOptions } from '../context.js';
import { readStoredFlow } from '../flow-report.js';
import { withStore } from '../store.js';
import { writeLine } from '../render/printable.js';

export interface RetryOptions extends OutputOptions {
  reason?: string;
  maxRetries?: number;
}

/** `chemflow retry --json`: the retry that was scheduled. */
export interface RetryReport {
  flowId: string;
  stepId: string;
  retryIndex: number;
  maxRetries: number;
  reason: string | null;
  notBefore: string;
}

/**
 * `chemflow retry <flowId> <stepId>`: puts a Failed step back to Pending. The limit is
 * `--max-retries`, else the step's policy recorded when the flow started (for older logs: the limit
 * recorded with its last failure), so no step code or flow file is needed. A rejection (`RetryRejectedError`) appends nothing.
 */
export async function retryCommand(ctx: CommandContext, flowId: string, stepId: string, options: RetryOptions): Promise<ExitCode> {
  return withStore(ctx, async (store) => {
    const report = await retryStep(store, flowId, stepId, options);
    const { retryIndex, maxRetries } = report;
    if (options.json === true) printJson(ctx, report);
    else {
      writeLine(ctx.io.stdout, `Scheduled retry ${retryIndex} of ${maxRetries} for step ${stepId} of flow ${flowId}.`);
      writeLine(ctx.io.stdout, `Next: \`chemflow resume ${flowId}\` runs it.`);
    }
    return EXIT.ok;
  });
}

/** Schedules the retry of a Failed step under the CLI's rules; a rejection throws `RetryRejectedError` and appends nothing. */
export async function retryStep(store: FlowStore, flowId: string, stepId: string, options: Omit<RetryOptions, 'json'> = {}): Promise<RetryReport> {
  const { shape, flow, events } = await readStoredFlow(store, flowId);
  const maxRetries = options.maxRetries ?? manualRetryLimit(flow, stepId, DEFAULT_RETRY_POLICY.maxRetries);
  const engine = new FlowEngine({ store });
  // The recorded shape is all a retry needs: no flow file, no step code, and the log read once.
  const handle = await engine.open(flowId, shape, { events });
  const retry = await engine.scheduleRetry(handle, stepId, { maxRetries, ...(options.reason === undefined ? {} : { reason: options.reason }) });
  return { flowId, stepId, retryIndex: retry.retryIndex, maxRetries, reason: retry.reason, notBefore: retry.notBefore };
}
