// The fenced blocks of the documentation, read the way the docs test runs them: shell commands (with
// the output a transcript shows), flow files (YAML) and step modules (`// steps/x.mjs`).

/** A fenced block: its file, the line of its opening fence, its language and text. */
export interface FencedBlock {
  file: string;
  line: number;
  lang: string;
  text: string;
  /** The HTML comments right above the fence (blank lines between them allowed), without `<!--`/`-->`. */
  markers: string[];
}

/** One command of a shell block, and what the block says of it. */
export interface DocCommand {
  /** Line in the file. */
  line: number;
  /** As written, without a `$ ` prompt. */
  command: string;
  /** From a trailing `# exit N`; 0 otherwise. */
  exitCode: number;
  /** The lines a transcript shows under the command; empty when it shows none (then none is checked). */
  output: string[];
  /** Why it is not run, from a `<!-- not run "prefix": reason -->` marker, or null. */
  skipReason: string | null;
}

export function fencedBlocks(file: string, markdown: string): FencedBlock[] {
  const lines = markdown.split('\n');
  const blocks: FencedBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(```+)\s*(\S*)\s*$/.exec(lines[i] ?? '');
    if (!open) continue;
    const indent = open[1]?.length ?? 0;
    const fence = open[2] ?? '```';
    let end = i + 1;
    while (end < lines.length && (lines[end] ?? '').trim() !== fence) end++;
    const body = lines.slice(i + 1, end).map((l) => l.slice(Math.min(indent, l.length - l.trimStart().length)));
    blocks.push({ file, line: i + 1, lang: open[3] ?? '', text: body.join('\n'), markers: markersAbove(lines, i) });
    i = end;
  }
  return blocks;
}

function markersAbove(lines: readonly string[], fence: number): string[] {
  const markers: string[] = [];
  for (let j = fence - 1; j >= 0; j--) {
    const line = (lines[j] ?? '').trim();
    if (line === '') continue;
    const comment = /^<!--\s*([\s\S]*?)\s*-->$/.exec(line);
    if (!comment) break;
    markers.unshift(comment[1] ?? '');
  }
  return markers;
}

/** Why the whole block is not run (`<!-- not run: reason -->`), or null. */
export function blockSkipReason(block: FencedBlock): string | null {
  for (const marker of block.markers) {
    const whole = /^not run:\s*(.+)$/.exec(marker);
    if (whole) return whole[1] ?? '';
  }
  return null;
}

/** `<!-- numbers vary: reason -->`: the numbers of the block's transcript are examples. */
export function numbersVary(block: FencedBlock): boolean {
  return block.markers.some((m) => m.startsWith('numbers vary:'));
}

/** Is this a shell block: `sh`/`bash`/`shell`, or an unlabelled one that starts with a `$ ` prompt? */
export function isShellBlock(block: FencedBlock): boolean {
  if (['sh', 'bash', 'shell', 'console'].includes(block.lang)) return true;
  return block.lang === '' && /^\$ /.test(block.text.trimStart());
}

/**
 * The commands of a shell block. In a transcript (lines with a `$ ` prompt) the other lines are the
 * output of the command above them; otherwise every line is a command, except comment lines.
 */
export function shellCommands(block: FencedBlock): DocCommand[] {
  const lines = block.text.split('\n');
  const transcript = lines.some((l) => l.startsWith('$ '));
  const lineSkips = block.markers.flatMap((m) => {
    const one = /^not run "([^"]+)":\s*(.+)$/.exec(m);
    return one ? [{ prefix: one[1] ?? '', reason: one[2] ?? '' }] : [];
  });
  const commands: DocCommand[] = [];
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? '';
    let command: string;
    if (transcript) {
      if (!raw.startsWith('$ ')) {
        const last = commands.at(-1);
        if (last === undefined) throw new Error(`${block.file}:${block.line + 1 + i}: output before the first "$ " command`);
        last.output.push(raw);
        continue;
      }
      command = raw.slice(2);
    } else {
      if (raw.trim() === '' || raw.trimStart().startsWith('#')) continue;
      command = raw;
    }
    const first = i;
    while (command.trimEnd().endsWith('\\') && i + 1 < lines.length) command = `${command.trimEnd().slice(0, -1)} ${(lines[++i] ?? '').trim()}`;
    const exit = /\s#\s*exit (\d+)\b/.exec(command);
    const skip = lineSkips.find((s) => command.startsWith(s.prefix));
    commands.push({
      line: block.line + 1 + first,
      command,
      exitCode: exit ? Number(exit[1]) : 0,
      output: [],
      skipReason: skip?.reason ?? null,
    });
  }
  for (const c of commands) while (c.output.length > 0 && c.output.at(-1)?.trim() === '') c.output.pop();
  return commands;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

/** Lines as compared: no trailing blanks, runs of spaces as one (tables align to their content), no empty lines. */
function normalise(lines: readonly string[]): string[] {
  return lines.map((l) => l.replace(/\s+/g, ' ').trim()).filter((l) => l !== '');
}

/**
 * Does `actual` (a command's output) read as the transcript `shown` says? A line `...` stands for any
 * lines; `…` for any text within a line, a hex prefix before it (`3c1e…`) for any hex; a UUID for any
 * UUID and a 16-or-more hex digit hash for any such hash (they differ with every flow or chemflow
 * version); with `numbersVary`, any number for any number. Everything else must be equal.
 */
export function transcriptMatches(shown: readonly string[], actual: string, numbers: boolean): boolean {
  const pattern = normalise(shown)
    .map((line) => {
      if (line === '...') return '(?:[^\\n]*\\n)*?';
      const tokens = line.split(new RegExp(`(${UUID.source}|[0-9a-f]{16,}|(?<!\\w)[0-9a-f]{4,}…|…|\\d+(?:\\.\\d+)?)`));
      const body = tokens
        .map((token, i) => {
          if (i % 2 === 0) return escape(token);
          if (UUID.test(token)) return UUID.source;
          if (token.endsWith('…')) return token === '…' ? '[^\\n]*' : '[0-9a-f]+';
          if (/^[0-9a-f]{16,}$/.test(token) && /[a-f]/.test(token)) return '[0-9a-f]{16,}';
          return numbers ? '\\d+(?:\\.\\d+)?' : escape(token);
        })
        .join('');
      return `${body}\\n`;
    })
    .join('');
  const text = normalise(actual.split('\n')).map((l) => `${l}\n`).join('');
  return new RegExp(`^${pattern}$`).test(text);
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The step modules a `js` block defines: each starts with a `// steps/<name>` line. */
export function stepModuleFiles(block: FencedBlock): { path: string; text: string }[] {
  if (block.lang !== 'js') return [];
  const files: { path: string; text: string }[] = [];
  for (const line of block.text.split('\n')) {
    const head = /^\/\/ (steps\/[\w.-]+\.(?:mjs|js))\b/.exec(line);
    if (head) files.push({ path: head[1] ?? '', text: '' });
    const current = files.at(-1);
    if (current !== undefined) current.text += `${line}\n`;
  }
  return files;
}
