// `chemflow gc` on an embedded store: the chunks of a batch written by an attempt that then failed are
// removed once old enough; the chunks of stored batches stay, and a later step still reads them.
import { readdir, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E_TIMEOUT_MS, ensureBuilt, workspace, type Workspace } from './support/cli.js';

const FLOW = `name: gc
retry: { maxRetries: 0 }
steps:
  - { id: rows, uses: ./steps/rows.mjs }
  - { id: gated, uses: ./steps/gated-sum.mjs }
`;

const STEPS = {
  // 25,000 rows: three chunks of at most 10,000.
  'steps/rows.mjs': `export default {
  kind: 'source',
  streaming: true,
  async run(ctx) {
    const out = ctx.batch('rows', { rowsField: 'rows', header: { of: 'numbers' } });
    for (let i = 0; i < 25000; i++) await out.push({ i });
    return { outputs: [await out.close()] };
  },
};
`,
  // Writes a batch of its own first, then fails for good until open.marker exists: its chunks are then named by nothing.
  'steps/gated-sum.mjs': `import { existsSync } from 'node:fs';
import { join } from 'node:path';
export default {
  kind: 'transform',
  streaming: true,
  async run(ctx) {
    let sum = 0;
    const out = ctx.batch('doubled', { rowsField: 'rows', header: { attempt: ctx.attempt } });
    for await (const row of ctx.input[0].rows()) { sum += row.i; await out.push({ j: row.i * 2 }); }
    const doubled = await out.close();
    if (!existsSync(join(ctx.baseDir, 'open.marker'))) {
      const error = new Error('closed');
      error.errorClass = 'Permanent';
      throw error;
    }
    return { outputs: [{ kind: 'sum', payload: { sum } }, doubled] };
  },
};
`,
};

interface GcJson {
  blobs: string[];
  tempFiles: string[];
  dryRun: boolean;
}

async function blobFiles(db: string): Promise<string[]> {
  const root = join(db, 'blobs', 'sha256');
  const files: string[] = [];
  for (const fan of await readdir(root)) for (const name of await readdir(join(root, fan))) files.push(join(root, fan, name));
  return files.sort();
}

describe('chemflow gc', () => {
  let ws: Workspace;
  beforeAll(async () => {
    await ensureBuilt();
    ws = await workspace();
    await ws.write('flow.yaml', FLOW);
    for (const [path, text] of Object.entries(STEPS)) await ws.write(path, text);
  }, E2E_TIMEOUT_MS);
  afterAll(() => ws?.remove());

  it(
    'removes only the chunks no artifact names, and only once they are an hour old',
    async () => {
      const run = await ws.json<{ flowId: string; status: string }>('run', 'flow.yaml');
      expect(run.status).toBe('failed');
      const all = await blobFiles(ws.db);
      expect(all.length).toBe(6); // 3 chunks of `rows` (named) and 3 of the failed attempt's batch

      // Young blobs are kept: an attempt still running may not have recorded them yet.
      expect((await ws.json<GcJson>('gc', '--dry-run')).blobs).toEqual([]);

      const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
      for (const file of all) await utimes(file, twoHoursAgo, twoHoursAgo);
      const preview = await ws.json<GcJson>('gc', '--dry-run');
      expect(preview.dryRun).toBe(true);
      expect(preview.blobs).toHaveLength(3);
      expect(await blobFiles(ws.db)).toEqual(all);

      const removed = await ws.json<GcJson>('gc');
      expect(removed.blobs.sort()).toEqual(preview.blobs.sort());
      const left = await blobFiles(ws.db);
      expect(left).toHaveLength(3);
      expect(left.some((file) => removed.blobs.some((hash) => file.endsWith(hash)))).toBe(false);
      expect((await ws.json<GcJson>('gc')).blobs).toEqual([]);

      // The stored batch is whole: the step retried after gc reads all 25,000 rows of it.
      await ws.write('open.marker', '');
      const retried = await ws.cli('retry', run.flowId, 'gated', '--max-retries', '1');
      expect(retried.code, retried.stderr).toBe(0);
      const resumed = await ws.json<{ status: string }>('resume', run.flowId, '--flow', 'flow.yaml');
      expect(resumed.status).toBe('completed');
    },
    E2E_TIMEOUT_MS,
  );
});
