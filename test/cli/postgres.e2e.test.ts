import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestSchema, describeWithPg, type TestSchema } from '../helpers/pg.js';
import { chemflow, E2E_TIMEOUT_MS, ensureBuilt, workspace, type Workspace } from './support/cli.js';

/** The CLI on a PostgreSQL server chosen by DATABASE_URL, in a schema of its own. */
describeWithPg('chemflow on PostgreSQL (DATABASE_URL)', () => {
  let schema: TestSchema;
  let ws: Workspace;
  beforeAll(async () => {
    await ensureBuilt();
    schema = await createTestSchema('cli_e2e');
    ws = await workspace();
    await ws.write(
      'flow.yaml',
      'name: pg\nretry: { backoff: { kind: none } }\nsteps:\n  - { id: seed, uses: ./steps/seed.mjs }\n  - { id: flaky, uses: ./steps/flaky.mjs#flaky }\n',
    );
  }, 180_000);
  afterAll(async () => {
    await schema?.drop();
    await ws?.remove();
  });

  it('runs a flow and reads it back from the server', { timeout: E2E_TIMEOUT_MS }, async () => {
    const env = { DATABASE_URL: schema.url };
    const run = await chemflow(['run', 'flow.yaml', '--json'], { cwd: ws.dir, env });
    expect(run.code, run.stderr).toBe(0);
    const { flowId } = JSON.parse(run.stdout) as { flowId: string };
    const status = await chemflow(['status', flowId, '--json'], { cwd: ws.dir, env });
    expect(JSON.parse(status.stdout)).toMatchObject({ flowId, status: 'completed', errors: { total: 1 } });
    const errors = await chemflow(['errors', flowId, '--json'], { cwd: ws.dir, env });
    expect((JSON.parse(errors.stdout) as { errorClass: string }[]).map((e) => e.errorClass)).toEqual(['Transient']);
    expect(existsSync(join(ws.dir, '.chemflow'))).toBe(false); // no embedded database was created
  });
});
