import type { EndedFlowStatus, FlowStatus } from '../../core/flow-state.js';
import type { WorkerMetrics } from '../../runtime/worker-metrics.js';
import { stepThreadsFor } from '../step-threads.js';
import { workRootOf } from '../work-root.js';
import { runningCommandGroups, stopAllCommandGroups } from '../../runtime/command/process-group.js';
import { FlowWorker, type FlowResolver, type WorkerOutcome } from '../../runtime/worker.js';
import type { LoadedFlowFile } from '../../flowfile/index.js';
import { EXIT, type ExitCode } from '../cli-error.js';
import { withRecordedCache } from '../../core/definition.js';
import { loadFlow, type CommandContext } from '../context.js';
import { startMetricsServer } from '../metrics-server.js';
import { oneLine } from '../render/table.js';
import type { FlowStore } from '../../stores/flow-store.js';
import { describeLocation, withStore } from '../store.js';
import { writeLine } from '../render/printable.js';
import { describeResources } from '../../core/resources.js';
import { hostCapacity } from '../../runtime/resource-pool.js';

export interface WorkerCommandOptions {
  once?: boolean;
  concurrency?: number;
  pollMs?: number;
  leaseMs?: number;
  heartbeatMs?: number;
  /** `--cpus <n>`: cores this worker hands out to steps with `resources` (default: this machine's); also the default `--concurrency`. */
  cpus?: number;
  /** `--memory-mb <m>`: MiB this worker hands out to steps with `resources` (default: this machine's memory). */
  memoryMb?: number;
  /** `--metrics-port <p>`: serve Prometheus metrics on `/metrics` of this port (0: any free port). */
  metricsPort?: number;
  json?: boolean;
  quiet?: boolean;
}

/** One line of `chemflow worker --json` (JSON Lines): what became of one flow. */
export interface WorkerOutcomeLine {
  flowId: string;
  outcome: EndedFlowStatus | 'stopped' | 'lost' | 'unfit' | 'unresolvable' | 'error';
  /** The flow's status after the visit (`FlowStatus`), null when the worker could not read it. */
  status: FlowStatus | null;
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
  // Signals are honoured from the start: a SIGTERM while the store opens is a clean exit (nothing ran).
  const stop = new AbortController();
  const release = stopOnSignals(ctx, stop);
  try {
    return await withStore(
      ctx,
      async (store) => {
        if (stop.signal.aborted) return EXIT.ok; // stopped while the store was opening
        const metrics = options.metricsPort === undefined ? undefined : await workerMetrics(store);
        const server = metrics === undefined ? undefined : await startMetricsServer(options.metricsPort ?? 0, metrics);
        try {
          return await runWorker(ctx, store, options, stop.signal, metrics, server?.port);
        } finally {
          await server?.close();
        }
      },
      { stop: stop.signal, create: true },
    );
  } catch (error) {
    if (stop.signal.aborted && error === stop.signal.reason) return EXIT.ok;
    throw error;
  } finally {
    release();
  }
}

/** Loaded only when asked for: the other commands never pay for prom-client. */
async function workerMetrics(store: FlowStore): Promise<WorkerMetrics> {
  const { WorkerMetrics } = await import('../../runtime/worker-metrics.js');
  return new WorkerMetrics({ queue: store });
}

/** The worker itself, its metrics (if any) fed by its hooks. */
async function runWorker(
  ctx: CommandContext,
  store: FlowStore,
  options: WorkerCommandOptions,
  stop: AbortSignal,
  metrics: WorkerMetrics | undefined,
  metricsPort: number | undefined,
): Promise<ExitCode> {
  let failed = 0;
  // --cpus sets how many attempts may run at once unless --concurrency says otherwise; neither: one at a time, as always.
  const concurrency = options.concurrency ?? options.cpus ?? 1;
  const host = hostCapacity();
  const resources = { cpus: options.cpus ?? host.cpus, memoryMb: options.memoryMb ?? host.memoryMb };
  const threads = stepThreadsFor(ctx, concurrency);
  const worker = new FlowWorker({
    store,
    resolve: flowFileResolver(ctx),
    workRoot: workRootOf(ctx),
    ...(threads === undefined ? {} : { threads }),
    concurrency,
    resources,
    ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
    ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
    ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
    ...metrics?.hooks,
    onDatabase: (state) => {
      metrics?.hooks.onDatabase(state);
      if (state.kind === 'unreachable')
        writeLine(ctx.io.stderr, `Database unreachable (${oneLine(state.error.message, 200)}); waiting for it, retrying with backoff.`);
      else ctx.io.stderr.write(`Database reachable again after ${(state.downMs / 1000).toFixed(1)} s; carrying on.\n`);
    },
    onOutcome: (outcome) => {
      metrics?.hooks.onOutcome(outcome);
      if (outcome.kind === 'failed') failed += 1;
      report(ctx, outcome, options.json === true);
    },
  });
  if (options.quiet !== true)
    writeLine(
      ctx.io.stderr,
      `Worker ${worker.owner} on ${describeLocation(ctx.db)}: ${concurrency} flow(s) at a time, ${describeResources(resources)} for steps that declare resources` +
        `${options.once === true ? ', until nothing is left to run' : ''}. Ctrl-C stops after the current steps.`,
    );
  // Said even with --quiet when the system chose the port: nobody could scrape it otherwise.
  if (metricsPort !== undefined && (options.quiet !== true || options.metricsPort === 0))
    ctx.io.stderr.write(`Metrics on http://localhost:${metricsPort}/metrics\n`);
  try {
    await worker.run({ signal: stop, untilIdle: options.once === true });
  } finally {
    await threads?.close();
  }
  return options.once === true && failed > 0 ? EXIT.flowFailed : EXIT.ok;
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
    // `run`/`submit --cache` / `--no-cache` recorded their choice with the flow.
    return { definition: withRecordedCache(definition, initialized.metadata), retryPolicy, baseDir };
  };
}

