import type { StepModule } from '../core/definition.js';
import { loadFlowFile, type LoadedFlowFile } from '../flowfile/index.js';
import type { CliIo } from './io.js';

/** What every command gets: where to write, and the database location chosen by `--db`. */
export interface CommandContext {
  io: CliIo;
  db: string;
}

export interface OutputOptions {
  json?: boolean;
}

/** Writes one JSON document (the only thing `--json` puts on stdout). */
export function printJson(ctx: CommandContext, value: unknown): void {
  ctx.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

let builtins: Promise<Readonly<Record<string, StepModule>>> | undefined;

/** The built-in step types (`chem/...`), loaded once: they pull in RDKit only when a step runs. */
export function builtinSteps(): Promise<Readonly<Record<string, StepModule>>> {
  builtins ??= (async () => {
    const specifier = '../steps/builtin.js';
    try {
      return ((await import(specifier)) as { BUILTIN_STEPS: Record<string, StepModule> }).BUILTIN_STEPS;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return {};
      throw error;
    }
  })();
  return builtins;
}

/** Loads and fully validates a flow file (before any database is touched). */
export async function loadFlow(ctx: CommandContext, file: string): Promise<LoadedFlowFile> {
  return loadFlowFile(file, { builtins: await builtinSteps(), cwd: ctx.io.cwd });
}
