import { DEFAULT_RETRY_POLICY } from '../../core/retry-policy.js';
import { FlowEngine } from '../../runtime/engine.js';
import { EXIT, type ExitCode } from '../cli-error.js';
import { printJson, type CommandContext, type OutputOptions } from '../context.js';
import { readStoredFlow, shapeOnlyDefinition } from '../flow-report.js';
import { withStore } from '../store.js';

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
 * `chemflow retry <flowId> <stepId>`: puts a Failed step back to Pending (F7). The limit is
 * `--max-retries`, else the one recorded with the step's last failure (its policy when it failed), so
 * no step code or flow file is needed. A rejection (`RetryRejectedError`) appends nothing.
 */
export async function retryCommand(ctx: CommandContext, flowId: string, stepId: string, options: RetryOptions): Promise<ExitCode> {
  return withStore(ctx.db, async (store) => {
    const { shape, flow } = await readStoredFlow(store, flowId);
    const slot = flow.steps.find((s) => s.stepId === stepId);
    const recorded = slot?.errors[slot.errors.length - 1]?.maxRetries;
    const maxRetries = options.maxRetries ?? recorded ?? DEFAULT_RETRY_POLICY.maxRetries;
    const engine = new FlowEngine({ store });
    const retry = await engine.scheduleRetry(flowId, shapeOnlyDefinition(shape), stepId, options.reason, maxRetries);
    const report: RetryReport = {
      flowId,
      stepId,
      retryIndex: retry.retryIndex,
      maxRetries,
      reason: retry.reason,
      notBefore: retry.notBefore,
    };
    if (options.json === true) printJson(ctx, report);
    else
      ctx.io.stdout.write(
        `Scheduled retry ${retry.retryIndex} of ${maxRetries} for step ${stepId} of flow ${flowId}.\n` +
          `Next: \`chemflow resume ${flowId}\` runs it.\n`,
      );
    return EXIT.ok;
  });
}
