import { hasRunningAttempt } from '../../core/decide.js';
import { cancelFlowReading, type Cancelled } from '../../runtime/cancel.js';
import { FlowEngine } from '../../runtime/engine.js';
import type { FlowStore } from '../../stores/flow-store.js';
import { EXIT, type ExitCode } from '../cli-error.js';
import { loadFlow, printJson, type CommandContext, type OutputOptions } from '../context.js';
import { withStore } from '../store.js';
import { writeLine } from '../render/printable.js';

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
    const report = await cancelFlowRecording(ctx, store, flowId, options.reason ?? null);
    const { reason: givenReason } = report;
    if (options.json === true) printJson(ctx, report);
    else
      writeLine(
        ctx.io.stdout,
        `Cancelled flow ${flowId}${givenReason === null ? '' : ` (${givenReason})`}. No step starts again; ` +
          'an attempt in flight stops at its next heartbeat.',
      );
    return EXIT.ok;
  });
}

/**
 * Cancels a flow as `chemflow cancel` does, recording the attempts whose worker is gone (notes on
 * `ctx.io.stderr`); a completed or cancelled flow throws `FlowNotRunnableError` and nothing is appended.
 */
export async function cancelFlowRecording(ctx: CommandContext, store: FlowStore, flowId: string, reason: string | null): Promise<CancelReport> {
  const cancelled = await cancelFlowReading(store, flowId, reason);
  const { event } = cancelled;
  await recordOrphanedAttempts(ctx, store, cancelled);
  return { flowId, status: 'cancelled', reason: event.reason, version: event.version };
}

/**
 * An attempt running when the flow was cancelled whose worker is gone (its lease is free or expired)
 * would stay Running for ever, since nothing claims a cancelled flow again: it is recorded as lost
 * here, and a mapped step that no shard runs any more is ended. Its fingerprint needs the step's
 * params, so the flow file recorded at start is loaded; when it cannot be, the attempt is left as it
 * is, and said.
 */
async function recordOrphanedAttempts(ctx: CommandContext, store: FlowStore, cancelled: Cancelled): Promise<void> {
  if (!hasRunningAttempt(cancelled.flow)) return;
  const initialized = cancelled.events[0];
  const file = initialized?.type === 'FlowInitialized' ? initialized.metadata.flowFile : undefined;
  if (typeof file !== 'string') return;
  let loaded: Awaited<ReturnType<typeof loadFlow>>;
  try {
    loaded = await loadFlow(ctx, file);
  } catch {
    writeLine(ctx.io.stderr, `Note: the flow file ${file} cannot be loaded: an attempt whose worker is gone stays Running.`);
    return;
  }
  try {
    const engine = new FlowEngine({ store, retryPolicy: loaded.retryPolicy, baseDir: loaded.baseDir });
    const handle = await engine.open(cancelled.flow.id, loaded.definition, { events: cancelled.events });
    for (const lost of await engine.recordLostAttempts(handle)) {
      if (lost.type !== 'StepFailed') continue;
      if (lost.error.code === 'FLOW_CANCELLED') writeLine(ctx.io.stderr, `Ended step ${lost.stepId} as cancelled: no shard of it runs any more.`);
      else
        writeLine(
          ctx.io.stderr,
          `Recorded attempt ${lost.attempt} of step ${lost.stepId}${lost.shard === undefined ? '' : ` (shard ${lost.shard.index}/${lost.shard.count})`} as lost: its worker is gone.`,
        );
    }
  } catch (error) {
    // The cancellation itself is recorded: what is left is said, not failed on.
    writeLine(ctx.io.stderr, `Note: an attempt whose worker is gone stays Running: ${(error as Error).message}`);
  }
}
