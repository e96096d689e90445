import { join, resolve } from 'node:path';
import { defaultWorkRoot } from '../runtime/command/work-dir.js';
import { storeLocationKind } from '../stores/store-location.js';
import type { CommandContext } from './context.js';

/**
 * Where command steps make their attempts' directories: `--work-dir`, else `CHEMFLOW_WORK_DIR`, else
 * the embedded database's `work/` (beside its `blobs/`), else (memory, PostgreSQL) `<tmp>/chemflow-work`.
 */
export function workRootOf(ctx: Pick<CommandContext, 'db' | 'workDir' | 'io'>): string {
  if (ctx.workDir !== undefined) return resolve(ctx.io.cwd, ctx.workDir);
  if (storeLocationKind(ctx.db) === 'pglite-directory') return join(resolve(ctx.io.cwd, ctx.db), 'work');
  return defaultWorkRoot();
}

/** `--work-dir`, else `CHEMFLOW_WORK_DIR`, else none. */
export function resolveWorkDirOption(option: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (option !== undefined && option !== '') return option;
  const fromEnv = env.CHEMFLOW_WORK_DIR;
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : undefined;
}
