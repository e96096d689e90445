import type { Artifact, ArtifactDraft } from './artifact.js';
import type { JsonObject, JsonValue } from './canonical-json.js';
import { InvalidDefinitionError } from './errors.js';
import { hashCanonical } from './hash.js';
import type { ErrorClass } from './error-class.js';
import { mapSpecProblems, type MapSpec } from './map-spec.js';
import { retryPolicyProblems, type RetryPolicyOptions } from './retry-policy.js';
import { storableJsonProblem, unstorableReason } from './storable.js';

export type StepKind = 'source' | 'transform' | 'sink' | 'check';
export const STEP_KINDS: readonly StepKind[] = ['source', 'transform', 'sink', 'check'];

/** What a step sees while it runs. */
export interface StepContext<P extends JsonObject = JsonObject> {
  /** The previous step's output artifacts; empty for a source. */
  readonly input: readonly Artifact[];
  /** The step's params (its `baseParams`). */
  readonly params: P;
  /** 1-based attempt number of this step. */
  readonly attempt: number;
  readonly flowId: string;
  readonly stepId: string;
  /** Aborted when the attempt times out. */
  readonly signal: AbortSignal;
  /** Directory relative paths in params refer to (the flow file's directory, or the process's cwd). */
  readonly baseDir: string;
  /**
   * Failed attempts recorded so far in this flow, oldest first: for reports only. A step's outputs must
   * not depend on it, since it is not part of the fingerprint.
   */
  readonly errorHistory: readonly ErrorHistoryEntry[];
  /** Records a `StepSignal` event (progress, warnings); signals never change the flow's state. */
  emit(name: string, data?: JsonValue): void;
  /**
   * Which shard of a mapped step this attempt runs (`index` 0-based, of `count`); undefined when the
   * step runs on its whole input. A step's outputs must not depend on it, or sharding would change them.
   */
  readonly shard?: ShardPosition;
}

export interface ShardPosition {
  readonly index: number;
  readonly count: number;
}

export interface ErrorHistoryEntry {
  stepId: string;
  attemptNumber: number;
  errorClass: ErrorClass;
  message: string;
  timestamp: string;
}

/** What a successful step returns. */
export interface StepResult {
  outputs: readonly ArtifactDraft[];
}

export interface StepDefinition<P extends JsonObject = JsonObject> {
  readonly id: string;
  readonly kind: StepKind;
  /** Version of the step's code; enters the definition hash so changed code changes fingerprints. */
  readonly version?: string;
  readonly baseParams: P;
  /** Overrides the engine's retry policy for this step; never part of any hash. */
  readonly retry?: RetryPolicyOptions;
  /** Limit of one attempt; exceeding it is a Transient failure. */
  readonly timeoutMs?: number;
  /** Runs the step in shards of its input (see `MapSpec`); scheduling only, never part of any hash. */
  readonly map?: MapSpec;
  run(ctx: StepContext<P>): Promise<StepResult> | StepResult;
}

export interface FlowDefinition {
  readonly name: string;
  readonly steps: readonly StepDefinition[];
  /** Hash of the ordered step ids and versions. */
  readonly definitionHash: string;
}

