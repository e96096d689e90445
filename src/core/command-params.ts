import { parseInputRef } from './command-inputs.js';
import {
  EXIT_CODE_CLASS_KEYS,
  exitCodeProblems,
  INPUT_FORMATS,
  OUTPUT_FORMATS,
  outputPathProblem,
  type CommandInputSpec,
  type CommandOutputSpec,
  type CommandParams,
  type ExitCodeClasses,
  type InputFormat,
  type OutputFormat,
} from './command-spec.js';
import { parseArgument, TemplateSyntaxError } from './command-template.js';

/** A command step as a user writes it (in a flow file, or in code with `commandStep`). */
export interface CommandStepSpec {
  /** argv with placeholders: `["obabel", "{in.molecules}", "-O", "{out.sdf}"]`. */
  readonly command: readonly string[];
  /** NAME: `STEP`, `STEP.OUTPUT`, or `{ from, format }`. Absent: the previous step's outputs by name. */
  readonly inputs?: Readonly<Record<string, string | { readonly from: string; readonly format?: InputFormat }>>;
  readonly outputs?: Readonly<Record<string, { readonly path: string; readonly kind: string; readonly format?: OutputFormat }>>;
  readonly exitCodes?: Partial<Readonly<Record<(typeof EXIT_CODE_CLASS_KEYS)[number], readonly number[]>>>;
  readonly env?: Readonly<Record<string, string>>;
}

/** One problem of a command step's spec, at a path inside the step. */
export interface CommandProblem {
  path: (string | number)[];
  message: string;
}

export interface CommandParamsContext {
  /** The id of the one step it reads (the step before it, or the one its `needs` names); null for a source. */
  previousStep: string | null;
  /** The output names of that step when known (a command step's `outputs` keys); null when not. */
  previousOutputs: readonly string[] | null;
  /** The script's name and content hash, when it has one. */
  script: { name: string; sha256: string } | null;
  /** Whether the step is mapped: its outputs must then be read back as rows to merge. */
  mapped: boolean;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The canonical params of a command step, and every problem of its spec (empty: valid). Pure: the flow
 * file loader places each problem at its line, `commandStep` throws them together.
 */
export function commandParamsOf(spec: CommandStepSpec, context: CommandParamsContext): { params: CommandParams; problems: CommandProblem[] } {
  const problems: CommandProblem[] = [];
  const add = (path: (string | number)[], message: string): void => void problems.push({ path, message });

  const inputs = inputsOf(spec, context, add);
  const outputs: Record<string, CommandOutputSpec> = {};
  for (const [name, output] of Object.entries(spec.outputs ?? {})) {
    if (!NAME.test(name)) add(['outputs', name], `expected an output name of letters, digits, '_' or '-' (starting with a letter or '_'), got ${JSON.stringify(name)}`);
    const pathProblem = outputPathProblem(output.path);
    if (pathProblem !== undefined) add(['outputs', name, 'path'], pathProblem);
    if (output.kind === '') add(['outputs', name, 'kind'], 'expected a non-empty artifact kind, e.g. chem/sdf');
    const format = output.format ?? null;
    if (format !== null && !(OUTPUT_FORMATS as readonly string[]).includes(format))
      add(['outputs', name, 'format'], `expected one of ${OUTPUT_FORMATS.join(', ')}, got ${JSON.stringify(format)}`);
    if (context.mapped && format !== 'csv' && format !== 'jsonl')
      add(
        ['outputs', name, format === null ? 'path' : 'format'],
        `a mapped command step's outputs are merged as rows: give output ${name} format: csv or jsonl (a ${format === null ? 'file' : 'json value'} cannot be merged across shards)`,
      );
    outputs[name] = { path: output.path, kind: output.kind, format };
  }
  const seenPaths = new Map<string, string>();
  for (const [name, output] of Object.entries(outputs)) {
    const other = seenPaths.get(output.path);
    if (other !== undefined) add(['outputs', name, 'path'], `outputs ${other} and ${name} are both at ${output.path}`);
    seenPaths.set(output.path, name);
  }

  if (spec.command.length === 0) add(['command'], 'expected the program and its arguments, e.g. ["obabel", "{in.molecules}", "-O", "{out.sdf}"]');
  if (spec.command[0] === '') add(['command', 0], 'expected a program name or path, got an empty string');
  spec.command.forEach((arg, index) => {
    let parts;
    try {
      parts = parseArgument(arg);
    } catch (error) {
      if (!(error instanceof TemplateSyntaxError)) throw error;
      add(['command', index], error.message);
      return;
    }
    for (const part of parts) {
      if (!('placeholder' in part)) continue;
      const p = part.placeholder;
      if (p.kind === 'out' && outputs[p.name] === undefined)
        add(['command', index], `{out.${p.name}} names no declared output (declared: ${Object.keys(outputs).join(', ') || 'none'})`);
      if (p.kind === 'script' && context.script === null) add(['command', index], '{script} is used but the step has no `script`');
      if (p.kind === 'in') {
        if (context.previousStep === null) add(['command', index], `{in.${p.name}}: the first step of a flow has no input`);
        else if (inputs !== null && inputs[p.name] === undefined)
          add(['command', index], `{in.${p.name}} names no declared input (declared: ${Object.keys(inputs).join(', ') || 'none'})`);
        else if (inputs === null && context.previousOutputs !== null && !context.previousOutputs.includes(p.name))
          add(['command', index], `{in.${p.name}}: step ${context.previousStep} has no output named ${JSON.stringify(p.name)} (it has ${context.previousOutputs.join(', ') || 'none'})`);
      }
    }
  });

  const exitCodes: ExitCodeClasses = { transient: [], permanent: [], validation: [], runtime: [] };
  for (const key of EXIT_CODE_CLASS_KEYS) exitCodes[key] = [...new Set(spec.exitCodes?.[key] ?? [])].sort((a, b) => a - b);
  for (const message of exitCodeProblems(exitCodes)) add(['exitCodes'], message);

  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(spec.env ?? {})) {
    if (!ENV_NAME.test(name)) add(['env', name], `expected a variable name of letters, digits and '_', got ${JSON.stringify(name)}`);
    else if (name.startsWith('CHEMFLOW_') || name === 'TMPDIR') add(['env', name], `${name} is set by chemflow for each attempt`);
    if (typeof value !== 'string') add(['env', name], `expected a string value (quote numbers: "1"), got ${typeof value}`);
    env[name] = String(value);
  }
  return { params: { command: [...spec.command], inputs, outputs, exitCodes, env, script: context.script }, problems };
}

