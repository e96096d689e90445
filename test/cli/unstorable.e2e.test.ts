// From the shell: text the database refuses, thrown by a step or written in a flow file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, workspace, type Workspace } from './support/cli.js';

beforeAll(ensureBuilt, 180_000);

/** Three CLI processes and a fresh embedded database: ~3 s on a quiet machine, far more on a loaded one. */
const SLOW = 120_000;

// Written with escapes, so the module's source stays plain ASCII.
const NUL_STEP = `export default {
  kind: 'transform',
  run() {
    const error = new Error('molecule \\u0000 rejected');
    error.errorClass = 'Permanent';
    error.details = { smiles: 'C\\ud800C' };
    throw error;
  },
};
`;

const FLOW = `name: unstorable
retry: { maxRetries: 3, backoff: { kind: none } }
steps:
  - { id: seed, uses: ./steps/seed.mjs }
  - { id: bad, uses: ./steps/nul.mjs }
`;

interface FlowJson {
  status: string;
  flowId: string;
  steps: { stepId: string; status: string; attempts: number }[];
}

describe('text the database cannot store', () => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await workspace();
    await ws.write('steps/nul.mjs', NUL_STEP);
    await ws.write('flow.yaml', FLOW);
  });
  afterAll(() => ws.remove());

  it('a Permanent error with U+0000 in its message: exit 1 (flow failed), one attempt, recorded as Permanent', async () => {
    const result = await ws.cli('run', 'flow.yaml', '--json');
    expect(result.stderr).not.toContain('STORE_ERROR');
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as FlowJson;
    expect(report.status).toBe('failed');
    expect(report.steps[1]).toMatchObject({ stepId: 'bad', status: 'Failed', attempts: 1 });
    const errors = await ws.json<{ errorClass: string; errorMessage: string; details: Record<string, unknown> }[]>('errors', report.flowId);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      errorClass: 'Permanent',
      errorMessage: 'molecule \ufffd rejected',
      details: { smiles: 'C\ufffdC', unstorable_text: expect.objectContaining({ message: '"molecule \\u0000 rejected"' }) },
    });
  }, SLOW);

  it('a flow file whose name holds U+0000: exit 2 at validation, nothing written', async () => {
    await ws.write('bad-name.json', '{"name": "x\\u0000", "steps": [{"id": "seed", "uses": "./steps/seed.mjs"}]}');
    const result = await ws.cli('run', 'bad-name.json');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('name: the name contains U+0000, which PostgreSQL cannot store');
    expect(result.stderr).toContain('Nothing was written.');
    expect((await ws.json<unknown[]>('flows')).length).toBe(1); // only the flow of the test above
  }, SLOW);
});
