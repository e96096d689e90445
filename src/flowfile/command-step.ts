import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { commandParamsOf } from '../core/command-params.js';
import type { StepDefinition } from '../core/definition.js';
import { retryPolicyProblems } from '../core/retry-policy.js';
import { defineCommandStep } from '../runtime/command/command-step.js';
import { mergePolicy, type BindContext } from './bind-context.js';
import type { StepInput } from './schema.js';

/**
 * A `command:` step of a flow file → a command step definition, or `undefined` with its problems
 * recorded at their lines: placeholders, inputs (outputs of the one step it needs),
 * output paths, exit codes, env, and the script (read now: its content hash enters the definition).
 */
export async function bindCommandStep(
  step: StepInput,
  command: readonly string[],
  index: number,
  previous: StepInput | null,
  context: BindContext,
): Promise<StepDefinition | undefined> {
  const at = (...rest: PropertyKey[]): PropertyKey[] => ['steps', index, ...rest];
  const before = context.issues.items.length;
  let script: { name: string; sha256: string } | null = null;
  if (step.script !== undefined) {
    const file = resolve(context.baseDir, step.script);
    const isFile = await stat(file).then((s) => s.isFile(), () => false);
    if (!isFile) context.issues.add('invalid_command', at('script'), `script not found: ${file}`);
    else script = { name: step.script, sha256: createHash('sha256').update(await readFile(file)).digest('hex') };
  }
  // A previous command step's output names are known now; a module's only when it runs.
  const previousOutputs = previous?.command !== undefined ? Object.keys(previous.outputs ?? {}) : null;
  const { params, problems } = commandParamsOf(
    { command, ...pick(step) },
    { previousStep: previous?.id ?? null, previousOutputs, script, mapped: step.map !== undefined },
  );
  for (const problem of problems) context.issues.add('invalid_command', at(...problem.path), problem.message);
  const retry = step.retry === undefined ? undefined : mergePolicy(context.flowPolicy, step.retry);
  for (const problem of retry ? retryPolicyProblems(retry) : []) context.issues.add('schema', at('retry'), problem);
  if (context.issues.items.length > before) return undefined;
  return defineCommandStep(step.id, index === 0 ? 'source' : 'transform', params, context.baseDir, {
    ...(retry === undefined ? {} : { retry }),
    ...(step.timeoutMs === undefined ? {} : { timeoutMs: step.timeoutMs }),
    ...(step.map === undefined ? {} : { map: step.map }),
    ...(step.resources === undefined ? {} : { resources: step.resources }),
    cache: step.cache ?? context.flowCache,
  });
}

/** The spec's optional fields, only those the step has (the spec's types forbid explicit undefined). */
function pick(step: StepInput): Omit<Parameters<typeof commandParamsOf>[0], 'command'> {
  return {
    ...(step.inputs === undefined ? {} : { inputs: step.inputs }),
    ...(step.outputs === undefined ? {} : { outputs: step.outputs }),
    ...(step.exitCodes === undefined ? {} : { exitCodes: step.exitCodes }),
    ...(step.env === undefined ? {} : { env: step.env }),
  };
}