const STEP_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Builds an immutable flow definition, rejecting duplicate ids and a first step that is not a source. */
export function defineFlow(name: string, steps: readonly StepDefinition[]): FlowDefinition {
  const nameProblem = unstorableReason(name);
  if (nameProblem !== undefined)
    throw new InvalidDefinitionError(`Flow name ${JSON.stringify(name)} cannot be stored: it ${nameProblem}`);
  if (steps.length === 0) throw new InvalidDefinitionError(`Flow "${name}" has no steps`);
  const seen = new Set<string>();
  steps.forEach((step, index) => {
    if (!STEP_ID.test(step.id))
      throw new InvalidDefinitionError(
        `Step ${index} has an invalid id ${JSON.stringify(step.id)}: use letters, digits, '.', '_' or '-' (max 128)`,
      );
    if (seen.has(step.id)) throw new InvalidDefinitionError(`Duplicate step id "${step.id}" at position ${index}`);
    seen.add(step.id);
    if (!STEP_KINDS.includes(step.kind))
      throw new InvalidDefinitionError(`Step "${step.id}" has unknown kind ${JSON.stringify(step.kind)}`);
    const paramsProblem = paramsProblemOf(step.baseParams);
    if (paramsProblem !== undefined) throw new InvalidDefinitionError(`Step "${step.id}" has params that ${paramsProblem}`);
    const policyProblems = step.retry === undefined ? [] : retryPolicyProblems(step.retry);
    if (policyProblems.length > 0)
      throw new InvalidDefinitionError(`Step "${step.id}" has an invalid retry policy: ${policyProblems.join('; ')}`);
    const mapProblem = step.map === undefined ? undefined : mapProblemOf(step.kind, step.map);
    if (mapProblem !== undefined) throw new InvalidDefinitionError(`Step "${step.id}" has an invalid map: ${mapProblem}`);
  });
  const first = steps[0];
  if (first !== undefined && first.kind !== 'source')
    throw new InvalidDefinitionError(`The first step "${first.id}" must be a source, not a ${first.kind}`);
  return Object.freeze({
    name,
    steps: Object.freeze([...steps]),
    definitionHash: hashCanonical(steps.map((s) => ({ id: s.id, version: s.version ?? null }))),
  });
}

/**
 * Params enter the step's fingerprint and every error row of the step, so they are checked before a
 * flow exists: a value found only at run time would fail after the step's StepStarted was committed.
 */
function paramsProblemOf(params: unknown): string | undefined {
  const problem = storableJsonProblem(params);
  return problem === undefined ? undefined : `are not plain storable JSON: ${problem.message}`;
}

/** A source has no input artifact to split; otherwise the spec's own rules. */
function mapProblemOf(kind: StepKind, map: MapSpec): string | undefined {
  if (kind === 'source') return 'a source step has no input to split into shards';
  const problems = mapSpecProblems(map);
  return problems.length === 0 ? undefined : problems.join('; ');
}

/** What replay needs of a definition: its name, ordered step ids and hash (no step code). */
export interface FlowShape {
  readonly name: string;
  readonly steps: readonly { readonly id: string }[];
  readonly definitionHash: string;
}

/**
 * The public, stable contract of a step implementation (a user's `.mjs` module default export, or a
 * built-in step type). Plain JavaScript objects satisfy it: no chemflow import needed.
 */
export interface StepModule<P extends JsonObject = JsonObject> {
  readonly kind: StepKind;
  /** Enters the definition hash: bump it when the code's results change. */
  readonly version?: string;
  /** Validates and completes the params from the flow file (defaults); throwing means bad params. */
  readonly parseParams?: (params: unknown) => P;
  /**
   * Set, to the reason, by a step whose outputs summarise its whole batch (a count, a total): merged
   * shards would be wrong whenever the shards happen to agree on the summary, so a flow file that maps
   * such a step is refused at load time with this reason. Absent: the step may be mapped.
   */
  readonly notMappable?: string;
  run(ctx: StepContext<P>): Promise<StepResult> | StepResult;
}

export interface StepOptions {
  retry?: RetryPolicyOptions;
  timeoutMs?: number;
  map?: MapSpec;
}

/** Binds a step implementation to an id and params; `parseParams` validates them here, before any run. */
export function defineStep<P extends JsonObject>(
  id: string,
  module: StepModule<P>,
  params: unknown = {},
  options: StepOptions = {},
): StepDefinition<P> {
  if (options.map !== undefined && module.notMappable !== undefined)
    throw new InvalidDefinitionError(`Step "${id}" cannot be mapped: ${module.notMappable}`);
  const baseParams = module.parseParams ? module.parseParams(params) : (params as P);
  return {
    id,
    kind: module.kind,
    ...(module.version === undefined ? {} : { version: module.version }),
    baseParams,
    ...(options.retry === undefined ? {} : { retry: options.retry }),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.map === undefined ? {} : { map: { over: options.map.over, shardSize: options.map.shardSize } }),
    run: (ctx) => module.run(ctx),
  };
}
