// Helpers for the flow queue's e2e tests: CLI processes that run in the background and are
// killed on purpose, PostgreSQL schemas of their own, and the log of every step's side effects.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { adminQuery, TEST_PG_URL } from '../../helpers/pg.js';
import { spawnCli } from './cli.js';

/** A CLI process in the background: its output so far, and how it ended. */
export interface Background {
  child: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
  /** Signals the process itself (never a group or a name); a no-op once it exited. */
  kill(signal: NodeJS.Signals): void;
}

/** Starts `chemflow ...args` in `cwd`; it is killed after `limitMs` if still running (a test bug). */
export function background(args: readonly string[], cwd: string, limitMs = 300_000): Background {
  const child = spawnCli(args, { cwd });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  let done = false;
  const exited = new Promise<number | null>((resolve) => {
    child.on('close', (code, signal) => {
      done = true;
      clearTimeout(timer);
      resolve(code ?? (signal === null ? null : -1));
    });
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
  return {
    child,
    pid: child.pid ?? 0,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    kill: (signal) => {
      if (!done) child.kill(signal);
    },
  };
}

/** Polls `check` every `everyMs` until it returns a value other than undefined/false. */
export async function waitUntil<T>(check: () => T | Promise<T>, what: string, timeoutMs = 60_000, everyMs = 100): Promise<Exclude<T, false | undefined>> {
  const start = Date.now();
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value as Exclude<T, false | undefined>;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export const fileExists = (path: string) => (): boolean => existsSync(path);

/** A PostgreSQL schema of the test's own, and the `--db` URL that puts chemflow in it. */
export interface PgDb {
  schema: string;
  url: string;
  drop: () => Promise<void>;
}

export async function createPgDb(label: string): Promise<PgDb> {
  const schema = `cf_${label}_${randomBytes(5).toString('hex')}`;
  await adminQuery(`CREATE SCHEMA ${schema}`);
  return {
    schema,
    url: `${TEST_PG_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`,
    drop: async () => {
      await adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
  };
}

export interface EventRow {
  flow_id: string;
  version: number;
  event_type: string;
  payload: { stepId?: string; attempt?: number; errorClass?: string; error?: { code: string }; flowFingerprint?: string };
}

/** Every event of the schema (or of one flow), by flow then version, read with plain SQL. */
export function eventRows(schema: string, flowId?: string): Promise<EventRow[]> {
  return adminQuery<EventRow>(
    `SELECT flow_id::text AS flow_id, version, event_type, payload FROM ${schema}.event_log
     WHERE $1::uuid IS NULL OR flow_id = $1::uuid ORDER BY flow_id, version`,
    [flowId ?? null],
  );
}

export interface ErrorRow {
  flow_id: string;
  step_id: string;
  attempt_number: number;
  error_class: string;
  error_code: string | null;
}

export function errorRows(schema: string, flowId?: string): Promise<ErrorRow[]> {
  return adminQuery<ErrorRow>(
    `SELECT flow_id::text AS flow_id, step_id, attempt_number, error_class, details->>'error_code' AS error_code
     FROM ${schema}.step_execution_errors WHERE $1::uuid IS NULL OR flow_id = $1::uuid ORDER BY flow_id, id`,
    [flowId ?? null],
  );
}

/**
 * Step modules that record their side effects: each attempt appends `flowId stepId attempt pid start ms`
 * when it begins and `... end ms` when it returns, to executions.log beside the flow file. `busy` fails
 * Transient on its first attempt. `spin` computes for `ms` without yielding. `hold` writes `started-<flowId>-<attempt>.marker` and waits for
 * `release.marker`, honouring `ctx.signal`.
 */
export const RECORDING_STEPS = `import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
const log = (ctx, what) =>
  appendFileSync(join(ctx.baseDir, 'executions.log'), \`\${ctx.flowId} \${ctx.stepId} \${ctx.attempt} \${process.pid} \${what} \${Date.now()}\\n\`);
const sleep = (ms, signal) => new Promise((resolve, reject) => {
  const timer = setTimeout(resolve, ms);
  signal?.addEventListener('abort', () => { clearTimeout(timer); reject(signal.reason); }, { once: true });
});
export const source = {
  kind: 'source',
  run(ctx) {
    log(ctx, 'start');
    log(ctx, 'end');
    return { outputs: [{ kind: 'number', payload: { n: ctx.params.n ?? 1 } }] };
  },
};
export const increment = {
  kind: 'transform',
  async run(ctx) {
    log(ctx, 'start');
    await sleep(ctx.params.ms ?? 5, ctx.signal);
    log(ctx, 'end');
    return { outputs: [{ kind: 'number', payload: { n: ctx.input[0].payload.n + 1 } }] };
  },
};
export const busy = {
  kind: 'transform',
  run(ctx) {
    log(ctx, 'start');
    if (ctx.attempt === 1) throw Object.assign(new Error('upstream busy'), { errorClass: 'Transient', code: 'BUSY' });
    log(ctx, 'end');
    return { outputs: [{ kind: 'number', payload: { n: ctx.input[0].payload.n } }] };
  },
};
// Computes for ctx.params.ms without yielding (as RDKit does): the event loop of its thread is blocked.
export const spin = {
  kind: 'transform',
  run(ctx) {
    log(ctx, 'start');
    for (const until = Date.now() + (ctx.params.ms ?? 1000); Date.now() < until; );
    log(ctx, 'end');
    return { outputs: [{ kind: 'number', payload: { n: ctx.input[0].payload.n + 1 } }] };
  },
};
export const hold = {
  kind: 'transform',
  async run(ctx) {
    log(ctx, 'start');
    writeFileSync(join(ctx.baseDir, \`started-\${ctx.flowId}-\${ctx.attempt}.marker\`), String(process.pid));
    while (!existsSync(join(ctx.baseDir, 'release.marker'))) await sleep(50, ctx.signal);
    log(ctx, 'end');
    return { outputs: [{ kind: 'number', payload: { n: ctx.input[0].payload.n } }] };
  },
};
`;

export interface Execution {
  flowId: string;
  stepId: string;
  attempt: number;
  pid: number;
  what: 'start' | 'end';
  at: number;
}

export async function readExecutions(dir: string): Promise<Execution[]> {
  const path = join(dir, 'executions.log');
  if (!existsSync(path)) return [];
  return (await readFile(path, 'utf8'))
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line) => {
      const [flowId = '', stepId = '', attempt = '', pid = '', what = '', at = ''] = line.split(' ');
      return { flowId, stepId, attempt: Number(attempt), pid: Number(pid), what: what as 'start' | 'end', at: Number(at) };
    });
}

/** JSON Lines printed by `chemflow worker --json`. */
export interface WorkerLine {
  flowId: string;
  outcome: string;
  status: string | null;
  flowFingerprint: string | null;
  error: string | null;
}

export function workerLines(stdout: string): WorkerLine[] {
  return stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as WorkerLine);
}
