import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createArtifact, type Artifact, type ArtifactDraft } from '../../../src/core/artifact.js';
import type { JsonObject, JsonValue } from '../../../src/core/canonical-json.js';
import type { CachedStepEntry, ErrorHistoryEntry, ShardPosition, StepModule, StepResult } from '../../../src/core/definition.js';

export interface RunOptions {
  input?: readonly (Artifact | ArtifactDraft)[];
  params?: unknown;
  attempt?: number;
  baseDir?: string;
  errorHistory?: readonly ErrorHistoryEntry[];
  /** Runs the attempt as this shard of a mapped step (`ctx.shard`). */
  shard?: ShardPosition;
  cachedSteps?: readonly CachedStepEntry[];
}

export interface StepRun {
  result: StepResult;
  signals: { name: string; data: JsonValue }[];
}

/** Runs one attempt of a step module outside the engine, its params parsed as the flow file loader does. */
export async function runStep<P extends JsonObject>(module: StepModule<P>, options: RunOptions = {}): Promise<StepRun> {
  const params = module.parseParams ? module.parseParams(options.params ?? {}) : (options.params as P);
  const signals: StepRun['signals'] = [];
  const result = await module.run({
    input: (options.input ?? []).map((a) => ('hash' in a ? a : createArtifact(a))),
    params,
    attempt: options.attempt ?? 1,
    flowId: '00000000-0000-4000-8000-000000000000',
    stepId: 'under-test',
    signal: new AbortController().signal,
    baseDir: options.baseDir ?? process.cwd(),
    errorHistory: options.errorHistory ?? [],
    ...(options.cachedSteps === undefined ? {} : { cachedSteps: options.cachedSteps }),
    emit: (name, data = null) => signals.push({ name, data }),
    ...(options.shard === undefined ? {} : { shard: options.shard }),
  });
  return { result, signals };
}

/** The payload of the one output of `kind`. */
export function outputOf<T = unknown>(run: StepRun, kind: string): T {
  const matches = run.result.outputs.filter((o) => o.kind === kind);
  if (matches.length !== 1) throw new Error(`expected one output of kind ${kind}, got ${matches.length}`);
  return matches[0]?.payload as T;
}

/** The outputs as artifacts, to feed the next step. */
export function artifactsOf(run: StepRun): Artifact[] {
  return run.result.outputs.map((o) => createArtifact(o));
}

/** A scratch directory, removed by the returned function. */
export async function scratchDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'chemflow-steps-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
