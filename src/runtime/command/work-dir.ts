import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ShardPosition } from '../../core/definition.js';

/** Where command steps make their attempts' directories when nothing else is said: `<tmp>/chemflow-work`. */
export function defaultWorkRoot(): string {
  return join(tmpdir(), 'chemflow-work');
}

/**
 * A new directory for one attempt: `<workRoot>/<flowId>/<stepId>/<attempt>-<random>/` (a mapped step's
 * shard: `<stepId>/shard-<i>/...`). Never reused: an attempt after a crashed worker, whose orphaned
 * command may still be writing in its own directory, gets another one. `in/` holds the staged inputs,
 * `tmp/` is the command's TMPDIR and `.chemflow/` its logs and script.
 */
export async function makeAttemptDir(workRoot: string, where: { flowId: string; stepId: string; attempt: number; shard?: ShardPosition | undefined }): Promise<string> {
  const stepDir = where.shard === undefined ? join(workRoot, where.flowId, where.stepId) : join(workRoot, where.flowId, where.stepId, `shard-${where.shard.index}`);
  const dir = join(stepDir, `${where.attempt}-${randomBytes(4).toString('hex')}`);
  await mkdir(dir, { recursive: true });
  await Promise.all(['in', 'tmp', '.chemflow'].map((sub) => mkdir(join(dir, sub), { recursive: true })));
  return dir;
}
