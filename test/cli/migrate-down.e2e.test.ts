import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadMigrations } from '../../src/stores/sql/migration-files.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestSchema, pgAvailable, TEST_PG_URL, type TestSchema } from '../helpers/pg.js';
import { chemflow, ensureBuilt, workspace, type Workspace } from './support/cli.js';

const FLOW = `name: two
retry: { backoff: { kind: none } }
steps:
  - { id: seed, uses: ./steps/seed.mjs }
  - { id: flaky, uses: ./steps/flaky.mjs#flaky }
`;

beforeAll(ensureBuilt, 180_000);

/** Every migration of the package: `migrate down` reverts them all. */
const MIGRATIONS = loadMigrations().length;

/** Runs one flow (1 failed attempt, 1 retry) at `db`, then checks `migrate down` with and without --yes. */
async function refusesThenReverts(ws: Workspace, db: string): Promise<void> {
  const cli = (...args: string[]) => chemflow(['--db', db, ...args], { cwd: ws.dir, timeoutMs: 90_000 });
  const run = await cli('run', 'flow.yaml', '--quiet');
  expect(run.code, run.stderr).toBe(0);

  const refused = await cli('migrate', 'down');
  expect(refused.code, refused.stderr).toBe(2);
  expect(refused.stdout).toBe('');
  expect(refused.stderr).toMatch(new RegExp(`migrate down\` needs --yes: it reverts ${MIGRATIONS} migration\\(s\\) in .* and deletes \\d+ row\\(s\\) for good:`));
  // FlowInitialized, 3 x StepStarted, StepFailed, RetryScheduled, 2 x StepFinished, FlowCompleted.
  expect(refused.stderr).toMatch(/^ {2}event_log: 9 row\(s\)$/m);
  expect(refused.stderr).toMatch(/^ {2}step_execution_errors: 1 row\(s\)$/m);
  expect(refused.stderr).toMatch(/^ {2}workflow_step_artifacts: 2 row\(s\)$/m);
  expect(refused.stderr).toMatch(/^ {2}flow_queue: 1 row\(s\)$/m);
  expect(refused.stderr).toContain('chemflow migrate down --yes');
  // Nothing was dropped.
  const flows = await cli('flows', '--json');
  expect(JSON.parse(flows.stdout)).toHaveLength(1);

  const reverted = await cli('migrate', 'down', '--yes');
  expect(reverted.code, reverted.stderr).toBe(0);
  expect(reverted.stdout).toMatch(new RegExp(`^${MIGRATIONS} migration\\(s\\) reverted: `));
  const again = await cli('migrate', 'down');
  expect(again.code).toBe(2);
  expect(again.stderr).toContain("nothing to revert");
}

describe('chemflow migrate down', () => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await workspace();
    await ws.write('flow.yaml', FLOW);
  });
  afterAll(() => ws.remove());

  it('on the embedded database: refuses without --yes, naming the tables and rows it would delete', async () => {
    await refusesThenReverts(ws, ws.db);
  }, 180_000);

  it('refuses without --yes where there is nothing yet, and creates nothing', async () => {
    const missing = join(ws.dir, 'no-such-db');
    const result = await chemflow(['--db', missing, 'migrate', 'down'], { cwd: ws.dir, timeoutMs: 60_000 });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('nothing to revert');
    expect(existsSync(missing)).toBe(false);
  }, 60_000);
});

describe.runIf(pgAvailable)('chemflow migrate down on PostgreSQL', () => {
  let ws: Workspace;
  let schema: TestSchema;
  beforeAll(async () => {
    ws = await workspace();
    await ws.write('flow.yaml', FLOW);
    schema = await createTestSchema('cli_migrate_down');
  });
  afterAll(async () => {
    await schema.drop();
    await ws.remove();
  });

  it('refuses without --yes, naming the tables and rows it would delete', async () => {
    const url = new URL(TEST_PG_URL);
    url.searchParams.set('options', `-c search_path=${schema.name}`);
    await refusesThenReverts(ws, url.toString());
  }, 180_000);
});
