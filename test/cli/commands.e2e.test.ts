// Command steps through the CLI: `chemflow logs`, two workers on PostgreSQL sharing a blob directory,
// and a worker SIGKILLed while its command runs (the attempt recovered as WORKER_LOST, in a fresh
// directory, while the orphan still runs).
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FlowEvent } from '../../src/core/events.js';
import { openStore } from '../../src/stores/open-store.js';
import { createTestSchema, describeWithPg, type TestSchema } from '../helpers/pg.js';
import { processAlive } from '../support/processes.js';
import { E2E_TIMEOUT_MS, ensureBuilt, waitUntil, workspace, type Workspace } from './support/cli.js';
import { afterLeaseExpiry, killLeftoverWorkers, SHORT_LEASE, startWorker } from './support/workers.js';

beforeAll(ensureBuilt, 180_000);
afterEach(killLeftoverWorkers);

const FLAKY = `name: flaky
retry: { maxRetries: 2, backoff: { kind: none } }
steps:
  - id: make
    command: ["sh", "-c", "echo 'CCO ethanol' > {out.smi}; echo made"]
    outputs: { smi: { path: mols.smi, kind: chem/smiles } }
  - id: count
    command: ["sh", "-c", "if [ \\"$CHEMFLOW_ATTEMPT\\" = 1 ]; then echo 'server busy' >&2; exit 75; fi; wc -l < {in.smi} | tee {out.n}; echo counted >&2"]
    outputs: { n: { path: n.txt, kind: text/plain } }
`;

describe('chemflow logs', () => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await workspace();
  });
  afterAll(() => ws.remove());

  it('prints the latest attempt’s stdout then stderr, an earlier one with --attempt, hashes and text with --json', async () => {
    await ws.write('flaky.yaml', FLAKY);
    const run = await ws.json<{ flowId: string; status: string }>('run', 'flaky.yaml');
    expect(run.status).toBe('completed');
    const latest = await ws.cli('logs', run.flowId, 'count');
    expect(latest.code, latest.stderr).toBe(0);
    expect(latest.stdout).toBe('==> stdout (attempt 2) <==\n1\n==> stderr (attempt 2) <==\ncounted\n');
    const first = await ws.cli('logs', run.flowId, 'count', '--attempt', '1');
    expect(first.stdout).toBe('==> stdout (attempt 1) <==\n==> stderr (attempt 1) <==\nserver busy\n');
    const json = await ws.json<{ attempt: number; logs: { stdout: string; stderrText: string }[] }>('logs', run.flowId, 'count', '--attempt', '1');
    expect(json).toMatchObject({ attempt: 1, logs: [{ shard: null, stderrText: 'server busy\n', stdout: expect.stringMatching(/^[0-9a-f]{64}$/) }] });
    const missing = await ws.cli('logs', run.flowId, 'count', '--attempt', '3');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no logs for attempt 3');
    // The failed attempt's directory is kept under the embedded database's work/; the rest are gone.
    const kept = await readdir(join(ws.db, 'work', run.flowId, 'count'));
    expect(kept).toEqual([expect.stringMatching(/^1-[0-9a-f]{8}$/)]);
    expect(await readdir(join(ws.db, 'work', run.flowId))).toEqual(['count']);
  }, E2E_TIMEOUT_MS);
});

describe('a worker asked to stop', () => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await workspace();
  });
  afterAll(() => ws.remove());

  it('stops its running command (SIGTERM to the group) and records the attempt as Transient WORKER_SHUTDOWN', async () => {
    await ws.write(
      'long.yaml',
      `name: long
retry: { maxRetries: 0 }
steps:
  - id: long
    command: ["sh", "-c", "echo $$ > pid; sleep 60 & wait"]
`,
    );
    const submitted = await ws.json<{ flowId: string }>('submit', 'long.yaml');
    const worker = startWorker(ws.db, ws.dir, ['--poll-ms', '20']);
    const stepDir = join(ws.db, 'work', submitted.flowId, 'long');
    let pid = 0;
    await waitUntil(async () => {
      const dirs = await readdir(stepDir).catch(() => []);
      pid = dirs[0] === undefined ? 0 : Number((await readFile(join(stepDir, dirs[0], 'pid'), 'utf8').catch(() => '')).trim());
      return pid > 0;
    }, 'the command to start');
    process.kill(worker.pid, 'SIGTERM');
    const end = await worker.exited;
    expect(end.code, end.stderr).toBe(0);
    expect(end.stderr).toContain('Stopping 1 running command(s).');
    expect(processAlive(pid)).toBe(false);
    const errors = await ws.json<{ errorClass: string; details: { error_code: string; signal: string } }[]>('errors', submitted.flowId);
    expect(errors).toMatchObject([{ errorClass: 'Transient', details: { error_code: 'WORKER_SHUTDOWN', signal: 'SIGTERM' } }]);
  }, E2E_TIMEOUT_MS);
});

