import { extname } from 'node:path';
import { pathToFileURL } from 'node:url';

const TS_EXTENSIONS = new Set(['.ts', '.mts', '.cts']);
const JS_EXTENSIONS = new Set(['.js', '.mjs', '.cjs']);

/** The extensions a step module may have (lower case, with the dot). */
export function isModuleExtension(extension: string): boolean {
  return TS_EXTENSIONS.has(extension) || JS_EXTENSIONS.has(extension);
}

/**
 * Imports a step module file and returns its exports. TypeScript goes through `tsx`, imported here and
 * only here: a program that never loads a `.ts` step module (or only imports the library) never
 * pays for it.
 */
export async function importModule(file: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(file).href;
  if (!TS_EXTENSIONS.has(extname(file).toLowerCase())) return unwrapCommonJs((await import(url)) as Record<string, unknown>);
  const { tsImport } = await import('tsx/esm/api');
  return unwrapCommonJs((await tsImport(url, import.meta.url)) as Record<string, unknown>);
}

/**
 * A module compiled to CommonJS from ECMAScript syntax (TypeScript in a CommonJS project, a `.cts`, a
 * Babel build) marks its `module.exports` with `__esModule`, and Node hands that whole object over as
 * the default export: `{ default: { default: step, named } }`. Its exports are that object's.
 */
export function unwrapCommonJs(namespace: Record<string, unknown>): Record<string, unknown> {
  const inner = namespace.default;
  if (typeof inner === 'object' && inner !== null && (inner as { __esModule?: unknown }).__esModule === true)
    return inner as Record<string, unknown>;
  return namespace;
}
