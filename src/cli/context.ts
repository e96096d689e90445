import type { StepModule } from '../core/definition.js';
import type { FlowStore } from '../stores/flow-store.js';
import type { LoadedFlowFile } from '../flowfile/index.js';
import type { CliIo } from './io.js';

/** What every command gets: where to write, and the database location chosen by `--db`. */
export interface CommandContext {
  io: CliIo;
  db: string;
  /** `--blob-dir`, else `CHEMFLOW_BLOB_DIR`: where the bytes of batch and file artifacts go (none: the store's own place). */
  blobDir?: string | undefined;
  /** `--work-dir`, else `CHEMFLOW_WORK_DIR`: where command steps make their attempts' directories (see `workRootOf`). */
  workDir?: string | undefined;
  /** An already open store to use instead of opening `db` (programs embedding the CLI, tests); never closed here. */
  store?: FlowStore;
}

export interface OutputOptions {
  json?: boolean;
}

/** Writes one JSON document (the only thing `--json` puts on stdout). */
export function printJson(ctx: CommandContext, value: unknown): void {
  ctx.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

let builtins: Promise<Readonly<Record<string, StepModule>>> | undefined;

/**
 * The built-in step types (`chem/...`), loaded once and only by commands that load a flow file, so
 * read commands never pay for them. Imported by name at run time: an installation without
 * `steps/builtin.js` still runs user step modules.
 */
export function builtinSteps(): Promise<Readonly<Record<string, StepModule>>> {
  builtins ??= (async () => {
    const specifier = '../steps/builtin.js';
    try {
      return ((await import(specifier)) as { BUILTIN_STEPS: Record<string, StepModule> }).BUILTIN_STEPS;
    } catch (error) {
      const missing = (error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND';
      if (missing && String((error as Error).message).includes('steps/builtin.js')) return {};
      throw error;
    }
  })();
  return builtins;
}

/**
 * Loads and fully validates a flow file (before any database is touched). The reader (YAML, the flow
 * file schema) is loaded here, so commands that read no flow file do not pay for it.
 */
export async function loadFlow(ctx: CommandContext, file: string): Promise<LoadedFlowFile> {
  const { loadFlowFile } = await import('../flowfile/index.js');
  return loadFlowFile(file, { builtins: await builtinSteps(), cwd: ctx.io.cwd });
}
