import { realpath } from 'node:fs/promises';
import { dirname, isAbsolute, normalize, relative, resolve, sep } from 'node:path';
import { ValidationError } from '../core/error-class.js';

/**
 * The directory a step's relative output paths are resolved against: the flow file's directory
 * (`baseDir`), unless that lies inside an installed package (a `node_modules` directory), which is not
 * the user's to write into and is replaced by the next install: then the current working directory.
 */
export function outputBaseDir(baseDir: string, cwd: string = process.cwd()): string {
  return resolve(baseDir).split(sep).includes('node_modules') ? resolve(cwd) : resolve(baseDir);
}

/** The opt-in a flow gives to let an output directory lead outside its base directory. */
export const ALLOW_OUTSIDE = 'allowOutside';

/**
 * Why `outDir` leaves whatever directory it is resolved against (it is absolute, or climbs out with
 * `..`), or `undefined` when it stays inside: decided from the text alone, so a flow file is refused
 * when it is loaded, before anything runs.
 */
export function outDirLeavesBase(outDir: string): string | undefined {
  if (isAbsolute(outDir)) return 'is an absolute path';
  const normalized = normalize(outDir);
  if (normalized === '..' || normalized.startsWith(`..${sep}`)) return 'leads out with ".."';
  return undefined;
}

/**
 * Resolves `outDir` against `base` and, without the opt-in, refuses a directory outside it, symbolic
 * links followed (an `out` that links to another tree is outside): a flow file from someone else must
 * not write over the reader's files.
 */
export async function resolveOutDir(base: string, outDir: string, allowOutside: boolean): Promise<string> {
  const dir = resolve(base, outDir);
  if (allowOutside) return dir;
  const realBase = await realpathOfNearest(base);
  const realDir = await realpathOfNearest(dir);
  const inside = relative(realBase, realDir);
  if (inside === '' || (!isAbsolute(inside) && inside !== '..' && !inside.startsWith(`..${sep}`))) return dir;
  throw new ValidationError(
    `outDir ${JSON.stringify(outDir)} resolves to ${realDir}, outside ${realBase}; set ${ALLOW_OUTSIDE}: true on the step to write there`,
    { code: 'OUTDIR_OUTSIDE', details: { outDir, resolved: realDir, base: realBase } },
  );
}

/** `path` with its nearest existing ancestor's symbolic links resolved (the rest does not exist yet). */
async function realpathOfNearest(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch (error) {
    const parent = dirname(path);
    const code = (error as NodeJS.ErrnoException).code;
    // ENOTDIR: a file where a directory should be; mkdir then fails with REPORT_UNWRITABLE.
    if ((code !== 'ENOENT' && code !== 'ENOTDIR') || parent === path) throw error;
    return resolve(await realpathOfNearest(parent), relative(parent, path));
  }
}
