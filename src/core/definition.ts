import { canonicalJson, type JsonObject, type JsonValue } from './canonical-json.js';
import { conditionForHash, type Condition } from './condition.js';
import { InvalidDefinitionError } from './errors.js';
import { hashCanonical } from './hash.js';
import type { ErrorClass } from './error-class.js';
import { mapSpecProblems, type MapSpec } from './map-spec.js';
import type { CachedFrom } from './events.js';
import type { StepStatus } from './flow-state.js';
import { resourcesProblems, type StepResources } from './resources.js';
import { retryPolicyProblems, type RetryPolicyOptions } from './retry-policy.js';
import type { StepDataWriters, StepInput, StepOutput } from './step-data.js';
import { declaredNeeds, flowGraph, listNeeds, type FlowGraph, type InputRef } from './step-graph.js';
import { storableJsonProblem, unstorableReason } from './storable.js';

export type StepKind = 'source' | 'transform' | 'sink' | 'check';
export const STEP_KINDS: readonly StepKind[] = ['source', 'transform', 'sink', 'check'];

/** What a step sees while it runs; `batch` and `file` write large outputs (see `StepDataWriters`). */
export interface StepContext<P extends JsonObject = JsonObject> extends StepDataWriters {
  /**
   * The previous step's output artifacts; empty for a source. A batch comes whole (`Artifact`) unless
   * the step streams (`streaming: true`), then as a `BatchInput`; a file always as a `FileInput`.
   */
  readonly input: readonly StepInput[];
  /**
   * The step's named inputs (`inputs: { NAME: STEP | STEP.OUTPUT }`), each one of `input`; empty for a
   * step without named inputs.
   */
  readonly inputs: Readonly<Record<string, StepInput>>;
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
  /**
   * Steps of this flow satisfied from the step cache so far (docs/cache.md), for reports only, like
   * `errorHistory`. Absent when the engine does not provide it.
   */
  readonly cachedSteps?: readonly CachedStepEntry[];
  /**
   * Every step of this flow as it stands when this attempt starts (this one `Running`), in the flow's
   * order, for reports only, like `errorHistory`. Absent when the engine does not provide it.
   */
  readonly flowSteps?: readonly FlowStepEntry[];
  /** Records a `StepSignal` event (progress, warnings); signals never change the flow's state. */
  emit(name: string, data?: JsonValue): void;
  /**
   * Where steps that run programs (command steps) make a directory for each attempt; absent: the
   * system's temporary directory. Never part of any hash.
   */
  readonly workRoot?: string;
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

export interface CachedStepEntry {
  stepId: string;
  /** The step of another (or the same) flow whose outputs it took. */
  cachedFrom: CachedFrom;
}

/**
 * A step of the flow as a report draws it (`StepContext.flowSteps`): the fields `status --json` gives
 * each step under the same names.
 */
export interface FlowStepEntry {
  stepId: string;
  /** The steps whose outputs are its input, by id. */
  needs: string[];
  status: StepStatus;
  /** Attempts started so far. */
  attempts: number;
  /** Retries scheduled so far. */
  retryCount: number;
  /** Satisfied from the step cache rather than run. */
  cached: boolean;
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
  outputs: readonly StepOutput[];
}

export interface StepDefinition<P extends JsonObject = JsonObject> {
  readonly id: string;
  readonly kind: StepKind;
  /** Version of the step's code; enters the definition hash so changed code changes fingerprints. */
  readonly version?: string;
  readonly baseParams: P;
  /**
   * The steps whose outputs are this step's input, in this order (`ctx.input`). Absent: the steps its
   * `inputs` name, else nothing for a source and the step before it for any other step. Part of the
   * definition hash when given.
   */
  readonly needs?: readonly string[];
  /** Named upstream outputs (`ctx.inputs.NAME`); their steps are needed too. Part of the definition hash when given. */
  readonly inputs?: Readonly<Record<string, InputRef>>;
  /** Runs the step only when an upstream output satisfies this, else records it Skipped. Part of the definition hash when given. */
  readonly when?: Condition;
  /** Overrides the engine's retry policy for this step; never part of any hash. */
  readonly retry?: RetryPolicyOptions;
  /** Limit of one attempt; exceeding it is a Transient failure. */
  readonly timeoutMs?: number;
  /** Runs the step in shards of its input (see `MapSpec`); scheduling only, never part of any hash. */
  readonly map?: MapSpec;
  /**
   * What one attempt (of a mapped step: one shard's attempt) needs of its worker (docs/resources.md);
   * scheduling only, never part of any hash. Absent: the attempt waits for no resources.
   */
  readonly resources?: StepResources;
  /**
   * What the step cache needs (docs/cache.md); never part of any hash. Absent: the step is never
   * cached (a definition built in code without a step type).
   */
  readonly cache?: StepCacheSettings<P>;
  /** Where its code was loaded from, when it can be loaded again in a step thread; never part of any hash. */
  readonly origin?: StepOrigin;
  /** Reads batch inputs as streams (see `StepModule.streaming`); never part of any hash. */
  readonly streaming?: boolean;
  /** How a source splits its own work when mapped (see `SourceSplit`); never part of any hash. */
  readonly split?: SourceSplit<P>;
  /**
   * The step always settles soon after its signal aborts (a command step kills its process group, then
   * throws): the attempt waits for it instead of ending at once, so its failure keeps what the step
   * recorded (the command's log tails) and no process of it is left when the attempt is recorded.
   */
  readonly settlesOnAbort?: boolean;
  run(ctx: StepContext<P>): Promise<StepResult> | StepResult;
}

/**
 * How a source step splits its own work into shards, since it has no input artifact to split: a
 * source that declares it may be mapped (`map: { over: <over>, shardSize: n }`). The coordinator asks
 * `items` how many items of `over` there are (e.g. the bytes of the file it reads) and splits the step
 * into `ceil(items / shardSize)` shards (at least one). Shard k of c runs the module's `run` with
 * `ctx.shard = {index: k, count: c}` and no input: it does part k of c of the work by the module's own
 * rule, which must depend on k, c and what it reads only. The shards' outputs are merged in shard order
 * by the one shard merge of every mapped step, and `combine` turns them into the step's outputs: where
 * a rule over the whole batch is applied (duplicates across shards). The promise is a mapped step's:
 * `combine`'s outputs equal, hash for hash, those of the step run whole, for any shard size.
 */
export interface SourceSplit<P extends JsonObject = JsonObject> {
  /** What `map.over` names for this source (the items it is split by), e.g. `bytes`. */
  readonly over: string;
  /** How many items of `over` the source has now; throwing fails the step's attempt as the step's own error would. */
  items(params: P, ctx: CacheKeyContext): Promise<number>;
  /**
   * The step's outputs from its shards' outputs, merged (`ctx.input`, in the order of each shard's
   * outputs, read as streams): runs once, after the last shard, in the coordinator's process.
   */
  combine(ctx: StepContext<P>): Promise<StepResult>;
}

/** What a step module's `cacheKey` sees: no input payloads, so computing a key stays cheap. */
export interface CacheKeyContext {
  /** Directory relative paths in params refer to, as in `StepContext`. */
  readonly baseDir: string;
  /** The input artifact hashes, in order (already part of the key). */
  readonly inputHashes: readonly string[];
}

/** A step's cache settings, resolved from its flow file and its module. */
export interface StepCacheSettings<P extends JsonObject = JsonObject> {
  /** The step type, as written in `uses`: it enters the key instead of the step id. */
  readonly stepType: string;
  /** `cache: true|false` of the step, else of the flow file; false when neither says. */
  readonly enabled: boolean;
  /** False when the module declares `cacheable: false`: it is never cached, whatever else says. */
  readonly cacheable: boolean;
  /** Fixed key material found when the flow file was loaded (the hash of a module-path step's code and its local imports). */
  readonly codeHash?: string;
  cacheKey?(params: P, ctx: CacheKeyContext): JsonValue | Promise<JsonValue>;
}

/** Whether the step cache applies to a step: `cacheable: false` wins, then `enabled`. */
export function isStepCached(step: StepDefinition): boolean {
  return step.cache !== undefined && step.cache.cacheable && step.cache.enabled;
}

/**
 * The definition with the cache forced on or off for every step that has cache settings
 * (`chemflow run --cache` / `--no-cache`). The definition hash is unchanged: the cache is not part of it.
 */
export function withCacheForced(definition: FlowDefinition, enabled: boolean): FlowDefinition {
  return Object.freeze({
    ...definition,
    steps: Object.freeze(
      definition.steps.map((step) => (step.cache === undefined ? step : { ...step, cache: { ...step.cache, enabled } })),
    ),
  });
}

/**
 * The definition as the flow was started: `run --cache` / `--no-cache` record their choice in the
 * flow's metadata (`cache: true|false`), and whoever continues the flow (`resume`, a worker) applies it
 * to the definition loaded again from the flow file.
 */
export function withRecordedCache(definition: FlowDefinition, metadata: JsonObject): FlowDefinition {
  return typeof metadata.cache === 'boolean' ? withCacheForced(definition, metadata.cache) : definition;
}

export interface FlowDefinition {
  readonly name: string;
  readonly steps: readonly StepDefinition[];
  /** Hash of the ordered step ids and versions, with the needs, inputs and condition of each step that declares them. */
  readonly definitionHash: string;
  /** The steps as a graph: what each needs, in what order they may run. */
  readonly graph: FlowGraph;
  /**
   * What a step failed for good does to the rest of the flow: `stop` (no new step starts) or
   * `continue` (only the steps that depend on it never start; docs/graphs.md). Part of the definition
   * hash only when `continue`, so a flow without the option hashes as it always did.
   */
  readonly onFailure: OnFailure;
}

/** What a step failed for good does to the rest of its flow. */
export type OnFailure = 'stop' | 'continue';
export const ON_FAILURE: readonly OnFailure[] = ['stop', 'continue'];

/** Settings of a whole flow. */
export interface FlowOptions {
  /** Default `stop`. */
  readonly onFailure?: OnFailure;
}

const STEP_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Builds an immutable flow definition, rejecting duplicate ids and a first step that is not a source. */
export function defineFlow(name: string, steps: readonly StepDefinition[], options: FlowOptions = {}): FlowDefinition {
  const onFailure = options.onFailure ?? 'stop';
  if (!ON_FAILURE.includes(onFailure))
    throw new InvalidDefinitionError(`Flow "${name}" has an invalid onFailure ${JSON.stringify(onFailure)}: use ${ON_FAILURE.join(' or ')}`);
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
    const mapProblem = step.map === undefined ? undefined : mapProblemOf(step.kind, step.map, step.split?.over);
    if (mapProblem !== undefined) throw new InvalidDefinitionError(`Step "${step.id}" has an invalid map: ${mapProblem}`);
    const resourceProblems = step.resources === undefined ? [] : resourcesProblems(step.resources);
    if (resourceProblems.length > 0)
      throw new InvalidDefinitionError(`Step "${step.id}" has invalid resources: ${resourceProblems.join('; ')}`);
  });
  const first = steps[0];
  if (first !== undefined && first.kind !== 'source')
    throw new InvalidDefinitionError(`The first step "${first.id}" must be a source, not a ${first.kind}`);
  return Object.freeze({
    name,
    steps: Object.freeze([...steps]),
    definitionHash: definitionHashOf(steps, onFailure),
    graph: flowGraph(steps),
    onFailure,
  });
}

