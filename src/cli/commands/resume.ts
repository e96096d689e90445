import { withRecordedCache } from '../../core/definition.js';
import { FlowNotRunnableError } from '../../core/errors.js';
import { failedStep } from '../../core/flow-state.js';
import { isFlowFileError } from '../../flowfile/index.js';
import { FlowEngine } from '../../runtime/engine.js';
import { EXIT, UsageError, type ExitCode } from '../cli-error.js';
import { loadFlow, printJson, type CommandContext } from '../context.js';
import { flowReport, readStoredFlow } from '../flow-report.js';
import { styleFor } from '../io.js';
import { renderSummary } from '../render/summary.js';
import { withStore } from '../store.js';
import { stepThreadsFor } from '../step-threads.js';
import { workRootOf } from '../work-root.js';
import { driveFlow, progressFor, type DriveOptions } from './drive.js';
import { poolForFlow } from '../resources.js';
import { writeLine } from '../render/printable.js';

export interface ResumeOptions extends DriveOptions {
  /** The flow file, when not the one recorded by `run` (moved, or started by another program). */
  flow?: string;
  /** `--concurrency`: shards of a mapped step run at once by this process; default the number of cores. */
  concurrency?: number;
  /** `--cpus` / `--memory-mb`, as for `run`. */
  cpus?: number;
  memoryMb?: number;
}

/**
 * `chemflow resume <flowId>`: continues a flow that stopped (after `retry`) or was interrupted (its
 * Running step is recorded as a lost Transient attempt and retried under the policy).
 */
export async function resumeCommand(ctx: CommandContext, flowId: string, options: ResumeOptions): Promise<ExitCode> {
  return withStore(ctx, async (store) => {
    const stored = await readStoredFlow(store, flowId);
    const recorded = stored.metadata.flowFile;
    const file = options.flow ?? (typeof recorded === 'string' ? recorded : undefined);
    if (file === undefined)
      throw new UsageError(`Flow ${flowId} has no recorded flow file`, `pass it with \`chemflow resume ${flowId} --flow <file>\``);
    const loaded = await loadFlow(ctx, file).catch((error: unknown) => {
      if (options.flow === undefined && isFlowFileError(error) && error.problem === 'unreadable')
        throw new UsageError(
          `The flow file recorded for flow ${flowId} cannot be read: ${error.message}`,
          `pass its current location with \`chemflow resume ${flowId} --flow <file>\``,
        );
      throw error;
    });
    const definition = withRecordedCache(loaded.definition, stored.metadata);
    const resources = poolForFlow(definition, options);
    const progress = progressFor(ctx, options);
    const threads = stepThreadsFor(ctx, options.concurrency);
    const engine = new FlowEngine({
      store,
      retryPolicy: loaded.retryPolicy,
      baseDir: loaded.baseDir,
      workRoot: workRootOf(ctx),
      onEvent: progress.onEvent,
      resources,
      ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
      ...(threads === undefined ? {} : { threads }),
    });
    // The log read once above, replayed against the flow file's definition: no second read.
    const handle = await engine.open(flowId, definition, { events: stored.events });
    const { flow } = handle;
    if (flow.status === 'completed') {
      const report = flowReport(flow, await store.countErrorsByFlow(flowId));
      if (options.json === true) printJson(ctx, report);
      else ctx.io.stdout.write(renderSummary(report, flow.name, styleFor(ctx.io.stdout, ctx.io.env)));
      writeLine(ctx.io.stderr, `Flow ${flowId} is already completed: nothing to resume.`);
      return EXIT.ok;
    }
    // A failed flow, or a cancelled one whose attempt in flight failed: a retry comes first.
    const failed = failedStep(flow);
    if (failed !== undefined) throw new FlowNotRunnableError(flowId, 'failed', failed.stepId);
    // The operator resumes a flow whose process is gone: an interrupted attempt is taken over at once.
    try {
      return await driveFlow(ctx, { store, engine, progress, handle }, options);
    } finally {
      await threads?.close();
    }
  });
}
