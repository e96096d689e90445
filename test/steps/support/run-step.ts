import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createArtifact,
  isBatchArtifact,
  isFileArtifact,
  type Artifact,
  type ArtifactDraft,
  type BatchArtifact,
  type FileArtifact,
  type StoredArtifact,
} from '../../../src/core/artifact.js';
import { batchShapeOf } from '../../../src/core/batch.js';
import type { JsonObject, JsonValue } from '../../../src/core/canonical-json.js';
import type { CachedStepEntry, ErrorHistoryEntry, FlowStepEntry, ShardPosition, StepModule, StepResult } from '../../../src/core/definition.js';
import type { StepOutput } from '../../../src/core/step-data.js';
import { batchInputOf, openBatchOutput, storeFileOutput, streamingInputs, wholeInputs } from '../../../src/runtime/step-data-io.js';
import { MemoryBlobStore } from '../../../src/stores/blobs/memory-blob-store.js';

export interface RunOptions {
  input?: readonly (Artifact | ArtifactDraft | BatchArtifact | FileArtifact)[];
  /**
   * `batches`: every whole input that is a list of rows is stored as a batch first, and reaches a
   * streaming step as a `BatchInput` (a step that does not stream gets it read whole), as the engine
   * gives a batch input. Default `whole`: inputs are given as they are.
   */
  inputsAs?: 'whole' | 'batches';
  params?: unknown;
  attempt?: number;
  baseDir?: string;
  errorHistory?: readonly ErrorHistoryEntry[];
  /** Runs the attempt as this shard of a mapped step (`ctx.shard`). */
  shard?: ShardPosition;
  cachedSteps?: readonly CachedStepEntry[];
  flowSteps?: readonly FlowStepEntry[];
  /** Where batches and files are kept; default one store shared by every run of the test file. */
  blobs?: MemoryBlobStore;
}

export interface StepRun {
  result: StepResult;
  signals: { name: string; data: JsonValue }[];
  /** The outputs as a store keeps them: whole artifacts, batches and files (an input passed on as itself). */
  stored: StoredArtifact[];
  /** The outputs with every batch read back whole, in order. */
  artifacts: Artifact[];
  blobs: MemoryBlobStore;
}

const sharedBlobs = new MemoryBlobStore();

/** Runs one attempt of a step module outside the engine, its params parsed as the flow file loader does. */
export async function runStep<P extends JsonObject>(module: StepModule<P>, options: RunOptions = {}): Promise<StepRun> {
  const params = module.parseParams ? module.parseParams(options.params ?? {}) : (options.params as P);
  const blobs = options.blobs ?? sharedBlobs;
  const baseDir = options.baseDir ?? process.cwd();
  const workDir = (): Promise<string> => mkdtemp(join(tmpdir(), 'chemflow-step-work-'));
  const inputs: StoredArtifact[] = [];
  for (const a of options.input ?? []) inputs.push(options.inputsAs === 'batches' ? await asBatch(a, blobs) : stored(a));
  const signals: StepRun['signals'] = [];
  const result = await module.run({
    input: module.streaming === true ? streamingInputs(inputs, blobs, workDir) : await wholeInputs(inputs, blobs, workDir),
    inputs: {},
    params,
    attempt: options.attempt ?? 1,
    flowId: '00000000-0000-4000-8000-000000000000',
    stepId: 'under-test',
    signal: new AbortController().signal,
    baseDir,
    errorHistory: options.errorHistory ?? [],
    ...(options.cachedSteps === undefined ? {} : { cachedSteps: options.cachedSteps }),
    ...(options.flowSteps === undefined ? {} : { flowSteps: options.flowSteps }),
    emit: (name, data = null) => signals.push({ name, data }),
    ...(options.shard === undefined ? {} : { shard: options.shard }),
    batch: (kind, batchOptions) => openBatchOutput(kind, batchOptions, blobs),
    file: (kind, source, fileOptions = {}) => storeFileOutput(kind, source, fileOptions, blobs, baseDir),
  });
  const byHash = new Map(inputs.map((a) => [a.hash, a]));
  const outputs = result.outputs.map((o) => storedOutput(o, byHash));
  const artifacts: Artifact[] = [];
  for (const o of outputs) artifacts.push(await wholeOf(o, blobs));
  return { result, signals, stored: outputs, artifacts, blobs };
}

function stored(a: Artifact | ArtifactDraft | BatchArtifact | FileArtifact): StoredArtifact {
  if ('form' in a) return a;
  return 'hash' in a ? a : createArtifact(a);
}

/** A whole artifact with a list of rows, stored as a batch (the same hash); any other as it is. */
async function asBatch(a: Artifact | ArtifactDraft | BatchArtifact | FileArtifact, blobs: MemoryBlobStore): Promise<StoredArtifact> {
  const artifact = stored(a);
  if (!('payload' in artifact)) return artifact;
  const found = batchShapeOf(artifact.payload);
  if (found === undefined) return artifact;
  const writer = openBatchOutput(artifact.kind, { ...found.shape, ...(artifact.metadata === undefined ? {} : { metadata: artifact.metadata }) }, blobs, {
    maxRows: 7,
    maxBytes: 1 << 20,
  });
  await writer.pushAll(found.rows);
  return writer.close();
}

function storedOutput(output: StepOutput, inputs: ReadonlyMap<string, StoredArtifact>): StoredArtifact {
  if ('form' in output) {
    if ('manifest' in output) return output;
    if (output.form === 'file' && !('path' in output)) return output;
    const passed = inputs.get(output.hash);
    if (passed === undefined) throw new Error(`output ${output.kind} is an input reader of no input of this run`);
    return passed;
  }
  // A whole input passed on is the input itself, hash included.
  return 'hash' in output && typeof output.hash === 'string' ? (output as Artifact) : createArtifact(output);
}

async function wholeOf(artifact: StoredArtifact, blobs: MemoryBlobStore): Promise<Artifact> {
  if (isBatchArtifact(artifact)) return batchInputOf(artifact, blobs).whole();
  if (isFileArtifact(artifact)) throw new Error(`output ${artifact.kind} is a file`);
  return artifact;
}

/** The payload of the one output of `kind` (a batch read back whole). */
export function outputOf<T = unknown>(run: StepRun, kind: string): T {
  const matches = run.artifacts.filter((o) => o.kind === kind);
  if (matches.length !== 1) throw new Error(`expected one output of kind ${kind}, got ${matches.length}`);
  return matches[0]?.payload as T;
}

/** The outputs as whole artifacts, to feed the next step. */
export function artifactsOf(run: StepRun): Artifact[] {
  return run.artifacts;
}

/** The outputs as stored (batches as batches), to feed the next step as the engine would. */
export function storedOf(run: StepRun): StoredArtifact[] {
  return run.stored;
}

/** The outputs' hashes, in order. */
export function hashesOf(run: StepRun): string[] {
  return run.stored.map((a) => a.hash);
}

/** A scratch directory, removed by the returned function. */
export async function scratchDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'chemflow-steps-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
