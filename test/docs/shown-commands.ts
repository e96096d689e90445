// The commands a doc shows but does not run (it says why in a `not run` marker): each must still be a
// command a reader can type. Shell syntax, chemflow's commands and options, npm scripts and the files
// a program is given are checked; what the command then does is not.
import type { Command } from 'commander';

/** What chemflow's command line accepts: its global options, and each command's (`queue rebuild`, `cache stats`, …). */
export interface CliShape {
  globalOptions: ReadonlySet<string>;
  commands: ReadonlyMap<string, ReadonlySet<string>>;
}

export function cliShape(program: Command): CliShape {
  const longNames = (command: Command): string[] => [...command.options.flatMap((o) => (o.long === undefined ? [] : [o.long])), '--help'];
  const commands = new Map<string, Set<string>>();
  const visit = (command: Command, path: string[]): void => {
    for (const sub of command.commands) {
      const name = [...path, sub.name()];
      commands.set(name.join(' '), new Set(longNames(sub)));
      visit(sub, name);
    }
  };
  visit(program, []);
  return { globalOptions: new Set(longNames(program)), commands };
}

/** What a shown command may refer to besides chemflow itself. */
export interface ShownContext {
  cli: CliShape;
  /** The package's npm scripts. */
  scripts: ReadonlySet<string>;
  /** Whether a path (relative to the checkout) exists. */
  exists: (path: string) => boolean;
}

/** The words of each simple command of a line (split at `;`, `&&`, `||`, `|`, `&`), comments and `[ ]` of a synopsis left out. */
function simpleCommands(line: string): string[][] {
  return line
    .replace(/\s#.*$/, '')
    .split(/\s*(?:&&|\|\||[;|&])\s*/)
    .map((part) => part.split(/\s+/).map((word) => word.replace(/^\[|\]$/g, '')).filter((word) => word !== ''))
    .filter((words) => words.length > 0);
}

/** The problems of one shown command line; empty when it is one a reader can type as shown. */
export function shownCommandProblems(line: string, context: ShownContext): string[] {
  const problems: string[] = [];
  for (let words of simpleCommands(line)) {
    while (words[0] === 'sudo' || words[0] === 'nice' || words[0] === 'wait') words = words.slice(1);
    const [program, first] = words;
    if (program === undefined || program === 'export') continue;
    if (program === 'chemflow') problems.push(...chemflowProblems(words.slice(1), context.cli));
    else if (program === 'npx' && first === 'chemflow') problems.push(...chemflowProblems(words.slice(2), context.cli));
    else if (program === 'node' && first === './bin/chemflow.js') problems.push(...chemflowProblems(words.slice(2), context.cli));
    else if (program === 'npm') problems.push(...npmProblems(words.slice(1), context.scripts));
    else if ((program === 'node' || (program === 'npx' && first === 'tsx')) && words.length > 1) {
      const file = program === 'node' ? first : words[2];
      if (file !== undefined && !file.startsWith('-') && !context.exists(file)) problems.push(`${program} runs ${file}, which does not exist`);
    }
  }
  return problems;
}

/** Options of chemflow's own that take a value (the word after them is not the command). */
const GLOBAL_WITH_VALUE = new Set(['--db', '--blob-dir', '--work-dir']);

function chemflowProblems(args: readonly string[], cli: CliShape): string[] {
  const path: string[] = [];
  let i = 0;
  for (; i < args.length; i++) {
    const word = args[i] as string;
    if (word.startsWith('-')) {
      if (GLOBAL_WITH_VALUE.has(word)) i++;
      continue;
    }
    if (cli.commands.has([...path, word].join(' '))) path.push(word);
    else break;
  }
  const next = args[i];
  // A synopsis names the command as a placeholder: then only chemflow's own options are known.
  const placeholder = path.length === 0 && next !== undefined && /^<.+>$/.test(next);
  if (path.length === 0 && !placeholder) return [`chemflow has no command ${JSON.stringify(next ?? '')}`];
  const command = path.join(' ');
  const options = cli.commands.get(command) ?? new Set<string>();
  return args
    .filter((word) => word.startsWith('--'))
    .map((word) => word.replace(/=.*$/, ''))
    .filter((option) => !options.has(option) && !cli.globalOptions.has(option))
    .map((option) => (placeholder ? `chemflow has no option ${option}` : `chemflow ${command} has no option ${option}`));
}

function npmProblems(args: readonly string[], scripts: ReadonlySet<string>): string[] {
  const [verb, name] = args;
  const script = verb === 'run' || verb === 'run-script' ? name : verb === 'start' || verb === 'test' ? verb : undefined;
  if (script === undefined) return [];
  return scripts.has(script) ? [] : [`package.json has no script ${JSON.stringify(script)}`];
}
