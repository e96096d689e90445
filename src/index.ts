export * from './core/index.js';
export * from './stores/index.js';
export * from './seeds.js';
export { FlowEngine } from './runtime/engine.js';
export type { FlowEngineOptions, FlowHandle, NextResult, OpenOptions, RetryDecisionNote, RetryOptions, RunOptions, StartOptions, StepOutcome } from './runtime/engine.js';
export { systemClock, type Clock } from './runtime/clock.js';
export { FlowWorker } from './runtime/worker.js';
export type { DatabaseState, FlowResolver, FlowWorkerOptions, WorkerFlowSetup, WorkerOutcome, WorkerRunOptions } from './runtime/worker.js';
export { LeaseKeeper, DEFAULT_HEARTBEAT_MS, DEFAULT_LEASE_MS, type FlowLease, type LeaseKeeperOptions, type WorkItemLease } from './runtime/lease-keeper.js';
export { cancelFlow } from './runtime/cancel.js';
export {
  cacheEntryFor,
  cacheKeyFor,
  cachedStepsOf,
  findCached,
  planStepCache,
  type CacheHit,
  type CacheKeyOptions,
  type StepCachePlan,
} from './runtime/step-cache.js';
export { WorkerMetrics, type WorkerMetricsHooks, type WorkerMetricsOptions } from './runtime/worker-metrics.js';
export { GroupCommitter, type GroupCommitOptions, type GroupCommitStats } from './runtime/group-commit.js';
export {
  loadFlowFile,
  FlowFileError,
  isFlowFileError,
  type FlowFileIssue,
  type FlowFileProblem,
  type LoadFlowFileOptions,
  type LoadedFlowFile,
} from './flowfile/index.js';
export {
  commandStep,
  defineCommandStep,
  COMMAND_STEP_TYPE,
  COMMAND_STEP_VERSION,
  type CommandStepOptions,
  type CommandStepScheduling,
} from './runtime/command/command-step.js';
export { COMMAND_LOGS_SIGNAL, LOG_TAIL_BYTES } from './runtime/command/run-command.js';
export { runProcessGroup, stopAllCommandGroups, runningCommandGroups, WorkerShutdownError, type GroupRun, type SpawnGroupOptions } from './runtime/command/process-group.js';
export { defaultWorkRoot, makeAttemptDir } from './runtime/command/work-dir.js';
