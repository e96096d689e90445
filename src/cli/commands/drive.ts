import type { FlowInstance } from '../../core/flow-state.js';
import type { FlowEngine, FlowHandle } from '../../runtime/engine.js';
import type { FlowStore } from '../../stores/flow-store.js';
import { EXIT, type ExitCode } from '../cli-error.js';
import { printJson, type CommandContext } from '../context.js';
import { flowReport } from '../flow-report.js';
import { styleFor } from '../io.js';
import { ProgressDisplay, progressMode } from '../render/progress.js';
import { renderSummary } from '../render/summary.js';
import { printable } from '../render/printable.js';
import { oneLine } from '../render/table.js';
import { stopAllCommandGroups } from '../../runtime/command/process-group.js';

export interface DriveOptions {
  json?: boolean;
  quiet?: boolean;
  /**
   * For a program that runs flows and handles its own signals (`chemflow ui`): once aborted, the flow
   * stops after the attempt in flight has recorded its result, and the lease is given back. Without
   * it, Ctrl-C leaves at once and the interrupted attempt is recovered as lost.
   */
  stop?: AbortSignal;
}

/**
 * Runs a flow to its end with a progress display, then prints the summary (or the JSON report).
 * Exit 0 when it completed, 1 when it failed.
 */
export async function driveFlow(
  ctx: CommandContext,
  setup: { store: FlowStore; engine: FlowEngine; progress: ProgressDisplay; handle: FlowHandle },
  options: DriveOptions,
): Promise<ExitCode> {
  const { store, engine, progress, handle } = setup;
  const { flowId } = handle;
  const stopOnInterrupt = options.stop === undefined ? interruptHint(ctx, flowId, progress, () => store.releaseLease(flowId, engine.leaseOwner)) : () => undefined;
  let flow: FlowInstance;
  progress.begin(handle.flow);
  try {
    flow = await engine.runToEnd(handle, options.stop === undefined ? {} : { signal: options.stop });
  } finally {
    progress.end();
    stopOnInterrupt();
  }
  const report = flowReport(flow, await store.countErrorsByFlow(flowId));
  if (options.json === true) printJson(ctx, report);
  else {
    ctx.io.stdout.write(`\n${renderSummary(report, flow.name, styleFor(ctx.io.stdout, ctx.io.env))}`);
    if (progress.notes.length > 0) ctx.io.stdout.write(`\nNotes:\n${progress.notes.map((n) => `  ${printable(n)}\n`).join('')}`);
  }
  if (flow.status === 'completed') return EXIT.ok;
  ctx.io.stderr.write(flow.status === 'cancelled' ? `${printable(`Flow ${flow.id} was cancelled: no step starts again.`)}\n` : failureHint(flow));
  return EXIT.flowFailed;
}

/** The progress display for `run`/`resume`, on stderr. */
export function progressFor(ctx: CommandContext, options: DriveOptions): ProgressDisplay {
  const mode = progressMode(ctx.io.stderr, { json: options.json === true, quiet: options.quiet === true }, ctx.io.env);
  return new ProgressDisplay(ctx.io.stderr, mode, styleFor(ctx.io.stderr, ctx.io.env));
}

/** What a failed flow's user should do next. */
export function failureHint(flow: FlowInstance): string {
  const step = flow.steps.find((s) => s.status === 'Failed');
  if (step === undefined) return `${printable(`Flow ${flow.id} failed.`)}\n`;
  const last = step.errors[step.errors.length - 1];
  const cause = last ? ` on attempt ${last.attemptNumber} (${last.errorClass} ${last.code}: ${oneLine(last.message, 200)})` : '';
  // A sharded step failed because shards did: `retry` retries each of them, each with its own count.
  const failedShards = step.shards?.flatMap((s, i) => (s.status === 'Failed' ? [{ ...s, index: i }] : [])) ?? [];
  const used = failedShards.length > 0 ? Math.max(...failedShards.map((s) => s.retryCount)) : step.retryCount;
  const usedUp = last !== undefined && used >= last.maxRetries;
  const which = failedShards.length > 0 ? ` (shard${failedShards.length > 1 ? 's' : ''} ${failedShards.map((s) => `${s.index}/${step.shards?.length ?? 0}`).join(', ')})` : '';
  return [
    `Flow ${flow.id} failed: step ${step.stepId}${which} failed${cause}.`,
    `Next: fix the cause, then run \`chemflow retry ${flow.id} ${step.stepId}${usedUp ? ` --max-retries ${used + 1}` : ''}\` and \`chemflow resume ${flow.id}\`.`,
    usedUp ? `(The ${failedShards.length > 0 ? 'shard' : 'step'} has used all ${last.maxRetries} retries its policy allows, hence --max-retries.)` : undefined,
    `See the error timeline with \`chemflow errors ${flow.id} --step ${step.stepId}\`.`,
  ]
    .filter((line) => line !== undefined)
    .map(printable)
    .join('\n')
    .concat('\n');
}

/**
 * On Ctrl-C: give the flow's lease back (so `resume` or a worker may continue at once rather than after
 * the lease expires), say how to continue, then leave; the interrupted attempt is recovered as lost.
 * Its command, if it runs one, is stopped first.
 */
function interruptHint(ctx: CommandContext, flowId: string, progress: ProgressDisplay, release: () => Promise<void>): () => void {
  const onSignal = (): void => {
    progress.end();
    ctx.io.stderr.write(`\nInterrupted. Continue the flow with \`chemflow resume ${flowId}\`.\n`);
    // Commands run in process groups of their own, which a terminal's Ctrl-C does not reach: SIGTERM
    // now, and SIGKILL to whatever is left when this process exits.
    stopAllCommandGroups();
    const leave = (): never => process.exit(130);
    void Promise.race([release().catch(() => undefined), new Promise((r) => setTimeout(r, 2_000))]).then(leave, leave);
  };
  process.once('SIGINT', onSignal);
  return () => {
    process.removeListener('SIGINT', onSignal);
  };
}
