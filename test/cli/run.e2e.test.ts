import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E_TIMEOUT_MS, ensureBuilt, workspace, type Workspace } from './support/cli.js';

const OK_FLOW = `name: ok
retry: { maxRetries: 3, backoff: { kind: exponential, baseMs: 1 } }
steps:
  - { id: seed, uses: ./steps/seed.mjs, params: { n: 5 } }
  - { id: flaky, uses: ./steps/flaky.mjs#flaky }
  - { id: double, uses: ./steps/double.mjs }
`;

const GATED_FLOW = `name: gated
retry: { maxRetries: 2, backoff: { kind: none } }
steps:
  - { id: seed, uses: ./steps/seed.mjs, params: { n: 2 } }
  - { id: gate, uses: ./steps/gate.mjs }
  - { id: double, uses: ./steps/double.mjs }
`;

const FLOW_KEYS = ['errors', 'flowFingerprint', 'flowId', 'status', 'steps'];
const STEP_KEYS = ['attempts', 'cached', 'cachedFrom', 'fingerprint', 'needs', 'retryCount', 'shards', 'status', 'stepId'];
const ERROR_KEYS = ['attemptNumber', 'details', 'errorClass', 'errorMessage', 'maxRetries', 'retryCount', 'shard', 'stepId', 'timestamp'];

interface FlowJson {
  flowId: string;
  status: string;
  flowFingerprint: string | null;
  steps: { stepId: string; status: string; fingerprint: string | null; attempts: number; retryCount: number; shards: unknown; blockedBy?: string[] }[];
  errors: { total: number; byClass: Record<string, number> };
}
type ErrorJson = Record<string, unknown> & { stepId: string; attemptNumber: number; details: Record<string, unknown> };

beforeAll(ensureBuilt, 180_000);

