// The heaviest test of the command steps: a 500 MB output file on PostgreSQL with a --blob-dir
// (writing 500 MB of random bytes, hashing them and storing them as a blob: about 4 s on a 2-core
// machine, 5 s with the CLI's start-up). Alone in its file, so that it never shares a time budget.
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isFileArtifact } from '../../src/core/artifact.js';
import { adminQuery, createTestSchema, describeWithPg, type TestSchema } from '../helpers/pg.js';
import { chemflow, ensureBuilt, ROOT, type Workspace, workspace } from './support/cli.js';

const SIZE_MB = 500;
const SIZE = SIZE_MB * 1024 * 1024;

const BIG_FLOW = `name: big-output
steps:
  - id: write
    command: ["dd", "if=/dev/urandom", "of={out.big}", "bs=1048576", "count=${SIZE_MB}", "status=none"]
    outputs: { big: { path: big.bin, kind: data/bytes } }
    timeoutMs: 300000
`;

/** Bytes of every table, index and TOAST relation of the schema: where an artifact's bytes would land. */
async function schemaBytes(schema: string): Promise<number> {
  const [row] = await adminQuery<{ bytes: string | null }>(
    `SELECT sum(pg_total_relation_size(c.oid))::text AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relkind IN ('r', 'm')`,
    [schema],
  );
  return Number(row?.bytes ?? 0);
}

async function databaseBytes(): Promise<number> {
  const [row] = await adminQuery<{ bytes: string }>('SELECT pg_database_size(current_database())::text AS bytes');
  return Number(row?.bytes ?? 0);
}

/** kB of a /proc/<pid>/status field (VmHWM: the peak resident set so far; VmRSS: now). */
function procKb(pid: number, field: 'VmHWM' | 'VmRSS'): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined; // gone
  }
}

describeWithPg('a 500 MB command output on PostgreSQL with --blob-dir', () => {
  let schema: TestSchema;
  let ws: Workspace;
  beforeAll(async () => {
    await ensureBuilt();
    schema = await createTestSchema('bigout');
    ws = await workspace();
    await ws.write('big.yaml', BIG_FLOW);
  }, 180_000);
  afterAll(async () => {
    await schema?.drop();
    await ws?.remove();
  });

  it(`never enters the database and is streamed: the worker's peak RSS stays far below ${SIZE_MB} MB`, { timeout: 240_000 }, async () => {
    const blobDir = join(ws.dir, 'blobs');
    const global = ['--db', schema.url, '--blob-dir', blobDir, '--work-dir', join(ws.dir, 'work')];
    const submitted = await chemflow([...global, 'submit', 'big.yaml'], { cwd: ws.dir });
    expect(submitted.code, submitted.stderr).toBe(0);
    const flowId = submitted.stdout.trim();
    const before = { schema: await schemaBytes(schema.name), database: await databaseBytes() };

    const started = Date.now();
    const worker = spawn(process.execPath, [join(ROOT, 'bin', 'chemflow.js'), ...global, 'worker', '--once', '--json'], {
      cwd: ws.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    worker.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    worker.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const pid = worker.pid as number;
    let peakKb = 0;
    const sampler = setInterval(() => (peakKb = Math.max(peakKb, procKb(pid, 'VmHWM') ?? 0)), 50);
    const code = await new Promise<number | null>((resolve) => worker.on('close', resolve));
    clearInterval(sampler);
    const seconds = (Date.now() - started) / 1000;
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout.trim())).toMatchObject({ flowId, outcome: 'completed' });

    // The file artifact: its bytes in the blob directory, its hash and size in the database.
    const store = await schema.openStore({ blobDir });
    let artifactHash: string;
    try {
      const finished = (await store.list(flowId)).find((e) => e.type === 'StepFinished');
      if (finished?.type !== 'StepFinished') throw new Error('the step never finished');
      const [artifact] = await store.getArtifacts(finished.outputs.slice(0, 1));
      if (artifact === undefined || !isFileArtifact(artifact)) throw new Error(`expected a file artifact, got ${JSON.stringify(artifact)}`);
      expect(artifact.size).toBe(SIZE);
      artifactHash = artifact.hash;
    } finally {
      await store.close();
    }
    expect(statSync(join(blobDir, 'sha256', artifactHash.slice(0, 2), artifactHash)).size).toBe(SIZE);

    const after = { schema: await schemaBytes(schema.name), database: await databaseBytes() };
    const grown = { schema: after.schema - before.schema, database: after.database - before.database };
    const peakMb = peakKb / 1024;
    console.log(
      `500 MB output: ${seconds.toFixed(1)} s; worker peak RSS ${peakMb.toFixed(0)} MB; ` +
        `schema +${(grown.schema / 1024).toFixed(0)} kB, database +${(grown.database / 1024 / 1024).toFixed(1)} MB (shared with other tests)`,
    );
    // The schema's rows grew by a few events and one artifact row, not by the file (random bytes: TOAST could not shrink it).
    expect(grown.schema).toBeLessThan(2 * 1024 * 1024);
    // The whole database is shared with other test files running meanwhile: a loose bound, still far below the file.
    expect(grown.database).toBeLessThan(SIZE / 4);
    // Streamed: the worker never held the file (Node alone is ~60-120 MB resident).
    expect(peakMb).toBeGreaterThan(0);
    expect(peakMb).toBeLessThan(SIZE_MB / 2);
  });
});