function report(ctx: CommandContext, outcome: WorkerOutcome, json: boolean): void {
  if (outcome.kind === 'busy' || outcome.kind === 'waiting') return;
  // A shard is part of its flow, whose outcome its coordinator reports; only a shard this worker could not run is said.
  if (outcome.kind === 'shard') {
    if (outcome.end === 'unfit')
      writeLine(
        ctx.io.stderr,
        `Not running shards of step ${outcome.stepIndex} of flow ${outcome.flowId}: they need more than this worker has; left to a worker with enough.`,
      );
    else if (outcome.error !== undefined)
      writeLine(
        ctx.io.stderr,
        `Cannot run ${outcome.item === 'step' ? 'step' : `shard ${outcome.shardIndex} of step`} ${outcome.stepIndex} of flow ${outcome.flowId}: ${oneLine(outcome.error.message, 300)}`,
      );
    return;
  }
  const flow = 'flow' in outcome ? outcome.flow : undefined;
  const failedStep = flow?.steps.find((s) => s.status === 'Failed');
  const lastError = failedStep?.errors[failedStep.errors.length - 1];
  const error = 'error' in outcome
    ? outcome.error.message
    : outcome.kind === 'unfit'
      ? `step ${outcome.stepId} needs ${describeResources(outcome.need)}; this worker has ${describeResources(outcome.capacity)}`
      : lastError ? `${lastError.errorClass} ${lastError.code}: ${lastError.message}` : null;
  if (json) {
    const line: WorkerOutcomeLine = {
      flowId: outcome.flowId,
      outcome: outcome.kind,
      status: flow ? flow.status : null,
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
      writeLine(ctx.io.stdout, `completed  ${outcome.flowId}  ${name}  ${flow?.flowFingerprint ?? ''}`);
      return;
    case 'failed':
      writeLine(ctx.io.stdout, `failed     ${outcome.flowId}  ${name}  step ${failedStep?.stepId ?? '?'}: ${oneLine(error ?? '', 160)}`);
      return;
    case 'cancelled':
      writeLine(ctx.io.stdout, `cancelled  ${outcome.flowId}  ${name}`);
      return;
    case 'stopped':
      writeLine(ctx.io.stdout, `stopped    ${outcome.flowId}  ${name}  (between steps; any worker continues it)`);
      return;
    case 'lost':
      writeLine(ctx.io.stderr, `Lost the lease of flow ${outcome.flowId} (the database was away too long); another worker continues it.`);
      return;
    case 'unfit':
      writeLine(ctx.io.stderr, `Left flow ${outcome.flowId} to a worker with more resources: ${error ?? ''} (see docs/resources.md).`);
      return;
    case 'unresolvable':
      writeLine(ctx.io.stderr, `Cannot run flow ${outcome.flowId}: ${oneLine(outcome.error.message, 300)}`);
      return;
    case 'error':
      writeLine(ctx.io.stderr, `Flow ${outcome.flowId} hit a database error (tried again next pass): ${oneLine(outcome.error.message, 300)}`);
      return;
  }
}

/** First Ctrl-C or SIGTERM: stop after the current steps. Second: leave at once. */
function stopOnSignals(ctx: CommandContext, stop: AbortController): () => void {
  const onSignal = (): void => {
    if (stop.signal.aborted) process.exit(130);
    ctx.io.stderr.write('Stopping after the current steps (Ctrl-C again to leave at once).\n');
    // A command may run for hours: its process group is stopped now (SIGTERM, SIGKILL after the
    // grace), its attempt recorded as a Transient WORKER_SHUTDOWN that any worker retries.
    if (runningCommandGroups() > 0) ctx.io.stderr.write(`Stopping ${runningCommandGroups()} running command(s).\n`);
    stopAllCommandGroups();
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  };
}
