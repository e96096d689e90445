import type { JsonObject } from '../../core/canonical-json.js';
import type { ShardPosition } from '../../core/definition.js';
import type { ErrorClass } from '../../core/error-class.js';
import { countErrors, type StepExecutionError } from '../../core/step-execution-error.js';
import type { FlowStore } from '../../stores/flow-store.js';
import { EXIT, UsageError, type ExitCode } from '../cli-error.js';
import { printJson, type CommandContext, type OutputOptions } from '../context.js';
import { readStoredFlow } from '../flow-report.js';
import { shardLabel } from '../render/shards.js';
import { renderErrorCounts } from '../render/summary.js';
import { oneLine, table } from '../render/table.js';
import { withStore } from '../store.js';
import { writeLine } from '../render/printable.js';

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
  /** The failed shard of a sharded step (`details.shard`); null for a step that ran whole. */
  shard: ShardPosition | null;
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
    const entries = await errorTimeline(store, flowId, options.step);
    if (options.json === true) {
      printJson(ctx, entries);
      return EXIT.ok;
    }
    if (entries.length === 0) {
      writeLine(ctx.io.stdout, `No errors recorded for ${options.step === undefined ? `flow ${flowId}` : `step ${options.step}`}.`);
      return EXIT.ok;
    }
    // The SHARD column appears only when a shard failed: the table of other flows stays as it was.
    const sharded = entries.some((e) => e.shard !== null);
    ctx.io.stdout.write(
      table(
        ['STEP', ...(sharded ? ['SHARD'] : []), 'ATTEMPT', 'CLASS', 'CODE', 'RETRY', 'MAX', 'TIME', 'MESSAGE'],
        entries.map((e) => [
          e.stepId,
          ...(sharded ? [e.shard === null ? '' : shardLabel(e.shard)] : []),
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

/**
 * A flow's error timeline as `errors --json` prints it: by step (definition order) then attempt. An
 * unknown `step` is a `UsageError` naming the flow's steps.
 */
export async function errorTimeline(store: FlowStore, flowId: string, step?: string): Promise<ErrorTimelineEntry[]> {
  const { shape } = await readStoredFlow(store, flowId);
  const stepIds = shape.steps.map((s) => s.id);
  if (step !== undefined && !stepIds.includes(step))
    throw new UsageError(`Flow ${flowId} has no step "${step}"`, `its steps are: ${stepIds.join(', ')}`);
  const entries: ErrorTimelineEntry[] = [];
  for (const stepId of step === undefined ? stepIds : [step])
    for (const row of await store.getErrorTimeline(flowId, stepId)) entries.push(timelineEntry(row));
  return entries;
}

/** One `step_execution_errors` row as an `errors --json` entry. */
export function timelineEntry(row: StepExecutionError): ErrorTimelineEntry {
  return {
    stepId: row.stepId,
    attemptNumber: row.attemptNumber,
    errorClass: row.errorClass,
    errorMessage: row.errorMessage,
    retryCount: row.retryCount,
    maxRetries: row.maxRetries,
    timestamp: row.timestamp,
    details: row.details,
    shard: shardOf(row.details),
  };
}

/**
 * The shard a row's `details.shard` names. The row is a projection of its StepFailed, whose codec checked
 * the event's `shard`; `details` is the step's own JSON too, so anything else there is read as no shard.
 */
function shardOf(details: JsonObject): ShardPosition | null {
  const shard = details.shard;
  if (shard === null || typeof shard !== 'object' || Array.isArray(shard)) return null;
  const { index, count } = shard;
  if (typeof index !== 'number' || typeof count !== 'number' || !Number.isSafeInteger(index) || !Number.isSafeInteger(count)) return null;
  return { index, count };
}
