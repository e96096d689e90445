import { stat } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { STEP_KINDS, type StepModule } from '../core/definition.js';
import type { FlowFileProblem } from './flow-file-error.js';
import { importModule, isModuleExtension } from './import-module.js';
import { ModuleClosureError, moduleClosureHash } from './module-closure.js';

/** A problem with one step's `uses`, before it is placed in the file. */
export class StepModuleProblem extends Error {
  constructor(
    readonly problem: FlowFileProblem,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Is `uses` a module path (`./x.mjs`, `../x.ts#name`, `/abs/x.js`) rather than a built-in type name? */
export function isModulePath(uses: string): boolean {
  return uses.startsWith('./') || uses.startsWith('../') || uses.startsWith('/');
}

/**
 * Resolves a step's `uses`: a built-in step type, or a module path relative to the flow file's
 * directory with an optional `#exportName` (default export otherwise). Throws `StepModuleProblem`.
 */
export async function resolveStepModule(
  uses: string,
  baseDir: string,
  builtins: Readonly<Record<string, StepModule>>,
): Promise<StepModule> {
  if (!isModulePath(uses)) {
    const builtin = Object.hasOwn(builtins, uses) ? builtins[uses] : undefined;
    if (builtin === undefined) {
      const names = Object.keys(builtins).sort();
      // A file name without its leading `./` is the usual slip: say which file the fixed `uses` would load.
      const asModule = isModuleExtension(extname(splitUses(uses).modulePath).toLowerCase())
        ? `; as a module path: "./${uses}", the file ${resolve(baseDir, splitUses(uses).modulePath)}`
        : '';
      throw new StepModuleProblem(
        'unknown_step_type',
        `unknown step type ${JSON.stringify(uses)}; expected one of ${names.length ? names.join(', ') : '(no built-in steps)'}, or a module path starting with ./, ../ or /${asModule}`,
      );
    }
    return checkStepModule(builtin, uses);
  }
  const { modulePath, exportName } = splitUses(uses);
  if (exportName === '') throw new StepModuleProblem('export_not_found', `expected an export name after "#" in ${JSON.stringify(uses)}`);
  const file = resolve(baseDir, modulePath);
  const extension = extname(file).toLowerCase();
  if (!isModuleExtension(extension))
    throw new StepModuleProblem('module_not_found', `expected a .mjs, .js, .cjs, .ts, .mts or .cts module, got ${JSON.stringify(modulePath)}`);
  const isFile = await stat(file).then((s) => s.isFile(), () => false);
  if (!isFile) throw new StepModuleProblem('module_not_found', `module not found: ${file}`);
  let namespace: Record<string, unknown>;
  try {
    namespace = await importModule(file);
  } catch (error) {
    throw new StepModuleProblem('module_load_failed', `module ${file} failed to load: ${(error as Error).message ?? String(error)}`, {
      cause: error,
    });
  }
  if (!(exportName in namespace)) {
    const available = Object.keys(namespace).filter((k) => k !== '__esModule').sort();
    throw new StepModuleProblem(
      'export_not_found',
      `module ${modulePath} has no ${exportName === 'default' ? 'default export' : `export named ${JSON.stringify(exportName)}`}; it exports ${available.length ? available.join(', ') : 'nothing'}`,
    );
  }
  return checkStepModule(namespace[exportName], uses);
}

function splitUses(uses: string): { modulePath: string; exportName: string } {
  const hash = uses.indexOf('#');
  return { modulePath: hash === -1 ? uses : uses.slice(0, hash), exportName: hash === -1 ? 'default' : uses.slice(hash + 1) };
}

/**
 * The hash of a module-path step's code for its cache key: its own file and every project file it
 * imports (`moduleClosureHash`), so editing the module or a helper it imports invalidates its cache
 * entries even without a `version` bump. Undefined for a built-in step type, whose `version` is bumped
 * with chemflow. Throws `StepModuleProblem` when the imports cannot be listed.
 */
export async function moduleCodeHash(uses: string, baseDir: string): Promise<string | undefined> {
  if (!isModulePath(uses)) return undefined;
  const file = resolve(baseDir, splitUses(uses).modulePath);
  try {
    return await moduleClosureHash(file);
  } catch (error) {
    if (!(error instanceof ModuleClosureError)) throw error;
    throw new StepModuleProblem('module_load_failed', `cannot list the files module ${file} imports (for its cache key): ${error.message}`, { cause: error });
  }
}

/** Checks the public step module contract: `{kind, run, version?, parseParams?, notMappable?, cacheable?, cacheKey?, split?}`. */
export function checkStepModule(value: unknown, uses: string): StepModule {
  const bad = (what: string): never => {
    throw new StepModuleProblem('invalid_module', `${uses} is not a step module: ${what}`);
  };
  if (typeof value !== 'object' || value === null) return bad(`expected an object { kind, run }, got ${typeof value === 'object' ? 'null' : typeof value}`);
  const candidate = value as Record<string, unknown>;
  if (!(STEP_KINDS as readonly unknown[]).includes(candidate.kind))
    bad(`expected "kind" to be one of ${STEP_KINDS.map((k) => `'${k}'`).join(', ')}, got ${JSON.stringify(candidate.kind) ?? 'nothing'}`);
  if (typeof candidate.run !== 'function') bad(`expected "run" to be a function, got ${typeof candidate.run}`);
  if (candidate.version !== undefined && typeof candidate.version !== 'string')
    bad(`expected "version" to be a string when present, got ${typeof candidate.version}`);
  if (candidate.parseParams !== undefined && typeof candidate.parseParams !== 'function')
    bad(`expected "parseParams" to be a function when present, got ${typeof candidate.parseParams}`);
  if (candidate.notMappable !== undefined && typeof candidate.notMappable !== 'string')
    bad(`expected "notMappable" to be a string (the reason) when present, got ${typeof candidate.notMappable}`);
  if (candidate.cacheable !== undefined && typeof candidate.cacheable !== 'boolean')
    bad(`expected "cacheable" to be true or false when present, got ${typeof candidate.cacheable}`);
  if (candidate.cacheKey !== undefined && typeof candidate.cacheKey !== 'function')
    bad(`expected "cacheKey" to be a function when present, got ${typeof candidate.cacheKey}`);
  if (candidate.split !== undefined) {
    const split = candidate.split as Record<string, unknown> | null;
    if (candidate.kind !== 'source') bad('only a source declares "split" (its own split of work); other steps are split by their input');
    if (typeof split !== 'object' || split === null || typeof split.over !== 'string' || split.over === '' || typeof split.items !== 'function' || typeof split.combine !== 'function')
      bad('expected "split" to be { over: string, items: function, combine: function } when present');
  }
  return candidate as unknown as StepModule;
}
