import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { canonicalJson } from '../core/canonical-json.js';
import type { Condition } from '../core/condition.js';
import { defineFlow, defineStep, sourceMapProblem, type FlowDefinition, type StepDefinition, type StepModule } from '../core/definition.js';
import { graphProblems, parseStepRef, type InputRef } from '../core/step-graph.js';
import { isChemflowError, UnstorableValueError } from '../core/errors.js';
import { assertStorable } from '../core/storable.js';
import { DEFAULT_RETRY_POLICY, retryPolicyProblems, type RetryPolicyOptions } from '../core/retry-policy.js';
import { FlowFileError } from './flow-file-error.js';
import { formatPath, issueText } from './issue-text.js';
import { readFlowDocument } from './read-document.js';
import { flowFileSchema, type StepInput } from './schema.js';
import { moduleCodeHash, resolveStepModule, StepModuleProblem } from './step-module.js';
import { IssueList, mergePolicy, type BindContext } from './bind-context.js';
import { bindCommandStep } from './command-step.js';

export interface LoadFlowFileOptions {
  /** Built-in step types that `uses` may name, e.g. `BUILTIN_STEPS`. */
  builtins?: Readonly<Record<string, StepModule>>;
  /** Directory a relative flow file path is resolved against; default the process's cwd. */
  cwd?: string;
}

/** A flow file turned into everything needed to run it. */
export interface LoadedFlowFile {
  /** Absolute path of the flow file. */
  file: string;
  /** Directory of the flow file: module paths and relative paths in params refer to it. */
  baseDir: string;
  definition: FlowDefinition;
  /** The flow-level retry policy (defaults filled in): the engine's policy for steps without their own. */
  retryPolicy: RetryPolicyOptions;
}

/**
 * Reads, validates and binds a flow file. Every problem is collected and thrown as one
 * `FlowFileError` naming the file, the path inside it and what was expected. Nothing is written
 * anywhere: a flow file is fully checked (modules imported, params parsed) before any run starts.
 */
export async function loadFlowFile(path: string, options: LoadFlowFileOptions = {}): Promise<LoadedFlowFile> {
  const cwd = options.cwd ?? process.cwd();
  const file = resolve(cwd, path);
  const shownAs = displayPath(file, cwd);
  const baseDir = dirname(file);
  const doc = await readFlowDocument(file, shownAs);
  const issues = new IssueList(doc);

  const parsed = flowFileSchema.safeParse(doc.data, { reportInput: true });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) issues.add('schema', issue.path, issueText(issue));
    // A step's own checks (`uses` or `command`) do not run once its keys failed: say it anyway.
    for (const index of stepsWithoutKind(doc.data))
      if (!issues.items.some((i) => i.path === formatPath(['steps', index, 'uses'])))
        issues.add('schema', ['steps', index, 'uses'], 'is required (expected a string): a step type or module path, or give `command` to run a program');
    throw new FlowFileError(shownAs, issues.items);
  }
  const input = parsed.data;

  const retryPolicy = mergePolicy(DEFAULT_RETRY_POLICY, input.retry);
  for (const problem of retryPolicyProblems(retryPolicy)) issues.add('schema', ['retry'], problem);
  const firstIndex = new Map<string, number>();
  input.steps.forEach((step, index) => {
    const first = firstIndex.get(step.id);
    if (first === undefined) firstIndex.set(step.id, index);
    else issues.add('invalid_definition', ['steps', index, 'id'], `duplicate step id ${JSON.stringify(step.id)} (already used by steps[${first}])`);
  });
  if (issues.items.length > 0) throw new FlowFileError(shownAs, issues.items);

  const stepIds = input.steps.map((s) => s.id);
  const steps: StepDefinition[] = [];
  for (const [index, step] of input.steps.entries()) {
    const context = { baseDir, builtins: options.builtins ?? {}, flowPolicy: retryPolicy, flowCache: input.cache ?? false, issues, stepIds };
    const bound =
      step.command === undefined
        ? await bindStep(step, step.uses ?? '', index, context)
        : await bindLinkedCommandStep(step, step.command, index, input.steps, context);
    if (bound) steps.push(bound);
  }
  if (issues.items.length > 0) throw new FlowFileError(shownAs, issues.items);
  for (const problem of graphProblems(steps)) issues.add('invalid_definition', ['steps', problem.stepIndex, problem.field], problem.message);
  if (issues.items.length > 0) throw new FlowFileError(shownAs, issues.items);

  try {
    return { file, baseDir, definition: defineFlow(input.name, steps, input.onFailure === undefined ? {} : { onFailure: input.onFailure }), retryPolicy };
  } catch (error) {
    if (!isChemflowError(error)) throw error;
    issues.add('invalid_definition', ['steps'], error.message);
    throw new FlowFileError(shownAs, issues.items, { cause: error });
  }
}

