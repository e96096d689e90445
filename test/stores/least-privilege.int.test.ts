// The least-privilege setup of docs/security.md, run as written on the real server: an owner role runs
// the migrations, an application role drives flows and cannot alter history, not even by switching
// the append-only triggers off.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineFlow, FlowEngine } from '../../src/index.js';
import { openPostgresStore } from '../../src/stores/open-store.js';
import { PgExecutor } from '../../src/stores/pg/pg-executor.js';
import { migrate } from '../../src/stores/sql/migrate.js';
import type { SqlFlowStore } from '../../src/stores/sql/sql-flow-store.js';
import { flakyStep, seedStep, sinkStep } from '../support/demo-flow.js';
import { adminQuery, pgAvailable, TEST_PG_URL } from '../helpers/pg.js';

/** The ```sql block that follows `<!-- least-privilege:<tag> -->` in docs/security.md. */
function documentedSql(tag: string): string {
  const doc = readFileSync(new URL('../../docs/security.md', import.meta.url), 'utf8');
  const block = new RegExp(`<!-- least-privilege:${tag} -->\\s*\`\`\`sql\\n([\\s\\S]*?)\`\`\``).exec(doc)?.[1];
  if (block === undefined) throw new Error(`docs/security.md has no least-privilege:${tag} block`);
  return block;
}

const suffix = randomBytes(5).toString('hex');
const names = { owner: `cf_lp_owner_${suffix}`, app: `cf_lp_app_${suffix}`, schema: `cf_lp_${suffix}` };

/** The documented SQL with this test's unique role and schema names (roles are cluster-wide). */
function withOurNames(sql: string): string {
  return sql
    .replace(/\bchemflow_owner\b/g, names.owner)
    .replace(/\bchemflow_app\b/g, names.app)
    .replace(/\bchemflow\b/g, names.schema);
}

function urlAs(role: string): string {
  const url = new URL(TEST_PG_URL);
  url.username = role;
  url.password = '';
  return url.toString();
}

describe.runIf(pgAvailable)('least privilege: an owner role migrates, the application role only reads and appends', () => {
  let owner: PgExecutor;
  let app: SqlFlowStore;
  beforeAll(async () => {
    await adminQuery(withOurNames(documentedSql('roles')));
    owner = new PgExecutor({ connectionString: urlAs(names.owner), schema: names.schema });
    await migrate(owner, 'up');
    await owner.exec(withOurNames(documentedSql('grants')));
    app = await openPostgresStore({ connectionString: urlAs(names.app), schema: names.schema });
  });
  afterAll(async () => {
    await app?.close();
    await owner?.close();
    await adminQuery(`DROP SCHEMA IF EXISTS ${names.schema} CASCADE`);
    for (const role of [names.app, names.owner]) {
      await adminQuery(`DROP OWNED BY ${role}`).catch(() => undefined);
      await adminQuery(`DROP ROLE IF EXISTS ${role}`);
    }
  });

  it('runs flows as the application role: failures, retries, artifacts (deduplicated), completion', async () => {
    const def = defineFlow('least-privilege', [
      seedStep(3),
      flakyStep('a', ['Transient'], { retry: { maxRetries: 2, backoff: { kind: 'none' } } }),
      sinkStep(),
    ]);
    const engine = new FlowEngine({ store: app });
    for (const _run of [1, 2]) {
      const flowId = await engine.startFlow(def);
      const flow = await engine.runToEnd(flowId, def);
      expect(flow.completed).toBe(true);
      expect(await app.countErrorsByFlow(flowId)).toMatchObject({ total: 1, byClass: { Transient: 1 } });
      expect(((await engine.open(flowId, def)).flow).steps.every((s) => s.status === 'FinishedOk')).toBe(true);
    }
    expect(await app.listFlows()).toHaveLength(2);
  });

  it.each([
    ['UPDATE event_log', 'UPDATE event_log SET ts = now()', /permission denied/],
    ['DELETE FROM step_execution_errors', 'DELETE FROM step_execution_errors', /permission denied/],
    ['UPDATE workflow_step_artifacts', `UPDATE workflow_step_artifacts SET payload = '{}'`, /permission denied/],
    ['TRUNCATE workflow_step_artifacts', 'TRUNCATE workflow_step_artifacts', /permission denied/],
    [
      'ALTER TABLE … DISABLE TRIGGER',
      'ALTER TABLE workflow_step_artifacts DISABLE TRIGGER workflow_step_artifacts_append_only',
      /must be owner/,
    ],
    ['ALTER TABLE event_log DISABLE TRIGGER ALL', 'ALTER TABLE event_log DISABLE TRIGGER ALL', /must be owner/],
    ['DROP TABLE', 'DROP TABLE step_execution_errors', /must be owner/],
    ['CREATE TABLE in the schema', 'CREATE TABLE shadow_log (id int)', /permission denied/],
  ])('refuses %s to the application role', async (_label, sql, refusal) => {
    await expect(app.executor.exec(sql)).rejects.toThrow(refusal);
  });

  it('the tables still hold everything the flows wrote', async () => {
    const [counts] = await adminQuery<{ events: number; errors: number; artifacts: number }>(
      `SELECT (SELECT count(*)::int FROM ${names.schema}.event_log) AS events,
        (SELECT count(*)::int FROM ${names.schema}.step_execution_errors) AS errors,
        (SELECT count(*)::int FROM ${names.schema}.workflow_step_artifacts) AS artifacts`,
    );
    // Two identical flows: their artifacts are stored once (seed, a, report).
    expect(counts).toMatchObject({ errors: 2, artifacts: 3 });
    expect(counts?.events).toBeGreaterThan(10);
  });
});