describe('chemflow run, status, events, errors', { timeout: E2E_TIMEOUT_MS }, () => {
  let ws: Workspace;
  let flowId: string;
  beforeAll(async () => {
    ws = await workspace();
    await ws.write('ok.yaml', OK_FLOW);
  });
  afterAll(() => ws.remove());

  it('runs a flow to completion: exit 0, progress lines on stderr, summary with error counts on stdout', async () => {
    const result = await ws.cli('run', 'ok.yaml');
    expect(result.stderr).toMatch(/^Flow [0-9a-f-]{36} \(ok, 3 steps\)/);
    expect(result.stderr).toContain('[2/3] flaky: attempt 1 failed: Transient BUSY: upstream busy');
    expect(result.stderr).toContain('[2/3] flaky: retry 1 scheduled');
    expect(result.stderr).toContain('[2/3] flaky: finished on attempt 2');
    expect(result.code).toBe(0);
    flowId = /Flow\s+([0-9a-f-]{36})/.exec(result.stdout)?.[1] ?? '';
    expect(flowId).not.toBe('');
    expect(result.stdout).toMatch(/Status\s+completed/);
    expect(result.stdout).toMatch(/Fingerprint\s+[0-9a-f]{64}/);
    expect(result.stdout).toMatch(/flaky\s+FinishedOk\s+2\s+1\s+[0-9a-f]{16}/);
    expect(result.stdout).toContain('Errors: 1 (Transient 1, Permanent 0, Validation 0, Runtime 0)');
  });

  it('status --json gives exactly {flowId, status, flowFingerprint, steps, errors}', async () => {
    const status = await ws.json<FlowJson>('status', flowId);
    expect(Object.keys(status).sort()).toEqual(FLOW_KEYS);
    for (const step of status.steps) expect(Object.keys(step).sort()).toEqual(STEP_KEYS);
    expect(status).toMatchObject({
      flowId,
      status: 'completed',
      errors: { total: 1, byClass: { Transient: 1, Permanent: 0, Validation: 0, Runtime: 0 } },
    });
    expect(status.flowFingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(status.steps.map((s) => [s.stepId, s.status, s.attempts, s.retryCount])).toEqual([
      ['seed', 'FinishedOk', 1, 0],
      ['flaky', 'FinishedOk', 2, 1],
      ['double', 'FinishedOk', 1, 0],
    ]);
    // No step is mapped: none has shards. A list: each step needs the one before it.
    expect(status.steps.map((s) => s.shards)).toEqual([null, null, null]);
    expect(status.steps.map((s) => (s as unknown as { needs: string[] }).needs)).toEqual([[], ['seed'], ['flaky']]);
  });

  it('run --json prints the same document, and the same flow fingerprint on a second run', async () => {
    const first = await ws.json<FlowJson>('status', flowId);
    const result = await ws.cli('run', 'ok.yaml', '--json');
    expect(result.code).toBe(0);
    const second = JSON.parse(result.stdout) as FlowJson;
    expect(Object.keys(second).sort()).toEqual(FLOW_KEYS);
    expect(second.flowId).not.toBe(flowId);
    expect(second.flowFingerprint).toBe(first.flowFingerprint);
    expect(second.steps.map((s) => s.fingerprint)).toEqual(first.steps.map((s) => s.fingerprint));
    expect(result.stderr).not.toContain('attempt 1 started'); // --json off a terminal: no progress lines
  });

  it('events --json is the event log in order', async () => {
    const events = await ws.json<{ type: string; version: number; flowId: string; stepId?: string; metadata?: unknown }[]>('events', flowId);
    expect(events.map((e) => e.version)).toEqual(events.map((_, i) => i + 1));
    expect(events.every((e) => e.flowId === flowId)).toBe(true);
    expect(events.map((e) => e.type)).toEqual([
      'FlowInitialized',
      'StepStarted',
      'StepFinished',
      'StepStarted',
      'StepFailed',
      'RetryScheduled',
      'StepStarted',
      'StepFinished',
      'StepStarted',
      'StepFinished',
      'FlowCompleted',
    ]);
    expect(events[0]?.metadata).toEqual({ flowFile: join(ws.dir, 'ok.yaml') });
    const table = await ws.cli('events', flowId);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^#\s+TIME\s+TYPE\s+STEP\s+ATTEMPT\s+DETAIL/);
    expect(table.stdout).toContain('Transient BUSY: upstream busy');
  });

  it('errors --json gives the timeline entries with exactly the documented fields; the table shows them', async () => {
    const errors = await ws.json<ErrorJson[]>('errors', flowId);
    expect(errors).toHaveLength(1);
    expect(Object.keys(errors[0] ?? {}).sort()).toEqual(ERROR_KEYS);
    expect(errors[0]).toMatchObject({
      stepId: 'flaky',
      attemptNumber: 1,
      errorClass: 'Transient',
      errorMessage: 'upstream busy',
      retryCount: 0,
      maxRetries: 3,
      shard: null,
    });
    expect(errors[0]?.details).toMatchObject({ error_code: 'BUSY', params: {} });
    const table = await ws.cli('errors', flowId);
    expect(table.stdout).toMatch(/STEP\s+ATTEMPT\s+CLASS\s+CODE\s+RETRY\s+MAX\s+TIME\s+MESSAGE/);
    expect(table.stdout).toMatch(/flaky\s+1\s+Transient\s+BUSY\s+0\s+3\s+\S+\s+upstream busy/);
    expect(table.stdout).toContain('Errors: 1 (Transient 1, Permanent 0, Validation 0, Runtime 0)');
    expect(await ws.json('errors', flowId, '--step', 'seed')).toEqual([]);
  });

  it('flows lists both flows with their status', async () => {
    const flows = await ws.json<{ flowId: string; name: string; status: string }[]>('flows');
    expect(flows).toHaveLength(2);
    expect(flows.map((f) => [f.name, f.status])).toEqual([
      ['ok', 'completed'],
      ['ok', 'completed'],
    ]);
    expect(flows.map((f) => f.flowId)).toContain(flowId);
    expect((await ws.cli('flows')).stdout).toMatch(/FLOW ID\s+NAME\s+STATUS/);
  });

  it('an unknown flow id, an unknown step and bad usage exit 2 with what to do', async () => {
    const unknown = await ws.cli('status', '00000000-0000-4000-8000-000000000000');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('No flow with id 00000000-0000-4000-8000-000000000000');
    expect(unknown.stderr).toContain('`chemflow flows`');
    for (const command of ['events', 'errors', 'resume']) expect((await ws.cli(command, 'nope')).code).toBe(2);
    const step = await ws.cli('errors', flowId, '--step', 'nope');
    expect(step.code).toBe(2);
    expect(step.stderr).toContain('its steps are: seed, flaky, double');
    expect((await ws.cli('frobnicate')).code).toBe(2);
    expect((await ws.cli('retry', flowId)).code).toBe(2);
    expect((await ws.cli('retry', flowId, 'flaky', '--max-retries', 'lots')).code).toBe(2);
    expect((await ws.cli('run')).code).toBe(2);
  });

  it('--help and --version exit 0', async () => {
    const help = await ws.cli('--help');
    expect(help.code).toBe(0);
    for (const command of ['run', 'flows', 'status', 'events', 'errors', 'retry', 'resume', 'migrate']) expect(help.stdout).toContain(command);
    const version = await ws.cli('--version');
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

/** seed → gate (fails until open.marker exists) → afterGate, and beside them seed → double. */
const GOING_FLOW = `name: going
onFailure: continue
retry: { maxRetries: 2, backoff: { kind: none } }
steps:
  - { id: seed, uses: ./steps/seed.mjs, params: { n: 7 } }
  - { id: gate, uses: ./steps/gate.mjs, needs: [seed] }
  - { id: afterGate, uses: ./steps/double.mjs, needs: [gate] }
  - { id: double, uses: ./steps/double.mjs, needs: [seed] }
`;

describe('onFailure: continue: the independent branch finishes, the flow fails; retry and resume complete it', { timeout: E2E_TIMEOUT_MS }, () => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await workspace();
    await ws.write('going.yaml', GOING_FLOW);
  });
  afterAll(() => ws.remove());

  it('runs, fails, shows what is blocked, then completes with the fingerprint of a clean run', async () => {
    const result = await ws.cli('run', 'going.yaml', '--json');
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as FlowJson;
    expect(report.status).toBe('failed');
    const status = await ws.json<FlowJson>('status', report.flowId);
    expect(status.steps.map((s) => [s.stepId, s.status, s.attempts, s.blockedBy])).toEqual([
      ['seed', 'FinishedOk', 1, undefined],
      ['gate', 'Failed', 1, undefined],
      ['afterGate', 'Pending', 0, ['gate']],
      ['double', 'FinishedOk', 1, undefined],
    ]);
    expect((await ws.cli('status', report.flowId)).stdout).toContain('Blocked: afterGate needs failed step(s) gate');
    await writeFile(join(ws.dir, 'open.marker'), '');
    expect((await ws.cli('retry', report.flowId, 'gate')).code).toBe(0);
    const resumed = await ws.cli('resume', report.flowId, '--json');
    expect(resumed.code).toBe(0);
    const done = JSON.parse(resumed.stdout) as FlowJson;
    expect(done.steps.map((s) => [s.stepId, s.status, s.attempts])).toEqual([
      ['seed', 'FinishedOk', 1],
      ['gate', 'FinishedOk', 2],
      ['afterGate', 'FinishedOk', 1],
      ['double', 'FinishedOk', 1],
    ]);
    const clean = await ws.cli('run', 'going.yaml', '--json');
    expect(clean.code).toBe(0);
    expect((JSON.parse(clean.stdout) as FlowJson).flowFingerprint).toBe(done.flowFingerprint);
  });
});

describe('a failed flow: exit 1, retry, resume', { timeout: E2E_TIMEOUT_MS }, () => {
  let ws: Workspace;
  let flowId: string;
  beforeAll(async () => {
    ws = await workspace();
    await ws.write('gated.yaml', GATED_FLOW);
  });
  afterAll(() => ws.remove());

  it('a step failing permanently stops the flow: exit 1 and the next commands on stderr', async () => {
    const result = await ws.cli('run', 'gated.yaml', '--json');
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as FlowJson;
    flowId = report.flowId;
    expect(report.status).toBe('failed');
    expect(report.flowFingerprint).toBeNull();
    expect(report.steps.map((s) => s.status)).toEqual(['FinishedOk', 'Failed', 'Pending']);
    expect(report.errors).toEqual({ total: 1, byClass: { Transient: 0, Permanent: 1, Validation: 0, Runtime: 0 } });
    expect(result.stderr).toContain(`step gate failed on attempt 1 (Permanent ERROR: the gate is closed: open.marker is missing)`);
    expect(result.stderr).toContain(`\`chemflow retry ${flowId} gate\` and \`chemflow resume ${flowId}\``);
  });

  it('resume of a failed flow without a retry exits 2 and says to retry first', async () => {
    const result = await ws.cli('resume', flowId);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`chemflow retry ${flowId} gate`);
  });

  it('errors keep the details a plain-JavaScript step put on its error', async () => {
    const errors = await ws.json<ErrorJson[]>('errors', flowId, '--step', 'gate');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ stepId: 'gate', attemptNumber: 1, errorClass: 'Permanent', retryCount: 0, maxRetries: 2 });
    expect(errors[0]?.details).toMatchObject({ marker: 'open.marker', attempt: 1 });
    expect(errors[0]?.details.stack_trace).toEqual(expect.stringContaining('gate.mjs'));
  });

  it('retry, still failing: the second attempt is recorded and exit is 1 again', async () => {
    const retry = await ws.cli('retry', flowId, 'gate', '--reason', 'try again');
    expect(retry.code).toBe(0);
    expect(retry.stdout).toContain(`Scheduled retry 1 of 2 for step gate of flow ${flowId}`);
    expect(retry.stdout).toContain(`chemflow resume ${flowId}`);
    expect((await ws.json<FlowJson>('status', flowId)).status).toBe('running');
    const resumed = await ws.cli('resume', flowId);
    expect(resumed.code).toBe(1);
    const errors = await ws.json<ErrorJson[]>('errors', flowId);
    expect(errors.map((e) => [e.stepId, e.attemptNumber, e.retryCount])).toEqual([
      ['gate', 1, 0],
      ['gate', 2, 1],
    ]);
  });

  it('retry + resume after fixing the cause completes the flow with the fingerprint of a clean run', async () => {
    await writeFile(join(ws.dir, 'open.marker'), '');
    const retry = await ws.json<Record<string, unknown>>('retry', flowId, 'gate');
    expect(retry).toEqual({
      flowId,
      stepId: 'gate',
      retryIndex: 2,
      maxRetries: 2,
      reason: null,
      notBefore: expect.any(String),
    });
    const resumed = await ws.cli('resume', flowId, '--json');
    expect(resumed.code).toBe(0);
    const report = JSON.parse(resumed.stdout) as FlowJson;
    expect(report.status).toBe('completed');
    expect(report.steps.map((s) => [s.stepId, s.status, s.attempts, s.retryCount])).toEqual([
      ['seed', 'FinishedOk', 1, 0],
      ['gate', 'FinishedOk', 3, 2],
      ['double', 'FinishedOk', 1, 0],
    ]);
    expect(report.errors.total).toBe(2);

    const clean = await ws.cli('run', 'gated.yaml', '--json');
    expect(clean.code).toBe(0);
    expect((JSON.parse(clean.stdout) as FlowJson).flowFingerprint).toBe(report.flowFingerprint);
  });

  it('a rejected retry exits 2 with the reason and appends nothing', async () => {
    const before = await ws.json<unknown[]>('events', flowId);
    const completed = await ws.cli('retry', flowId, 'gate');
    expect(completed.code).toBe(2);
    expect(completed.stderr).toContain('rejected (flow_completed)');
    const unknownStep = await ws.cli('retry', flowId, 'nope');
    expect(unknownStep.code).toBe(2);
    expect(unknownStep.stderr).toContain('rejected (unknown_step)');
    expect(await ws.json<unknown[]>('events', flowId)).toEqual(before);
  });

  it('a retry beyond the limit is rejected until --max-retries raises it', async () => {
    const other = await workspace();
    try {
      await other.write('gated.yaml', GATED_FLOW.replace('maxRetries: 2', 'maxRetries: 0'));
      const run = await other.json<FlowJson>('run', 'gated.yaml');
      const rejected = await other.cli('retry', run.flowId, 'gate');
      expect(rejected.code).toBe(2);
      expect(rejected.stderr).toContain('rejected (max_retries_exceeded): 0 of 0 retries already used');
      expect(rejected.stderr).toContain('--max-retries <n>');
      const allowed = await other.cli('retry', run.flowId, 'gate', '--max-retries', '1');
      expect(allowed.code).toBe(0);
    } finally {
      await other.remove();
    }
  });
});

describe('chemflow migrate', { timeout: E2E_TIMEOUT_MS }, () => {
  it('migrate up twice is fine', async () => {
    const ws = await workspace();
    try {
      const first = await ws.cli('migrate', 'up');
      expect(first.code).toBe(0);
      expect(first.stdout).toMatch(/^[1-9]\d* migration\(s\) applied: /);
      const second = await ws.cli('migrate');
      expect(second.code).toBe(0);
      expect(second.stdout).toMatch(/^0 migration\(s\) applied\. The schema in .* is up to date\.$/m);
      expect(await ws.json('flows')).toEqual([]);
      expect((await ws.cli('migrate', 'sideways')).code).toBe(2);
    } finally {
      await ws.remove();
    }
  });
});
