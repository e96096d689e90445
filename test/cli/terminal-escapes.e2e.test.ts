import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestSchema, describeWithPg, type TestSchema } from '../helpers/pg.js';
import { chemflow, E2E_TIMEOUT_MS, ensureBuilt, workspace, type CliResult, type Workspace } from './support/cli.js';

/**
 * Text that steers a terminal: a window title (OSC 0), a hidden link (OSC 8), a screen clear, a CR/LF
 * that fakes a line of the CLI's own, bidi overrides, an 8-bit CSI (U+009B) and DEL.
 */
const HOSTILE =
  'a\x1b]0;owned\x07b\x1b]8;;https://evil.example/\x1b\\link\x1b]8;;\x1b\\c\x1b[2J\r\nNext: run `rm -rf ~`\u202eexe.txt\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069\u200e\u200f\u061c\u009b31m\x7fz';
const FAKE_LINE = /^Next: run `rm -rf ~`/m;
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/** YAML double-quoted: every character outside printable ASCII as an escape, so the file itself is plain. */
function yamlQuoted(text: string): string {
  return `"${[...text].map((c) => (c >= ' ' && c <= '~' && c !== '"' && c !== '\\' ? c : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)).join('')}"`;
}

const STEP = `export default {
  kind: 'source',
  run(ctx) {
    ctx.emit('note', ${JSON.stringify(HOSTILE)});
    const error = new Error(${JSON.stringify(HOSTILE)});
    error.errorClass = 'Permanent';
    error.code = ${JSON.stringify(`CODE${HOSTILE}`)};
    throw error;
  },
};
`;

/** What a terminal would be made to do by this output: none of it may be there. */
function expectInert(label: string, result: CliResult): void {
  for (const [stream, text] of [
    ['stdout', result.stdout],
    ['stderr', result.stderr],
  ] as const) {
    const bytes = Buffer.from(text, 'utf8');
    const where = `${label} ${stream}:\n${text}`;
    expect(bytes.includes(0x1b), where).toBe(false);
    expect(bytes.includes(0x9b), where).toBe(false);
    expect(bytes.includes(0x0d), where).toBe(false);
    expect(bytes.includes(0x07), where).toBe(false);
    expect(bytes.includes(0x7f), where).toBe(false);
    expect(BIDI.test(text), where).toBe(false);
    expect(FAKE_LINE.test(text), where).toBe(false);
  }
}

describeWithPg('human-readable output of a flow whose name, errors and notes hold control characters', () => {
  let schema: TestSchema;
  let ws: Workspace;
  let cli: (...args: string[]) => Promise<CliResult>;
  beforeAll(async () => {
    await ensureBuilt();
    schema = await createTestSchema('cli_escapes');
    ws = await workspace();
    cli = (...args) => chemflow(args, { cwd: ws.dir, env: { DATABASE_URL: schema.url } });
    await ws.write('steps/hostile.mjs', STEP);
    await ws.write('flow.yaml', `name: ${yamlQuoted(HOSTILE)}\nsteps:\n  - { id: hostile, uses: ./steps/hostile.mjs }\n`);
  }, 180_000);
  afterAll(async () => {
    await schema?.drop();
    await ws?.remove();
  });

  it('escapes them visibly in every command, and --json keeps the exact strings', { timeout: E2E_TIMEOUT_MS }, async () => {
    const run = await cli('run', 'flow.yaml');
    expect(run.code, run.stderr).toBe(1);
    expectInert('run', run);
    const flowId = /Flow\s+([0-9a-f-]{36})/.exec(run.stdout)?.[1] ?? '';
    expect(flowId).not.toBe('');
    // Shown, escaped: the reader sees what the text holds.
    expect(run.stdout).toContain('a\\x1b]0;owned\\x07b');
    expect(run.stdout).toContain('\\r\\nNext: run `rm -rf ~`\\u202eexe.txt');
    expect(run.stderr).toContain('\\x1b[2J');

    const retry = await cli('retry', flowId, 'hostile', '--reason', HOSTILE);
    expect(retry.code, retry.stderr).toBe(0);
    expectInert('retry', retry);

    // The worker runs the retried attempt, which fails again, and logs the flow's outcome.
    const worker = await cli('worker', '--once', '--poll-ms', '200');
    expect(worker.code, worker.stderr).toBe(1);
    expectInert('worker', worker);
    expect(worker.stdout).toMatch(/^failed {5}\S+ {2}a\\x1b\]0;owned/m);

    const cancel = await cli('cancel', flowId, '--reason', HOSTILE);
    expect(cancel.code, cancel.stderr).toBe(0);
    expectInert('cancel', cancel);

    for (const args of [['flows'], ['status', flowId], ['events', flowId], ['errors', flowId], ['status', HOSTILE]]) {
      const result = await cli(...args);
      expectInert(args.join(' '), result);
      expect(result.stdout + result.stderr).toContain('a\\x1b]0;owned\\x07b');
    }

    const events = JSON.parse((await cli('events', flowId, '--json')).stdout) as Record<string, unknown>[];
    expect(events.find((e) => e.type === 'FlowInitialized')?.flowName).toBe(HOSTILE);
    const failed = events.filter((e) => e.type === 'StepFailed') as unknown as { error: { message: string; code: string } }[];
    expect(failed.map((e) => e.error)).toMatchObject([
      { message: HOSTILE, code: `CODE${HOSTILE}` },
      { message: HOSTILE, code: `CODE${HOSTILE}` },
    ]);
    expect(events.filter((e) => e.type === 'StepSignal').map((e) => e.data)).toEqual([HOSTILE, HOSTILE]);
    expect(events.find((e) => e.type === 'RetryScheduled')?.reason).toBe(HOSTILE);
    expect(events.find((e) => e.type === 'FlowCancelled')?.reason).toBe(HOSTILE);

    const errors = JSON.parse((await cli('errors', flowId, '--json')).stdout) as { errorMessage: string; details: { error_code: string } }[];
    expect(errors.map((e) => [e.errorMessage, e.details.error_code])).toEqual([
      [HOSTILE, `CODE${HOSTILE}`],
      [HOSTILE, `CODE${HOSTILE}`],
    ]);
    const flows = JSON.parse((await cli('flows', '--json')).stdout) as { name: string }[];
    expect(flows.map((f) => f.name)).toEqual([HOSTILE]);
  });
});