describeWithPg('command steps with workers on PostgreSQL', () => {
  let schema: TestSchema;
  let ws: Workspace;
  let blobDir: string;
  let workDir: string;
  const saved = { blob: process.env.CHEMFLOW_BLOB_DIR, work: process.env.CHEMFLOW_WORK_DIR };
  beforeAll(async () => {
    schema = await createTestSchema('commands');
    ws = await workspace();
    blobDir = await mkdtemp(join(tmpdir(), 'chemflow-shared-blobs-'));
    workDir = await mkdtemp(join(tmpdir(), 'chemflow-shared-work-'));
    // Every CLI process of this file (workers included) shares the blob and work directories.
    process.env.CHEMFLOW_BLOB_DIR = blobDir;
    process.env.CHEMFLOW_WORK_DIR = workDir;
  });
  afterAll(async () => {
    process.env.CHEMFLOW_BLOB_DIR = saved.blob;
    process.env.CHEMFLOW_WORK_DIR = saved.work;
    if (saved.blob === undefined) delete process.env.CHEMFLOW_BLOB_DIR;
    if (saved.work === undefined) delete process.env.CHEMFLOW_WORK_DIR;
    await schema.drop();
    await ws.remove();
    await rm(blobDir, { recursive: true, force: true });
    await rm(workDir, { recursive: true, force: true });
  });

  async function submit(file: string): Promise<string> {
    const submitted = await ws.cli('--db', schema.url, 'submit', file, '--json');
    expect(submitted.code, submitted.stderr).toBe(0);
    return (JSON.parse(submitted.stdout) as { flowId: string }).flowId;
  }

  async function eventsOf(flowId: string): Promise<FlowEvent[]> {
    const store = await openStore(schema.url, { blobDir });
    try {
      return await store.list(flowId);
    } finally {
      await store.close();
    }
  }

  it('two workers with a shared --blob-dir run the command steps of several flows, each attempt recorded once', async () => {
    await ws.write('pair.yaml', FLAKY.replace('name: flaky', 'name: pair').replace(/if \[[^;]*; then[^;]*;[^;]*; fi; /, ''));
    const flowIds: string[] = [];
    for (let i = 0; i < 4; i++) flowIds.push(await submit('pair.yaml'));
    const workers = [0, 1].map(() => startWorker(schema.url, ws.dir, ['--once', '--poll-ms', '20', ...SHORT_LEASE]));
    const ends = await Promise.all(workers.map((w) => w.exited));
    for (const end of ends) expect(end.code, end.stderr).toBe(0);
    for (const flowId of flowIds) {
      const events = await eventsOf(flowId);
      expect(events.at(-1)?.type).toBe('FlowCompleted');
      const finished = events.filter((e) => e.type === 'StepFinished').map((e) => `${e.stepId}:${e.attempt}`);
      expect(finished).toEqual(['make:1', 'count:1']);
      expect(events.filter((e) => e.type === 'StepStarted')).toHaveLength(2);
      expect(events.filter((e) => e.type === 'StepFailed')).toHaveLength(0);
    }
  }, E2E_TIMEOUT_MS);

  it('recovers the command attempt of a SIGKILLed worker as WORKER_LOST, in a fresh directory, beside the orphan', async () => {
    await ws.write(
      'orphan.yaml',
      `name: orphan
retry: { maxRetries: 2, backoff: { kind: none } }
steps:
  - id: slow
    command: ["sh", "-c", "echo $$ > pid; if [ \\"$CHEMFLOW_ATTEMPT\\" = 1 ]; then sleep 30; fi; echo done > {out.f}"]
    outputs: { f: { path: f.txt, kind: text/plain } }
`,
    );
    const flowId = await submit('orphan.yaml');
    const worker = startWorker(schema.url, ws.dir, ['--once', '--poll-ms', '20', ...SHORT_LEASE]);
    const stepDir = join(workDir, flowId, 'slow');
    let orphan = 0;
    await waitUntil(async () => {
      const dirs = await readdir(stepDir).catch(() => []);
      orphan = dirs[0] === undefined ? 0 : Number((await readFile(join(stepDir, dirs[0], 'pid'), 'utf8').catch(() => '')).trim());
      return orphan > 0;
    }, 'the command to start');
    await worker.kill();
    expect(processAlive(orphan)).toBe(true); // its own process group: the worker's SIGKILL does not reach it
    try {
      await afterLeaseExpiry();
      const next = startWorker(schema.url, ws.dir, ['--once', '--poll-ms', '20', ...SHORT_LEASE]);
      const end = await next.exited;
      expect(end.code, end.stderr).toBe(0);
      const events = await eventsOf(flowId);
      expect(events.at(-1)?.type).toBe('FlowCompleted');
      const failed = events.filter((e) => e.type === 'StepFailed');
      expect(failed.map((e) => [e.attempt, e.errorClass, e.error.code])).toEqual([[1, 'Transient', 'WORKER_LOST']]);
      // Attempt 2 ran in a directory of its own (removed after its success); the orphan's is untouched.
      const dirs = await readdir(stepDir);
      expect(dirs).toEqual([expect.stringMatching(/^1-/)]);
    } finally {
      if (processAlive(orphan)) process.kill(-orphan, 'SIGKILL');
    }
  }, E2E_TIMEOUT_MS);
});