function inputsOf(
  spec: CommandStepSpec,
  context: CommandParamsContext,
  add: (path: (string | number)[], message: string) => void,
): Record<string, CommandInputSpec> | null {
  if (spec.inputs === undefined) return null;
  const inputs: Record<string, CommandInputSpec> = {};
  for (const [name, given] of Object.entries(spec.inputs)) {
    const at = typeof given === 'string' ? ['inputs', name] : ['inputs', name, 'from'];
    if (!NAME.test(name)) add(['inputs', name], `expected an input name of letters, digits, '_' or '-' (starting with a letter or '_'), got ${JSON.stringify(name)}`);
    const from = typeof given === 'string' ? given : given.from;
    const format = typeof given === 'string' ? null : (given.format ?? null);
    if (format !== null && !(INPUT_FORMATS as readonly string[]).includes(format))
      add(['inputs', name, 'format'], `expected one of ${INPUT_FORMATS.join(', ')}, got ${JSON.stringify(format)}`);
    if (context.previousStep === null) {
      add(at, 'the first step of a flow has no previous step to read from');
      continue;
    }
    const ref = parseInputRef(from, context.previousStep);
    if (ref === undefined) {
      add(at, `${JSON.stringify(from)}: a command step reads the outputs of the one step it needs (${context.previousStep}): write ${context.previousStep} or ${context.previousStep}.OUTPUT, or name another step in needs`);
      continue;
    }
    if (ref.output !== null && context.previousOutputs !== null && !context.previousOutputs.includes(ref.output))
      add(at, `step ${context.previousStep} has no output named ${JSON.stringify(ref.output)} (it has ${context.previousOutputs.join(', ') || 'none'})`);
    inputs[name] = { step: ref.step, output: ref.output, format };
  }
  return inputs;
}
