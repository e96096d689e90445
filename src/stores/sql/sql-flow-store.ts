import type { Artifact } from '../../core/artifact.js';
import type { NewFlowEvent, FlowEvent } from '../../core/events.js';
import type { ErrorCounts, StepExecutionError } from '../../core/step-execution-error.js';
import type { AppendOptions, AppendResult, FlowStore, FlowSummary } from '../flow-store.js';
import { listFlowsQuery } from './event-queries.js';
import { run, type SqlExecutor } from './executor.js';
import { migrate } from './migrate.js';
import { PgArtifactStore } from './pg-artifact-store.js';
import { PgErrorStore } from './pg-error-store.js';
import { PgEventStore } from './pg-event-store.js';
import { PgFlowRepository } from './pg-flow-repository.js';
import { summaryFromRow, type FlowSummaryRow } from './rows.js';
import { withRetry } from './transient.js';

/**
 * The one database store: every SQL line is shared by embedded PGlite and the PostgreSQL server,
 * which differ only in their executor.
 */
export class SqlFlowStore implements FlowStore {
  readonly kind: SqlExecutor['kind'];
  readonly events: PgEventStore;
  readonly errors: PgErrorStore;
  readonly artifacts: PgArtifactStore;
  readonly repository: PgFlowRepository;

  private constructor(readonly executor: SqlExecutor) {
    this.kind = executor.kind;
    this.events = new PgEventStore(executor);
    this.errors = new PgErrorStore(executor);
    this.artifacts = new PgArtifactStore(executor);
    this.repository = new PgFlowRepository(this.events, this.errors);
  }

  /** Brings the schema up to date (idempotent, safe against concurrent openers) and opens the store. */
  static async open(executor: SqlExecutor): Promise<SqlFlowStore> {
    try {
      await withRetry('migrate the database', () => migrate(executor, 'up'));
    } catch (error) {
      await executor.close().catch(() => undefined);
      throw error;
    }
    return new SqlFlowStore(executor);
  }

  append(
    flowId: string,
    expectedVersion: number,
    events: readonly NewFlowEvent[],
    options?: AppendOptions,
  ): Promise<AppendResult> {
    return this.events.append(flowId, expectedVersion, events, options);
  }

  list(flowId: string): Promise<FlowEvent[]> {
    return this.events.list(flowId);
  }

  getArtifacts(hashes: readonly string[]): Promise<Artifact[]> {
    return this.artifacts.getArtifacts(hashes);
  }

  listErrors(flowId: string, stepId?: string): Promise<StepExecutionError[]> {
    return this.errors.listErrors(flowId, stepId);
  }

  getErrorTimeline(flowId: string, stepId: string): Promise<StepExecutionError[]> {
    return this.errors.getErrorTimeline(flowId, stepId);
  }

  countErrorsByFlow(flowId: string): Promise<ErrorCounts> {
    return this.errors.countErrorsByFlow(flowId);
  }

  async listFlows(): Promise<FlowSummary[]> {
    const rows = await withRetry('list flows', () => run<FlowSummaryRow>(this.executor, listFlowsQuery()));
    return rows.map(summaryFromRow);
  }

  close(): Promise<void> {
    return this.executor.close();
  }
}
