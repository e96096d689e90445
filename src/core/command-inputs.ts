import type { CommandInputSpec } from './command-spec.js';

/** An output of the step a command reads from, as the command names it. */
export interface NamedOutput {
  readonly kind: string;
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/**
 * The name a command gives an output of the previous step: its metadata `name` when it has one (a
 * command step keeps its `outputs` key there; a JavaScript step may name its outputs the same way),
 * else the last segment of its kind (`chem/molecules` → `molecules`).
 */
export function outputNameOf(output: NamedOutput): string {
  const named = output.metadata?.name;
  if (typeof named === 'string' && named !== '') return named;
  const slash = output.kind.lastIndexOf('/');
  return slash === -1 ? output.kind : output.kind.slice(slash + 1);
}

/** Which output (its index among the previous step's outputs) each input name stands for. */
export type BoundInputs = Record<string, number>;

export type InputBinding = { ok: true; bound: BoundInputs } | { ok: false; problem: string };

/**
 * Binds a command's input names to the previous step's outputs. With `inputs` declared, each name takes
 * the output it names (`STEP.OUTPUT`) or the step's only output (`STEP`). Without, every output is
 * bound by its own name; a name two outputs share is left out, and is a problem only when `used` (the
 * names the command's `{in.NAME}` placeholders refer to) asks for it. Pure: the runtime applies it to
 * the outputs it has, the flow file loader to the outputs it can know.
 */
export function bindCommandInputs(
  inputs: Readonly<Record<string, CommandInputSpec>> | null,
  outputs: readonly NamedOutput[],
  used: readonly string[],
): InputBinding {
  const names = outputs.map((o) => outputNameOf(o));
  const listed = names.length === 0 ? 'no outputs' : `outputs ${names.join(', ')}`;
  const bound: BoundInputs = {};
  if (inputs === null) {
    const counts = new Map<string, number>();
    for (const name of names) counts.set(name, (counts.get(name) ?? 0) + 1);
    names.forEach((name, index) => {
      if (counts.get(name) === 1) bound[name] = index;
    });
    for (const name of used) {
      if (bound[name] !== undefined) continue;
      const count = counts.get(name) ?? 0;
      return {
        ok: false,
        problem:
          count > 1
            ? `{in.${name}} is ambiguous: the previous step has ${count} outputs named ${JSON.stringify(name)}; declare \`inputs\` to pick one`
            : `{in.${name}}: the previous step has no output named ${JSON.stringify(name)} (it has ${listed})`,
      };
    }
    return { ok: true, bound };
  }
  for (const [name, spec] of Object.entries(inputs)) {
    if (spec.output === null) {
      if (outputs.length !== 1)
        return { ok: false, problem: `input ${name}: step ${spec.step} has ${listed}; name one as ${spec.step}.OUTPUT` };
      bound[name] = 0;
      continue;
    }
    const matches = names.flatMap((n, i) => (n === spec.output ? [i] : []));
    if (matches.length !== 1)
      return {
        ok: false,
        problem:
          matches.length === 0
            ? `input ${name}: step ${spec.step} has no output named ${JSON.stringify(spec.output)} (it has ${listed})`
            : `input ${name}: step ${spec.step} has ${matches.length} outputs named ${JSON.stringify(spec.output)}`,
      };
    bound[name] = matches[0] as number;
  }
  for (const name of used)
    if (bound[name] === undefined) return { ok: false, problem: `{in.${name}} names no declared input (declared: ${Object.keys(inputs).join(', ') || 'none'})` };
  return { ok: true, bound };
}

/**
 * `inputs: { NAME: "STEP" | "STEP.OUTPUT" }` read against the step a command may read from (until flows
 * are graphs, the previous step, whose id may itself contain dots). Undefined when `ref` names another step.
 */
export function parseInputRef(ref: string, previousStep: string): { step: string; output: string | null } | undefined {
  if (ref === previousStep) return { step: previousStep, output: null };
  if (ref.startsWith(`${previousStep}.`) && ref.length > previousStep.length + 1) return { step: previousStep, output: ref.slice(previousStep.length + 1) };
  return undefined;
}