/**
 * The ordered step ids and versions, and of each step the links that make it more than a list entry:
 * needs other than the step before it (a source: none), named inputs, a condition. A flow written as a
 * list hashes exactly as it did before flows had links, and so does one that spells out those defaults.
 */
function definitionHashOf(steps: readonly StepDefinition[], onFailure: OnFailure): string {
  const needs = steps.map((_, index) => declaredNeeds(steps, index));
  const chained = steps.map((_, index) => listNeeds(steps, index));
  const stepsPart = steps.map((s, index) => ({
      id: s.id,
      version: s.version ?? null,
      ...(s.inputs === undefined && canonicalJson(needs[index]) === canonicalJson(chained[index]) ? {} : { needs: [...(needs[index] ?? [])] }),
      ...(s.inputs === undefined ? {} : { inputs: Object.fromEntries(Object.entries(s.inputs).map(([name, ref]) => [name, { step: ref.step, output: ref.output }])) }),
      ...(s.when === undefined ? {} : { when: conditionForHash(s.when) }),
    }));
  // `stop` is every flow's rule unless it says otherwise: only `continue` enters the hash.
  return hashCanonical(onFailure === 'continue' ? { steps: stepsPart, onFailure } : stepsPart);
}

/**
 * Params enter the step's fingerprint and every error row of the step, so they are checked before a
 * flow exists: a value found only at run time would fail after the step's StepStarted was committed.
 */