/** A step's `needs`, `inputs` and `when` as `defineStep` takes them, or `undefined` with the references that name no step recorded. */
function bindLinks(
  step: StepInput,
  index: number,
  context: BindContext & { stepIds: readonly string[] },
): { needs?: readonly string[]; inputs?: Record<string, InputRef>; when?: Condition } | undefined {
  const at = (...rest: PropertyKey[]): PropertyKey[] => ['steps', index, ...rest];
  let ok = true;
  const refOf = (ref: string, path: PropertyKey[], what: string): InputRef | undefined => {
    const parsed = parseStepRef(ref, context.stepIds);
    if (parsed === undefined) {
      context.issues.add('invalid_definition', path, `${what} ${JSON.stringify(ref)} names no step of this flow: write STEP or STEP.OUTPUT`);
      ok = false;
    }
    return parsed;
  };
  const inputs: Record<string, InputRef> = {};
  for (const [name, ref] of Object.entries(step.inputs ?? {})) {
    const parsed = typeof ref === 'string' ? refOf(ref, at('inputs', name), `input ${JSON.stringify(name)}:`) : undefined;
    if (parsed !== undefined) inputs[name] = parsed;
  }
  const target = step.when === undefined ? undefined : refOf(step.when.step, at('when', 'step'), 'the condition\'s step');
  if (!ok) return undefined;
  const when: Condition | undefined =
    step.when === undefined || target === undefined
      ? undefined
      : { step: target.step, output: target.output, path: step.when.path, op: step.when.op, ...(step.when.value === undefined ? {} : { value: step.when.value as Condition['value'] }) };
  return {
    ...(step.needs === undefined ? {} : { needs: step.needs }),
    ...(step.inputs === undefined ? {} : { inputs }),
    ...(when === undefined ? {} : { when }),
  };
}

/**
 * A command step: it reads one step's outputs, the step before it or the one step its `needs` names,
 * and its `inputs` name outputs of that step (with their formats).
 */
async function bindLinkedCommandStep(
  step: StepInput,
  command: readonly string[],
  index: number,
  all: readonly StepInput[],
  context: BindContext & { stepIds: readonly string[] },
): Promise<StepDefinition | undefined> {
  const at = (...rest: PropertyKey[]): PropertyKey[] => ['steps', index, ...rest];
  if (step.needs !== undefined && step.needs.length > 1) {
    context.issues.add('invalid_definition', at('needs'), `a command step reads the outputs of one step: needs names ${step.needs.length} (${step.needs.join(', ')})`);
    return undefined;
  }
  const needed = step.needs === undefined ? all[index - 1] : all.find((s) => s.id === step.needs?.[0]);
  if (step.needs !== undefined && step.needs.length === 1 && needed === undefined) {
    context.issues.add('invalid_definition', at('needs'), `step ${JSON.stringify(step.id)} needs ${JSON.stringify(step.needs[0])}, which is not a step of this flow`);
    return undefined;
  }
  const links = bindLinks({ ...step, inputs: undefined }, index, context);
  if (links === undefined) return undefined;
  const bound = await bindCommandStep(step, command, index, step.needs?.length === 0 ? null : (needed ?? null), context);
  if (bound === undefined) return undefined;
  return { ...bound, ...(links.needs === undefined ? {} : { needs: links.needs }), ...(links.when === undefined ? {} : { when: links.when }) };
}

