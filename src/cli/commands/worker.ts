import { flowStatus } from '../../core/flow-state.js';
import { FlowWorker, type FlowResolver, type WorkerOutcome } from '../../runtime/worker.js';
import type { LoadedFlowFile } from '../../flowfile/index.js';
import { EXIT, type ExitCode } from '../cli-error.js';
import { loadFlow, type CommandContext } from '../context.js';
import { oneLine } from '../render/table.js';
import { describeLocation, withStore } from '../store.js';

export interface WorkerCommandOptions {
  once?: boolean;
  concurrency?: number;
  pollMs?: number;
  /** `--stale-after <ms>`. */
  staleAfter?: number;
  json?: boolean;
  quiet?: boolean;
}

/** One line of `chemflow worker --json` (JSON Lines): what became of one flow. */
export interface WorkerOutcomeLine {
  flowId: string;
  outcome: 'completed' | 'failed' | 'stopped' | 'unresolvable' | 'error';
  status: string | null;
  flowFingerprint: string | null;
  failedStep: string | null;
  error: string | null;
}

/**
 * `chemflow worker`: runs every open flow of the database — submitted, interrupted, or waiting for a
 * retry — until stopped (or, with `--once`, until nothing is left that it can run). Start as many as
 * you like, on as many machines as share the database: no attempt ever runs twice at the same time.
 */
export async function workerCommand(ctx: CommandContext, options: WorkerCommandOptions): Promise<ExitCode> {
  // Listening before the store opens: a SIGTERM during start-up (migrations, a slow connection) is a
  // clean stop with nothing run, exit 0, not the default death by signal (143).
  const stop = new AbortController();
  const release = stopOnSignals(ctx, stop);
  return withStore(ctx.db, async (store) => {
    let failed = 0;
    const worker = new FlowWorker({
      store,
      resolve: flowFileResolver(ctx),
      ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
      ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
      ...(options.staleAfter === undefined ? {} : { staleAttemptMs: options.staleAfter }),
      onOutcome: (outcome) => {
        if (outcome.kind === 'failed') failed += 1;
        report(ctx, outcome, options.json === true);
      },
    });
    if (stop.signal.aborted) return EXIT.ok; // stopped while the store was opening
    if (options.quiet !== true)
      ctx.io.stderr.write(
        `Worker ${process.pid} on ${describeLocation(ctx.db)}: ${options.concurrency ?? 1} flow(s) at a time` +
          `${options.once === true ? ', until nothing is left to run' : ''}. Ctrl-C stops after the current steps.\n`,
      );
    try {
      await worker.run({ signal: stop.signal, untilIdle: options.once === true });
    } finally {
      release();
    }
    return options.once === true && failed > 0 ? EXIT.flowFailed : EXIT.ok;
  }, stop.signal).catch((error: unknown) => stoppedWhileStarting(error, stop.signal, release));
}

/** A stop asked for while the store was still opening is a clean exit (nothing ran); any other error is reported. */
function stoppedWhileStarting(error: unknown, stop: AbortSignal, release: () => void): ExitCode {
  release();
  if (stop.aborted && error === stop.reason) return EXIT.ok;
  throw error;
}

/** Definitions come from the flow file each flow recorded when it was submitted (or run). */
function flowFileResolver(ctx: CommandContext): FlowResolver {
  const loaded = new Map<string, Promise<LoadedFlowFile>>();
  return async (flowId, initialized) => {
    const file = initialized.metadata.flowFile;
    if (typeof file !== 'string')
      throw new Error(`flow ${flowId} has no recorded flow file; run it with \`chemflow resume ${flowId} --flow <file>\``);
    let flow = loaded.get(file);
    if (flow === undefined) {
      flow = loadFlow(ctx, file);
      loaded.set(file, flow);
      flow.catch(() => loaded.delete(file)); // a fixed flow file is read again on the next pass
    }
    const { definition, retryPolicy, baseDir } = await flow;
    return { definition, retryPolicy, baseDir };
  };
}

function report(ctx: CommandContext, outcome: WorkerOutcome, json: boolean): void {
  if (outcome.kind === 'busy' || outcome.kind === 'waiting') return;
  const flow = 'flow' in outcome ? outcome.flow : undefined;
  const failedStep = flow?.steps.find((s) => s.status === 'Failed');
  const lastError = failedStep?.errors[failedStep.errors.length - 1];
  const error = 'error' in outcome ? outcome.error.message : lastError ? `${lastError.errorClass} ${lastError.code}: ${lastError.message}` : null;
  if (json) {
    const line: WorkerOutcomeLine = {
      flowId: outcome.flowId,
      outcome: outcome.kind,
      status: flow ? flowStatus(flow) : null,
      flowFingerprint: flow?.flowFingerprint ?? null,
      failedStep: failedStep?.stepId ?? null,
      error,
    };
    ctx.io.stdout.write(`${JSON.stringify(line)}\n`);
    return;
  }
  const name = flow?.name ?? '';
  switch (outcome.kind) {
    case 'completed':
      ctx.io.stdout.write(`completed  ${outcome.flowId}  ${name}  ${flow?.flowFingerprint ?? ''}\n`);
      return;
    case 'failed':
      ctx.io.stdout.write(`failed     ${outcome.flowId}  ${name}  step ${failedStep?.stepId ?? '?'}: ${oneLine(error ?? '', 160)}\n`);
      return;
    case 'stopped':
      ctx.io.stdout.write(`stopped    ${outcome.flowId}  ${name}  (between steps; any worker continues it)\n`);
      return;
    case 'unresolvable':
      ctx.io.stderr.write(`Cannot run flow ${outcome.flowId}: ${oneLine(outcome.error.message, 300)}\n`);
      return;
    case 'error':
      ctx.io.stderr.write(`Flow ${outcome.flowId} hit a database error (tried again next pass): ${oneLine(outcome.error.message, 300)}\n`);
      return;
  }
}

/** First Ctrl-C or SIGTERM: stop after the current steps. Second: leave at once. */
function stopOnSignals(ctx: CommandContext, stop: AbortController): () => void {
  const onSignal = (): void => {
    if (stop.signal.aborted) process.exit(130);
    ctx.io.stderr.write('Stopping after the current steps (Ctrl-C again to leave at once).\n');
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  };
}
