import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT, workspace, type Workspace } from './support/cli.js';

const BIN = join(ROOT, 'bin', 'chemflow.js');

/** A source step that records many large signals, so `events --json` is far past a pipe's 64 KiB. */
const NOISY_STEP = `export default {
  kind: 'source',
  run(ctx) {
    for (let i = 0; i < 500; i++) ctx.emit('progress', { i, text: 'x'.repeat(500) });
    return { outputs: [{ kind: 'number', payload: { n: 1 } }] };
  },
};
`;

interface Piped {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI with its stdout on an OS pipe (as in `chemflow ... | jq`), read by `reader`. Node's own
 * child-process stdio is a socket pair, which does not show the truncation, so a shell makes the pipe.
 */
function throughPipe(ws: Workspace, args: readonly string[], reader = 'cat'): Promise<Piped> {
  const script = `"$@" | ${reader}; echo "exit=\${PIPESTATUS[0]}" >&2`;
  return new Promise((resolve, reject) => {
    execFile(
      'bash',
      ['-c', script, 'bash', process.execPath, BIN, '--db', ws.db, ...args],
      { cwd: ws.dir, env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 64 * 1024 * 1024, timeout: 90_000 },
      (error, stdout, stderr) => {
        const code = /exit=(\d+)\s*$/.exec(stderr)?.[1];
        if (code === undefined) reject(error ?? new Error(`no exit status in ${stderr}`));
        else resolve({ code: Number(code), stdout, stderr });
      },
    );
  });
}

describe('output through a pipe', () => {
  let ws: Workspace;
  let flowId: string;
  beforeAll(async () => {
    await ensureBuilt();
    ws = await workspace();
    await ws.write('steps/noisy.mjs', NOISY_STEP);
    await ws.write('noisy.yaml', 'name: noisy\nsteps:\n  - { id: noisy, uses: ./steps/noisy.mjs }\n');
    const run = await ws.cli('run', 'noisy.yaml', '--json', '--quiet');
    expect(run.code, run.stderr).toBe(0);
    flowId = (JSON.parse(run.stdout) as { flowId: string }).flowId;
  }, 180_000);
  afterAll(() => ws.remove());

  it('events --json of more than 64 KiB arrives whole and parses', async () => {
    const result = await throughPipe(ws, ['events', flowId, '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(Buffer.byteLength(result.stdout)).toBeGreaterThan(128 * 1024);
    const events = JSON.parse(result.stdout) as { type: string }[];
    expect(events.filter((e) => e.type === 'StepSignal')).toHaveLength(500);
    expect(events.at(-1)?.type).toBe('FlowCompleted');
  }, 90_000);

  it('the table output of events arrives whole too', async () => {
    const result = await throughPipe(ws, ['events', flowId]);
    expect(result.code, result.stderr).toBe(0);
    expect(Buffer.byteLength(result.stdout)).toBeGreaterThan(64 * 1024);
    expect(result.stdout.trimEnd().split('\n').at(-1)).toMatch(/FlowCompleted/);
  }, 90_000);

  it('a reader that leaves early (| head) ends the command quietly, without a crash', async () => {
    const result = await throughPipe(ws, ['events', flowId, '--json'], 'head -c 100');
    expect(result.stdout).toHaveLength(100);
    expect(result.stderr).not.toContain("Unhandled 'error' event");
    expect(result.code, result.stderr).toBe(0);
  }, 90_000);
});