function paramsProblemOf(params: unknown): string | undefined {
  const problem = storableJsonProblem(params);
  return problem === undefined ? undefined : `are not plain storable JSON: ${problem.message}`;
}

/** A source has no input artifact to split, unless it splits its own work by `splitsBy`; otherwise the spec's own rules. */
function mapProblemOf(kind: StepKind, map: MapSpec, splitsBy: string | undefined): string | undefined {
  const sourceProblem = kind === 'source' ? sourceMapProblem(map, splitsBy) : undefined;
  if (sourceProblem !== undefined) return sourceProblem;
  const problems = mapSpecProblems(map);
  return problems.length === 0 ? undefined : problems.join('; ');
}

/**
 * Why a source cannot take `map`: it has no input to split, unless its module splits its own work
 * (`SourceSplit`, whose `over` is `splitsBy`), and then `map.over` must name that.
 */
export function sourceMapProblem(map: MapSpec, splitsBy: string | undefined): string | undefined {
  if (splitsBy === undefined) return 'a source step has no input to split into shards';
  if (map.over !== splitsBy) return `this source splits its own work by ${JSON.stringify(splitsBy)}: map.over must be ${JSON.stringify(splitsBy)}, not ${JSON.stringify(map.over)}`;
  return undefined;
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
  /**
   * `false`: the step must never be satisfied from the cache (it reads the clock, the network,
   * randomness); wins over every `cache: true` and `--cache`. Default true.
   */
  readonly cacheable?: boolean;
  /**
   * `true`: the step reads its batch inputs row by row (`BatchInput.rows()`), so they are never held
   * whole in memory for it. Default false: every batch input is read whole into `payload` first.
   */
  readonly streaming?: boolean;
  /**
   * Adds to the step's cache key what its result depends on beyond its inputs and params, e.g. the
   * content hash of a file it reads (docs/cache.md). Throwing makes the step run uncached.
   */
  // A method, as `run` is: a module typed for its own params still satisfies `StepModule<JsonObject>`.
  cacheKey?(params: P, ctx: CacheKeyContext): JsonValue | Promise<JsonValue>;
  /** A source that may be mapped: how it splits its own work (see `SourceSplit`). */
  readonly split?: SourceSplit<P>;
  run(ctx: StepContext<P>): Promise<StepResult> | StepResult;
}

