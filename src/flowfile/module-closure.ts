import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, extname, relative, resolve, sep } from 'node:path';
import type { Plugin } from 'esbuild';
import { hashCanonical } from '../core/hash.js';

/** Extensions esbuild parses for imports: any other imported file is hashed as it is, not read for imports. */
const PARSED = new Set(['.js', '.mjs', '.cjs', '.jsx', '.ts', '.mts', '.cts', '.tsx', '.json', '.txt', '.css']);

/** Reads a file esbuild has no loader for (`.node`, `.wasm`, ...) as empty: it is in the closure, hashed from disk. */
const OPAQUE_FILES: Plugin = {
  name: 'chemflow-opaque-files',
  setup(build) {
    build.onLoad({ filter: /.*/ }, (args) => (PARSED.has(extname(args.path).toLowerCase()) ? undefined : { contents: '', loader: 'empty' }));
  },
};

/** A module's local import closure could not be listed (a file esbuild cannot parse or resolve). */
export class ModuleClosureError extends Error {
  readonly code = 'MODULE_CLOSURE';
}

/**
 * The files of the project a step module loads: the module itself and, recursively, every file it
 * imports by a relative or absolute path (static `import`, `export … from`, `require()`, and `import()`
 * of a literal path), as paths relative to the module's directory with `/` separators, sorted.
 * Packages (bare specifiers, resolved in `node_modules`) and Node's built-ins are not followed.
 * esbuild (the parser behind `tsx`, which loads TypeScript step modules) lists them, so TypeScript, JSX
 * and CommonJS are read as they are loaded.
 */
export async function moduleClosure(file: string): Promise<string[]> {
  const { build } = await import('esbuild');
  const dir = dirname(file);
  try {
    const result = await build({
      entryPoints: [file],
      absWorkingDir: dir,
      bundle: true,
      write: false,
      metafile: true,
      packages: 'external',
      platform: 'node',
      format: 'esm',
      target: 'esnext',
      logLevel: 'silent',
      plugins: [OPAQUE_FILES],
    });
    // The metafile names inputs relative to the working directory, the module's own.
    return Object.keys(result.metafile.inputs)
      .map((input) => relative(dir, resolve(dir, input)).split(sep).join('/'))
      .sort();
  } catch (error) {
    const errors = (error as { errors?: { text: string; location?: { file: string; line: number } | null }[] }).errors ?? [];
    const first = errors[0];
    const where = first?.location ? ` (${first.location.file}:${first.location.line})` : '';
    throw new ModuleClosureError(first ? `${first.text}${where}` : (error as Error).message, { cause: error });
  }
}

/**
 * The hash of a step module's code for its cache key: SHA-256 of the canonical JSON of its import
 * closure (`moduleClosure`), each file as `[path, SHA-256 of its bytes]`. Editing the module or any
 * project file it imports changes it; two projects with the same module file and different helpers get
 * different keys. The contents of packages in `node_modules` are not in it.
 */
export async function moduleClosureHash(file: string): Promise<string> {
  const dir = dirname(file);
  const files = await moduleClosure(file);
  const hashed = await Promise.all(
    files.map(async (path) => [path, createHash('sha256').update(await readFile(resolve(dir, path))).digest('hex')] as const),
  );
  return hashCanonical(hashed);
}
