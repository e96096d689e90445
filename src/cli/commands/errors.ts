import type { JsonObject } from '../../core/canonical-json.js';
import type { ErrorClass } from '../../core/error-class.js';
import { countErrors } from '../../core/step-execution-error.js';
import { EXIT, UsageError, type ExitCode } from '../cli-error.js';
import { printJson, type CommandContext, type OutputOptions } from '../context.js';
import { readStoredFlow } from '../flow-report.js';
import { renderErrorCounts } from '../render/summary.js';
import { oneLine, table } from '../render/table.js';
import { withStore } from '../store.js';

/** `chemflow errors --json`: one entry per failed attempt; a public contract, field names are stable. */
export interface ErrorTimelineEntry {
  stepId: string;
  attemptNumber: number;
  errorClass: ErrorClass;
  errorMessage: string;
  retryCount: number;
  maxRetries: number;
  timestamp: string;
  details: JsonObject;
}

export interface ErrorsOptions extends OutputOptions {
  step?: string;
}

/**
 * `chemflow errors <flowId> [--step <id>]`: the error timeline from `step_execution_errors`, ordered by
 * step (definition order) then attempt.
 */
export async function errorsCommand(ctx: CommandContext, flowId: string, options: ErrorsOptions): Promise<ExitCode> {
  return withStore(ctx, async (store) => {
    const { shape } = await readStoredFlow(store, flowId);
    const stepIds = shape.steps.map((s) => s.id);
    if (options.step !== undefined && !stepIds.includes(options.step))
      throw new UsageError(`Flow ${flowId} has no step "${options.step}"`, `its steps are: ${stepIds.join(', ')}`);
    const entries: ErrorTimelineEntry[] = [];
    for (const stepId of options.step === undefined ? stepIds : [options.step])
      for (const row of await store.getErrorTimeline(flowId, stepId))
        entries.push({
          stepId: row.stepId,
          attemptNumber: row.attemptNumber,
          errorClass: row.errorClass,
          errorMessage: row.errorMessage,
          retryCount: row.retryCount,
          maxRetries: row.maxRetries,
          timestamp: row.timestamp,
          details: row.details,
        });
    if (options.json === true) {
      printJson(ctx, entries);
      return EXIT.ok;
    }
    if (entries.length === 0) {
      ctx.io.stdout.write(`No errors recorded for ${options.step === undefined ? `flow ${flowId}` : `step ${options.step}`}.\n`);
      return EXIT.ok;
    }
    ctx.io.stdout.write(
      table(
        ['STEP', 'ATTEMPT', 'CLASS', 'CODE', 'RETRY', 'MAX', 'TIME', 'MESSAGE'],
        entries.map((e) => [
          e.stepId,
          String(e.attemptNumber),
          e.errorClass,
          typeof e.details.error_code === 'string' ? e.details.error_code : '',
          String(e.retryCount),
          String(e.maxRetries),
          e.timestamp,
          oneLine(e.errorMessage, 100),
        ]),
      ),
    );
    ctx.io.stdout.write(`\n${renderErrorCounts(countErrors(entries))}\n`);
    return EXIT.ok;
  });
}
