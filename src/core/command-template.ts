/**
 * Placeholders of a command's arguments: `{in.NAME}`, `{out.NAME}`, `{script}`, `{workdir}`, with
 * `{{` and `}}` for literal braces. Anything else in braces is refused when the flow is loaded, so a
 * typo never reaches the program as a literal `{in.molecles}`.
 */
export type Placeholder = { kind: 'in'; name: string } | { kind: 'out'; name: string } | { kind: 'script' } | { kind: 'workdir' };

export type TemplatePart = { text: string } | { placeholder: Placeholder };

/** An argument that is not a valid template. */
export class TemplateSyntaxError extends Error {
  readonly code = 'TEMPLATE_SYNTAX';
}

const NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** Splits one argument into literal text and placeholders; throws `TemplateSyntaxError` naming the problem. */
export function parseArgument(arg: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let text = '';
  for (let i = 0; i < arg.length; i++) {
    const char = arg[i] as string;
    if (char === '{' && arg[i + 1] === '{') {
      text += '{';
      i++;
    } else if (char === '}' && arg[i + 1] === '}') {
      text += '}';
      i++;
    } else if (char === '}') {
      throw new TemplateSyntaxError(`a lone '}' at position ${i} of ${JSON.stringify(arg)}; write '}}' for a literal brace`);
    } else if (char === '{') {
      const end = arg.indexOf('}', i + 1);
      if (end === -1) throw new TemplateSyntaxError(`'{' at position ${i} of ${JSON.stringify(arg)} is never closed; write '{{' for a literal brace`);
      if (text !== '') parts.push({ text });
      text = '';
      parts.push({ placeholder: placeholderOf(arg.slice(i + 1, end)) });
      i = end;
    } else text += char;
  }
  if (text !== '') parts.push({ text });
  return parts;
}

function placeholderOf(body: string): Placeholder {
  if (body === 'script') return { kind: 'script' };
  if (body === 'workdir') return { kind: 'workdir' };
  const dot = body.indexOf('.');
  const head = dot === -1 ? body : body.slice(0, dot);
  const name = dot === -1 ? '' : body.slice(dot + 1);
  if ((head === 'in' || head === 'out') && NAME.test(name)) return { kind: head, name };
  if (head === 'in' || head === 'out')
    throw new TemplateSyntaxError(`{${body}}: expected {${head}.NAME} with NAME of letters, digits, '_' or '-'`);
  throw new TemplateSyntaxError(`unknown placeholder {${body}}; expected {in.NAME}, {out.NAME}, {script} or {workdir} ('{{' and '}}' for literal braces)`);
}

/** Every placeholder of an argv, with the index of its argument. */
export function placeholdersOf(command: readonly string[]): { index: number; placeholder: Placeholder }[] {
  return command.flatMap((arg, index) => parseArgument(arg).flatMap((part) => ('placeholder' in part ? [{ index, placeholder: part.placeholder }] : [])));
}

/** What placeholders stand for in one attempt: absolute paths. */
export interface PlaceholderValues {
  inputs: Readonly<Record<string, string>>;
  outputs: Readonly<Record<string, string>>;
  script: string | null;
  workdir: string;
}

/** The argv with every placeholder replaced; a name with no value throws (checked at load, so a bug). */
export function substitute(command: readonly string[], values: PlaceholderValues): string[] {
  return command.map((arg) =>
    parseArgument(arg)
      .map((part) => {
        if ('text' in part) return part.text;
        const p = part.placeholder;
        const value =
          p.kind === 'script' ? values.script : p.kind === 'workdir' ? values.workdir : p.kind === 'in' ? values.inputs[p.name] : values.outputs[p.name];
        if (value === undefined || value === null) throw new TemplateSyntaxError(`no value for {${p.kind}${'name' in p ? `.${p.name}` : ''}}`);
        return value;
      })
      .join(''),
  );
}