export interface StepOptions {
  retry?: RetryPolicyOptions;
  timeoutMs?: number;
  map?: MapSpec;
  /** What one attempt needs of its worker; scheduling only (see `StepDefinition.resources`). */
  resources?: StepResources;
  /** The step type (`uses`); without it the step has no cache settings and is never cached. */
  uses?: string;
  /** `cache: true|false` resolved from the flow file (step, else flow); default false. */
  cache?: boolean;
  /** Fixed key material, e.g. the hash of a module-path step's code and its local imports. */
  codeHash?: string;
  /** Where the step's code comes from, so another thread can load it again (see `StepOrigin`). */
  origin?: StepOrigin;
  /** The steps it needs, named inputs and condition (see `StepDefinition`). */
  needs?: readonly string[];
  inputs?: Readonly<Record<string, InputRef>>;
  when?: Condition;
}

/**
 * Where a step's code was loaded from (its `uses` and the directory module paths refer to): what a
 * step thread needs to load the same module and run a shard of it in parallel. Absent for a step
 * defined in code (a closure cannot be sent to another thread): it always runs in the engine's thread.
 */
export interface StepOrigin {
  readonly uses: string;
  readonly baseDir: string;
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
    ...(options.needs === undefined ? {} : { needs: [...options.needs] }),
    ...(options.inputs === undefined ? {} : { inputs: { ...options.inputs } }),
    ...(options.when === undefined ? {} : { when: options.when }),
    ...(options.retry === undefined ? {} : { retry: options.retry }),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.map === undefined ? {} : { map: { over: options.map.over, shardSize: options.map.shardSize } }),
    ...(options.resources === undefined ? {} : { resources: resourcesOf(options.resources) }),
    ...(options.uses === undefined ? {} : { cache: cacheSettings(module, options.uses, options) }),
    ...(options.origin === undefined ? {} : { origin: { uses: options.origin.uses, baseDir: options.origin.baseDir } }),
    ...(module.streaming === true ? { streaming: true } : {}),
    ...(module.split === undefined ? {} : { split: module.split }),
    run: (ctx) => module.run(ctx),
  };
}

/** A copy holding only the keys given: `{ cpus: 2 }` stays without `memoryMb`. */
function resourcesOf(resources: StepResources): StepResources {
  return {
    ...(resources.cpus === undefined ? {} : { cpus: resources.cpus }),
    ...(resources.memoryMb === undefined ? {} : { memoryMb: resources.memoryMb }),
  };
}

function cacheSettings<P extends JsonObject>(module: StepModule<P>, stepType: string, options: StepOptions): StepCacheSettings<P> {
  return {
    stepType,
    enabled: options.cache ?? false,
    cacheable: module.cacheable !== false,
    ...(options.codeHash === undefined ? {} : { codeHash: options.codeHash }),
    ...(module.cacheKey === undefined ? {} : { cacheKey: (params: P, ctx: CacheKeyContext) => module.cacheKey!(params, ctx) }),
  };
}
