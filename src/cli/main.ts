import { CommanderError } from 'commander';
import { isStoreOutage } from '../core/errors.js';
import { EXIT, UsageError, type ExitCode } from './cli-error.js';
import { errorDocument, escapedLines, explanation, type ErrorDocument } from './explain.js';
import { processIo, type CliIo } from './io.js';
import { buildProgram } from './program.js';

export { errorDocument, explain, type ErrorDocument } from './explain.js';

/** Runs the `chemflow` command line (`argv` as in `process.argv`) and returns its exit code. */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<ExitCode> {
  const program = buildProgram(io);
  try {
    await program.command.parseAsync([...argv]);
    return program.exitCode();
  } catch (error) {
    // Before its action ran, a command's --json is only known from the command line.
    const json = program.json() ?? jsonAsked(argv);
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return EXIT.ok;
      // Commander has already said it on stderr; a script gets the same words as a document.
      if (json) writeErrorDocument(io, { error: { code: UsageError.code, message: error.message.replace(/^error: /, ''), next: USAGE_HINT } });
      return EXIT.usage;
    }
    const lines = explanation(error, io.env);
    io.stderr.write(escapedLines(lines));
    if (json) writeErrorDocument(io, errorDocument(error, lines));
    return isStoreOutage(error) ? EXIT.store : EXIT.usage;
  }
}

/** Commander's own hint after a usage error (`showHelpAfterError`), also the `next` of its documents. */
const USAGE_HINT = 'run `chemflow --help` for usage';

function writeErrorDocument(io: CliIo, document: ErrorDocument): void {
  // One line: a document of its own, and a valid line of `worker --json`'s JSON Lines too.
  io.stdout.write(`${JSON.stringify(document)}\n`);
}

/** Is `--json` among the options of the command line (arguments after `--` are operands)? */
function jsonAsked(argv: readonly string[]): boolean {
  const end = argv.indexOf('--', 2);
  return argv.slice(2, end === -1 ? undefined : end).includes('--json');
}

