import type { FlowStore } from '../../stores/flow-store.js';
import { cancelFlowRecording, type CancelReport } from '../commands/cancel.js';
import { resumeCommand } from '../commands/resume.js';
import { retryStep, type RetryReport } from '../commands/retry.js';
import type { CommandContext } from '../context.js';
import type { CliIo, OutStream } from '../io.js';
import { stopAllCommandGroups } from '../../runtime/command/process-group.js';
import { HttpError } from './http-errors.js';

/** What a started resume answers: the flow runs in this process from now on. */
export interface ResumeStarted {
  flowId: string;
  status: 'running';
}

/** The actions of the pages: the CLI's `retry`, `cancel` and `resume`, with their rules and messages. */
export class UiActions {
  private readonly running = new Set<Promise<unknown>>();
  /** Aborted by `stop`: the runs started here end after their attempt in flight. */
  private readonly stopping = new AbortController();

  constructor(
    private readonly store: FlowStore,
    private readonly io: CliIo,
    private readonly context: Omit<CommandContext, 'io' | 'store'>,
  ) {}

  retry(flowId: string, stepId: string, reason?: string): Promise<RetryReport> {
    return retryStep(this.store, flowId, stepId, reason === undefined ? {} : { reason });
  }

  cancel(flowId: string, reason: string | null): Promise<CancelReport> {
    return cancelFlowRecording(this.ctx(this.io.stderr), this.store, flowId, reason);
  }

  /**
   * `chemflow resume` in this process: answers once the flow is found runnable and starts (or with the
   * error that refused it); the run goes on after the answer. A completed flow answers `null`.
   */
  async resume(flowId: string): Promise<ResumeStarted | null> {
    if (this.stopping.signal.aborted) throw new HttpError(503, 'UI_STOPPING', 'the server is stopping: it starts no run', 'resume the flow with `chemflow resume` or a worker');
    let started!: () => void;
    const running = new Promise<'started'>((resolve) => (started = () => resolve('started')));
    const done = resumeCommand(this.ctx(SILENT), flowId, { json: true, quiet: true, onRun: started, stop: this.stopping.signal });
    const tracked = done.then(
      () => undefined,
      (error: unknown) => this.io.stderr.write(`Flow ${flowId} stopped: ${error instanceof Error ? error.message : String(error)}\n`),
    );
    this.running.add(tracked);
    void tracked.finally(() => this.running.delete(tracked));
    const first = await Promise.race([running, done]);
    return first === 'started' ? { flowId, status: 'running' } : null;
  }

  /** How many runs started here are going on. */
  get runs(): number {
    return this.running.size;
  }

  /**
   * Stops the runs started here as a worker stops on SIGTERM: each attempt in flight records its result
   * (a running command is stopped and recorded as a Transient WORKER_SHUTDOWN), no further step starts,
   * and each flow's lease is given back, so the flows are left pending for `chemflow resume` or a
   * worker, with no attempt left Running. Resolves when they have.
   */
  async stop(): Promise<void> {
    this.stopping.abort();
    if (this.running.size > 0) stopAllCommandGroups();
    await Promise.all([...this.running]);
  }

  private ctx(stderr: OutStream): CommandContext {
    return { ...this.context, io: { ...this.io, stdout: SILENT, stderr }, store: this.store };
  }
}

const SILENT: OutStream = { write: () => true };