/** One step entry → a step definition, or `undefined` with its problems recorded. */
async function bindStep(step: StepInput, uses: string, index: number, context: BindContext & { stepIds: readonly string[] }): Promise<StepDefinition | undefined> {
  const at = (...rest: PropertyKey[]): PropertyKey[] => ['steps', index, ...rest];
  const links = bindLinks(step, index, context);
  if (links === undefined) return undefined;
  let module: StepModule;
  let codeHash: string | undefined;
  try {
    module = await resolveStepModule(uses, context.baseDir, context.builtins);
    codeHash = await moduleCodeHash(uses, context.baseDir);
  } catch (error) {
    if (!(error instanceof StepModuleProblem)) throw error;
    context.issues.add(error.problem, at('uses'), error.message);
    return undefined;
  }
  const sourceProblem = step.map !== undefined && module.kind === 'source' ? sourceMapProblem(step.map, module.split?.over) : undefined;
  if (sourceProblem !== undefined) {
    // A schema cannot know the step's kind; found here, the problem is reported at its line like the others.
    context.issues.add('invalid_definition', at('map'), `step ${JSON.stringify(step.id)} is a source: ${sourceProblem.replace(/^a source step /, 'it ')}`);
    return undefined;
  }
  if (step.map !== undefined && module.notMappable !== undefined) {
    context.issues.add('invalid_definition', at('map'), `step ${JSON.stringify(step.id)} (${uses}) cannot be mapped: ${module.notMappable}`);
    return undefined;
  }
  const retry = step.retry === undefined ? undefined : mergePolicy(context.flowPolicy, step.retry);
  for (const problem of retry ? retryPolicyProblems(retry) : []) context.issues.add('schema', at('retry'), problem);
  let definition: StepDefinition;
  try {
    definition = defineStep(step.id, module, step.params ?? {}, {
      ...links,
      ...(retry ? { retry } : {}),
      ...(step.timeoutMs === undefined ? {} : { timeoutMs: step.timeoutMs }),
      ...(step.map === undefined ? {} : { map: step.map }),
      ...(step.resources === undefined ? {} : { resources: step.resources }),
      uses,
      origin: { uses, baseDir: context.baseDir },
      cache: step.cache ?? context.flowCache,
      ...(codeHash === undefined ? {} : { codeHash }),
    });
  } catch (error) {
    for (const [path, message] of paramProblems(error)) context.issues.add('invalid_params', at('params', ...path), message);
    return undefined;
  }
  try {
    canonicalJson(definition.baseParams);
  } catch (error) {
    context.issues.add('invalid_params', at('params'), `expected plain JSON values: ${(error as Error).message}`);
    return undefined;
  }
  try {
    assertStorable(definition.baseParams);
  } catch (error) {
    if (!(error instanceof UnstorableValueError)) throw error;
    context.issues.add('invalid_params', at('params'), `expected text that can be stored: ${error.message}`);
    return undefined;
  }
  return definition;
}

/** What a module's `parseParams` threw, as `[path inside params, message]` pairs (zod issues kept apart). */
function paramProblems(error: unknown): [PropertyKey[], string][] {
  const issues = (error as { issues?: unknown } | null)?.issues;
  // The keys a module's params allow are the module's business: never name the flow file's here.
  if (Array.isArray(issues) && issues.every(isZodIssue)) return issues.map((issue) => [issue.path, issueText(issue, () => undefined)]);
  const message = error instanceof Error ? error.message : String(error);
  return [[[], `invalid params: ${message}`]];
}

type ZodIssue = Parameters<typeof issueText>[0];

function isZodIssue(value: unknown): value is ZodIssue & { path: PropertyKey[] } {
  const candidate = value as { path?: unknown; message?: unknown } | null;
  return typeof candidate === 'object' && candidate !== null && Array.isArray(candidate.path) && typeof candidate.message === 'string';
}

/** Indexes of the steps of a raw document that have neither `uses` nor `command`. */
function stepsWithoutKind(data: unknown): number[] {
  const steps = (data as { steps?: unknown } | null)?.steps;
  if (!Array.isArray(steps)) return [];
  return steps.flatMap((step: unknown, index) =>
    typeof step === 'object' && step !== null && !('uses' in step) && !('command' in step) ? [index] : [],
  );
}

function displayPath(file: string, cwd: string): string {
  const rel = relative(cwd, file);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}
