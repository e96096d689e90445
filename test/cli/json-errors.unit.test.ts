// A failing command with --json prints one error document on stdout, in process (`main` with buffered
// streams): the same exit code and the same stderr as without --json.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, type ErrorDocument } from '../../src/cli/main.js';
import { openPgliteStore } from '../../src/stores/open-store.js';
import { artifactOf, flowCompleted, flowInitialized, stepFinished, stepStarted } from '../helpers/events.js';

let dir: string;
let db: string;
let completed: string;

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: readonly string[]): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  const io = { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) }, env: {}, cwd: dir };
  const code = await main(['node', 'chemflow', ...args], io);
  return { code, stdout, stderr };
}

/**
 * Runs `args` without and with --json: the exit code and stderr are the same, stdout is empty without
 * and exactly one error document (one line) with, whose message and hint are the stderr's.
 */
async function failing(args: readonly string[], expected: { exit: number; code: string }): Promise<ErrorDocument['error']> {
  const plain = await cli(args);
  const json = await cli([...args, '--json']);
  expect(plain.code, plain.stderr).toBe(expected.exit);
  expect(json.code).toBe(plain.code);
  expect(plain.stdout).toBe('');
  expect(json.stderr).toBe(plain.stderr);
  expect(json.stdout).toMatch(/^\{.*\}\n$/);
  const document = JSON.parse(json.stdout) as ErrorDocument;
  expect(Object.keys(document)).toEqual(['error']);
  expect(Object.keys(document.error)).toEqual(['code', 'message', 'next']);
  expect(document.error.code).toBe(expected.code);
  expect(typeof document.error.message).toBe('string');
  expect(document.error.message).not.toMatch(/^Error/);
  expect(plain.stderr).toContain(document.error.message.split('\n')[0]);
  if (document.error.next !== null) expect(plain.stderr).toContain(document.error.next);
  return document.error;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chemflow-json-errors-'));
  db = join(dir, 'db');
  const store = await openPgliteStore(db);
  try {
    completed = randomUUID();
    const outputs = [0, 1, 2].map((i) => artifactOf({ step: i }));
    await store.append(
      completed,
      0,
      [flowInitialized(), ...outputs.flatMap((a, i) => [stepStarted(i), stepFinished(i, [a.hash])]), flowCompleted()],
      { artifacts: outputs },
    );
  } finally {
    await store.close();
  }
  await writeFile(join(dir, 'bad.yaml'), 'name: x\nsteps:\n  - { id: seed, uses: ./nowhere.mjs }\n');
}, 120_000);
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('--json on a failing command', () => {
  it('usage errors found by the parser: unknown option, bad option value, missing argument, unknown command', async () => {
    const usage = { exit: 2, code: 'CLI_USAGE' };
    expect(await failing(['flows', '--bogus'], usage)).toEqual({
      code: 'CLI_USAGE',
      message: "unknown option '--bogus'",
      next: 'run `chemflow --help` for usage',
    });
    expect((await failing(['flows', '--limit', 'abc'], usage)).message).toMatch(/^option '--limit <n>' argument 'abc' is invalid/);
    expect((await failing(['status'], usage)).message).toBe("missing required argument 'flowId'");
    expect((await failing(['retry', randomUUID()], usage)).message).toBe("missing required argument 'stepId'");
    expect((await failing(['nope'], usage)).message).toBe("unknown command 'nope'");
  });

  it('usage errors of the commands themselves, and a database URL of another scheme', async () => {
    const prune = await failing(['--db', 'memory', 'cache', 'prune'], { exit: 2, code: 'CLI_USAGE' });
    expect(prune.message).toBe('cache prune needs --older-than, --step-type or --all');
    expect(prune.next).toMatch(/^pass `--older-than <date>`/);
    const scheme = await failing(['--db', 'postgress://u:secret@h/db', 'flows'], { exit: 2, code: 'CLI_USAGE' });
    expect(scheme.message).toBe('--db: unsupported database URL scheme "postgress://"');
    expect(scheme.next).toMatch(/Nothing was created\.$/);
  });

  it('a bad flow file, for run and submit: the problems in the message, the fix in next', async () => {
    for (const command of ['run', 'submit']) {
      const error = await failing(['--db', 'memory', command, 'bad.yaml'], { exit: 2, code: 'INVALID_FLOW_FILE' });
      expect(error.message).toMatch(/^Invalid flow file \(1 problem\):\nbad\.yaml:3:23: steps\[0\]\.uses: module not found: .*\nNothing was written\.$/);
      expect(error.next).toBe('fix the flow file and run the command again.');
    }
  });

  it('an unknown flow id, for every command that takes one', async () => {
    const id = randomUUID();
    for (const args of [
      ['status', id],
      ['events', id],
      ['errors', id],
      ['cancel', id],
      ['retry', id, 'load'],
      ['resume', id],
      ['queue', 'rebuild', id],
    ]) {
      const error = await failing(['--db', 'memory', ...args], { exit: 2, code: 'FLOW_NOT_FOUND' });
      expect(error.message, args.join(' ')).toBe(`No flow with id ${id}`);
      expect(error.next).toMatch(/^`chemflow flows` lists the flows/);
    }
  });

  it('a rejected retry and the cancel of a completed flow', async () => {
    const retry = await failing(['--db', db, 'retry', completed, 'load'], { exit: 2, code: 'RETRY_REJECTED' });
    expect(retry.message).toMatch(new RegExp(`^Retry of step load in flow ${completed} rejected \\(flow_completed\\)`));
    expect(retry.next).toBe('a completed flow cannot be retried; start a new one with `chemflow run`.');
    const cancel = await failing(['--db', db, 'cancel', completed], { exit: 2, code: 'FLOW_NOT_RUNNABLE' });
    expect(cancel.message).toContain(completed);
  });

  it('a database that cannot be reached: exit 3, for a one-shot command and for the worker', async () => {
    const unreachable = 'postgres://postgres@127.0.0.1:1/nothing';
    const flows = await failing(['--db', unreachable, 'flows'], { exit: 3, code: 'STORE_ERROR' });
    expect(flows.message).toContain('ECONNREFUSED');
    expect(flows.next).toMatch(/^check that the database is up/);
    await failing(['--db', unreachable, 'worker', '--once', '--quiet'], { exit: 3, code: 'STORE_ERROR' });
  });

  it('nothing on stdout without --json, and no document for --help', async () => {
    const help = await cli(['flows', '--json', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: chemflow flows');
    expect(help.stdout).not.toContain('"error"');
  });
});

describe('queue rebuild', () => {
  it('of one flow rebuilds its row; of an unknown id exits 2 naming it; of all flows accepts an empty database', async () => {
    const one = await cli(['--db', db, 'queue', 'rebuild', completed, '--json']);
    expect(one.code, one.stderr).toBe(0);
    expect(JSON.parse(one.stdout)).toEqual({ rebuilt: 1, flowId: completed });
    const unknown = randomUUID();
    const missing = await cli(['--db', db, 'queue', 'rebuild', unknown]);
    expect(missing.code).toBe(2);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toBe(`Error: No flow with id ${unknown}\nNext: \`chemflow flows\` lists the flows in this database (is --db / DATABASE_URL the right one?).\n`);
    const all = await cli(['--db', 'memory', 'queue', 'rebuild']);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toBe('Rebuilt 0 flow queue row(s) from the event log.\n');
  });
});
