import { createHash } from 'node:crypto';
import type { StepResources } from '../../core/resources.js';
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { commandParamsOf, type CommandProblem, type CommandStepSpec } from '../../core/command-params.js';
import type { CommandParams } from '../../core/command-spec.js';
import type { Condition } from '../../core/condition.js';
import { placeholdersOf } from '../../core/command-template.js';
import { defineStep, type StepDefinition, type StepKind, type StepModule } from '../../core/definition.js';
import { InvalidDefinitionError } from '../../core/errors.js';
import type { MapSpec } from '../../core/map-spec.js';
import type { RetryPolicyOptions } from '../../core/retry-policy.js';
import { runCommandAttempt } from './run-command.js';

/** The step type of command steps: what their cache entries are keyed by, and what `uses` would say. */
export const COMMAND_STEP_TYPE = 'command';

/** Bumped when what a command step does with the same params changes (staging formats, env rules). */
export const COMMAND_STEP_VERSION = '1';

/**
 * The built-in `command` step type. Batch inputs are streamed (`streaming`): a large input is written
 * to the command's file a chunk at a time, never held whole.
 */
function commandModule(kind: StepKind): StepModule<CommandParams> {
  return { kind, version: COMMAND_STEP_VERSION, streaming: true, run: runCommandAttempt };
}

/** The scheduling side of a command step (never part of any hash), and its links (`needs`, `when`: part of the definition hash). */
export interface CommandStepScheduling {
  retry?: RetryPolicyOptions;
  timeoutMs?: number;
  map?: MapSpec;
  /** What one attempt needs of its worker (docs/resources.md). */
  resources?: StepResources;
  /** Satisfy the step from the step cache when it can (docs/cache.md); default false. */
  cache?: boolean;
  /** The one step whose outputs it reads, when not the step before it (see `StepDefinition.needs`); hashed. */
  needs?: readonly string[];
  /** Runs only when an upstream output satisfies this (see `StepDefinition.when`); hashed. */
  when?: Condition;
}

/**
 * A command step from its canonical params. It has no `origin` on purpose: it runs in the worker's
 * main thread, never in a step thread, whose termination would orphan the command's processes. It
 * `settlesOnAbort`: a stop kills its process group and the attempt waits for that (at most the grace).
 * `baseDir` is where its script is read from (the flow file's directory).
 */
export function defineCommandStep(id: string, kind: StepKind, params: CommandParams, baseDir: string | null, scheduling: CommandStepScheduling = {}): StepDefinition<CommandParams> {
  const step = defineStep(id, commandModule(kind), params, {
    ...(scheduling.needs === undefined ? {} : { needs: scheduling.needs }),
    ...(scheduling.when === undefined ? {} : { when: scheduling.when }),
    ...(scheduling.retry === undefined ? {} : { retry: scheduling.retry }),
    ...(scheduling.timeoutMs === undefined ? {} : { timeoutMs: scheduling.timeoutMs }),
    ...(scheduling.map === undefined ? {} : { map: scheduling.map }),
    ...(scheduling.resources === undefined ? {} : { resources: scheduling.resources }),
    uses: COMMAND_STEP_TYPE,
    cache: scheduling.cache ?? false,
  });
  return {
    ...step,
    settlesOnAbort: true,
    run: (ctx) => runCommandAttempt(baseDir === null ? ctx : { ...ctx, baseDir }),
  };
}

/** What `commandStep` takes: the spec, the script, and where the step sits. */
export interface CommandStepOptions extends CommandStepSpec, CommandStepScheduling {
  id: string;
  /** A file (relative to `baseDir`) staged into each attempt's directory as `{script}`; its content enters the fingerprint. */
  script?: string;
  /** Where `script` is read from; default the process's cwd. */
  baseDir?: string;
  /** The id of the step before it, when `inputs` name it with a dotted id; default: what `inputs` say. */
  previousStep?: string | null;
  /** Default: `source` when the command reads no input, else `transform`. */
  kind?: StepKind;
}

/**
 * A command step for `defineFlow` in code:
 * `commandStep({ id: 'protonate', command: ['obabel', '{in.molecules}', '-O', '{out.sdf}'], outputs: { sdf: { path: 'out.sdf', kind: 'chem/sdf' } } })`.
 * Throws `InvalidDefinitionError` listing every problem of the spec.
 */
export function commandStep(options: CommandStepOptions): StepDefinition<CommandParams> {
  const baseDir = options.baseDir ?? process.cwd();
  const readsInput = options.inputs !== undefined || placeholdersOf(safeCommand(options.command)).some((p) => p.placeholder.kind === 'in');
  const kind = options.kind ?? (readsInput ? 'transform' : 'source');
  let script: { name: string; sha256: string } | null = null;
  const problems: CommandProblem[] = [];
  if (options.script !== undefined) {
    try {
      script = scriptRefSync(options.script, baseDir);
    } catch (error) {
      problems.push({ path: ['script'], message: (error as Error).message });
    }
  }
  const previousStep = options.previousStep !== undefined ? options.previousStep : kind === 'source' ? null : guessPreviousStep(options);
  const built = commandParamsOf(options, { previousStep, previousOutputs: null, script, mapped: options.map !== undefined });
  problems.push(...built.problems);
  if (problems.length > 0)
    throw new InvalidDefinitionError(`Command step "${options.id}": ${problems.map((p) => `${p.path.join('.')}: ${p.message}`).join('; ')}`);
  return defineCommandStep(options.id, kind, built.params, baseDir, options);
}

/** A spec's argv with unparseable arguments left out: only for guessing, problems are reported by `commandParamsOf`. */
function safeCommand(command: readonly string[]): string[] {
  return command.filter((arg) => {
    try {
      placeholdersOf([arg]);
      return true;
    } catch {
      return false;
    }
  });
}

/** Without `previousStep`: the step named by the first input (up to its first dot). */
function guessPreviousStep(options: CommandStepOptions): string {
  const first = Object.values(options.inputs ?? {})[0];
  const ref = first === undefined ? undefined : typeof first === 'string' ? first : first.from;
  if (ref === undefined) return '';
  const dot = ref.indexOf('.');
  return dot === -1 ? ref : ref.slice(0, dot);
}

/** A script's name as written and the SHA-256 of its content; throws a message naming the file when it cannot be read. */
export function scriptRefSync(name: string, baseDir: string): { name: string; sha256: string } {
  const file = resolve(baseDir, name);
  let bytes: Buffer;
  try {
    if (!statSync(file).isFile()) throw new Error('not a regular file');
    bytes = readFileSync(file);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new Error(`script not found: ${file} (${reason})`, { cause: error });
  }
  return { name, sha256: createHash('sha256').update(bytes).digest('hex') };
}
