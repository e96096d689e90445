// The least-privilege setup of docs/security.md, run as written on the real server: an owner role runs
// the migrations, an application role drives flows (in this process and as `chemflow` processes) and
// cannot alter history, not even by switching the append-only triggers off.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineFlow, FlowEngine } from '../../src/index.js';
import { openPostgresStore } from '../../src/stores/open-store.js';
import { PgExecutor } from '../../src/stores/pg/pg-executor.js';
import { migrate } from '../../src/stores/sql/migrate.js';
import type { SqlFlowStore } from '../../src/stores/sql/sql-flow-store.js';
import { flakyStep, seedStep, sinkStep } from '../support/demo-flow.js';
import { adminQuery, pgAvailable, TEST_PG_URL } from '../helpers/pg.js';
import { chemflow, ensureBuilt, workspace, type Workspace } from '../cli/support/cli.js';
import { workerLines } from '../cli/support/processes.js';

/** The ```sql block that follows `<!-- least-privilege:<tag> -->` in docs/security.md. */
function documentedSql(tag: string): string {
  const doc = readFileSync(new URL('../../docs/security.md', import.meta.url), 'utf8');
  const block = new RegExp(`<!-- least-privilege:${tag} -->\\s*\`\`\`sql\\n([\\s\\S]*?)\`\`\``).exec(doc)?.[1];
  if (block === undefined) throw new Error(`docs/security.md has no least-privilege:${tag} block`);
  return block;
}

/** Every table the migrations create, read from their `up.sql` files. */
function migratedTables(): string[] {
  const dir = new URL('../../migrations/', import.meta.url);
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((entry) => [...readFileSync(new URL(`${entry.name}/up.sql`, dir), 'utf8').matchAll(/CREATE TABLE (?:IF NOT EXISTS )?(\w+)/gi)])
    .map((match) => match[1] ?? '')
    .sort();
}

const suffix = randomBytes(5).toString('hex');
const names = {
  owner: `cf_lp_owner_${suffix}`,
  app: `cf_lp_app_${suffix}`,
  // An application role granted as the documented grants say, but without flow_shards: a grant forgotten.
  partial: `cf_lp_partial_${suffix}`,
  schema: `cf_lp_${suffix}`,
};

/** The documented SQL with this test's unique role and schema names (roles are cluster-wide). */
function withOurNames(sql: string, app = names.app): string {
  return sql
    .replace(/\bchemflow_owner\b/g, names.owner)
    .replace(/\bchemflow_app\b/g, app)
    .replace(/\bchemflow\b/g, names.schema);
}

function urlAs(role: string): string {
  const url = new URL(TEST_PG_URL);
  url.username = role;
  url.password = '';
  return url.toString();
}

/** What the CLI takes as --db to connect as `role` with the schema on its search_path, as the doc says. */
function cliUrlAs(role: string): string {
  const url = new URL(urlAs(role));
  url.searchParams.set('options', `-c search_path=${names.schema}`);
  return url.toString();
}

/** `items` gives 0..7; `double` (mapped, 2 per shard: 4 shards of flow_shards) doubles its slice. */
const MAPPED_STEPS = `export const items = {
  kind: 'source',
  run() {
    return { outputs: [{ kind: 'test/items', payload: { items: [0, 1, 2, 3, 4, 5, 6, 7] } }] };
  },
};
export const double = {
  kind: 'transform',
  run(ctx) {
    return { outputs: [{ kind: 'test/items', payload: { items: ctx.input[0].payload.items.map((x) => 2 * x) } }] };
  },
};
`;
const MAPPED_FLOW = `name: mapped
steps:
  - { id: items, uses: ./steps/mapped.mjs#items }
  - id: double
    uses: ./steps/mapped.mjs#double
    map: { over: items, shardSize: 2 }
`;

describe.runIf(pgAvailable)('least privilege: an owner role migrates, the application role only reads and appends', () => {
  let owner: PgExecutor;
  let app: SqlFlowStore;
  let ws: Workspace;
  beforeAll(async () => {
    await ensureBuilt();
    await adminQuery(withOurNames(documentedSql('roles')));
    owner = new PgExecutor({ connectionString: urlAs(names.owner), schema: names.schema });
    await migrate(owner, 'up');
    await owner.exec(withOurNames(documentedSql('grants')));
    app = await openPostgresStore({ connectionString: urlAs(names.app), schema: names.schema });
    await adminQuery(`CREATE ROLE ${names.partial} LOGIN; GRANT USAGE ON SCHEMA ${names.schema} TO ${names.partial}`);
    await owner.exec(`${withOurNames(documentedSql('grants'), names.partial)}; REVOKE ALL ON flow_shards FROM ${names.partial}`);
    ws = await workspace();
    await ws.write('steps/mapped.mjs', MAPPED_STEPS);
    await ws.write('mapped.yaml', MAPPED_FLOW);
  }, 180_000);
  afterAll(async () => {
    await app?.close();
    await owner?.close();
    await ws?.remove();
    await adminQuery(`DROP SCHEMA IF EXISTS ${names.schema} CASCADE`);
    for (const role of [names.app, names.partial, names.owner]) {
      await adminQuery(`DROP OWNED BY ${role}`).catch(() => undefined);
      await adminQuery(`DROP ROLE IF EXISTS ${role}`);
    }
  });

  it('grants the application role every table and sequence the migrations create', async () => {
    const tables = await adminQuery<{ name: string }>(
      `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`,
      [names.schema],
    );
    // The catalog and the migration files (with the migrator's own bookkeeping table) agree, so neither
    // can hide a table from the check below.
    expect(tables.map((t) => t.name).sort()).toEqual([...migratedTables(), 'chemflow_migrations'].sort());
    const privileges = await adminQuery<{ name: string; read: boolean; append: boolean }>(
      `SELECT table_name AS name, has_table_privilege($2, format('%I.%I', table_schema, table_name), 'SELECT') AS read,
         has_table_privilege($2, format('%I.%I', table_schema, table_name), 'INSERT') AS append
       FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`,
      [names.schema, names.app],
    );
    // Read by every process; appended to by all but the migrations' own bookkeeping.
    expect(privileges.filter((p) => !p.read).map((p) => p.name)).toEqual([]);
    expect(privileges.filter((p) => !p.append).map((p) => p.name)).toEqual(['chemflow_migrations']);
    const sequences = await adminQuery<{ name: string; usable: boolean }>(
      `SELECT sequence_name AS name, has_sequence_privilege($2, format('%I.%I', sequence_schema, sequence_name), 'USAGE') AS usable
       FROM information_schema.sequences WHERE sequence_schema = $1`,
      [names.schema, names.app],
    );
    expect(sequences.length).toBeGreaterThan(0);
    expect(sequences.filter((s) => !s.usable).map((s) => s.name)).toEqual([]);
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
      expect(flow.status).toBe('completed');
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

  it('runs a mapped flow and a worker process as the application role', async () => {
    const db = cliUrlAs(names.app);
    const run = await chemflow(['--db', db, 'run', 'mapped.yaml', '--quiet', '--json'], { cwd: ws.dir, timeoutMs: 120_000 });
    expect(run.code, run.stderr).toBe(0);
    const [shards] = await adminQuery<{ n: number }>(`SELECT count(*)::int AS n FROM ${names.schema}.flow_shards`);
    expect(shards?.n).toBe(4);
    const submitted = await chemflow(['--db', db, 'submit', 'mapped.yaml', '--json'], { cwd: ws.dir, timeoutMs: 60_000 });
    expect(submitted.code, submitted.stderr).toBe(0);
    const worker = await chemflow(['--db', db, 'worker', '--once', '--json', '--concurrency', '2'], { cwd: ws.dir, timeoutMs: 120_000 });
    expect(worker.code, worker.stderr).toBe(0);
    expect(worker.stderr).not.toMatch(/unreachable|permission denied/);
    expect(workerLines(worker.stdout).map((line) => line.outcome)).toEqual(['completed']);
  }, 300_000);

  it('a missing grant is a configuration error naming the table: exit 2, never an outage to wait out', async () => {
    const db = cliUrlAs(names.partial);
    const worker = await chemflow(['--db', db, 'worker'], { cwd: ws.dir, timeoutMs: 60_000 });
    expect(worker.code, worker.stderr).toBe(2);
    expect(worker.stderr).toMatch(/^Error \(STORE_PERMISSION_DENIED\): .*permission denied for table flow_shards \(SQLSTATE 42501\)$/m);
    expect(worker.stderr).not.toMatch(/Database unreachable|database is up/);
    const run = await chemflow(['--db', db, 'run', 'mapped.yaml', '--quiet'], { cwd: ws.dir, timeoutMs: 60_000 });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(/permission denied for table flow_shards/);
    expect(run.stderr).toMatch(/^Next: .*grant/m);
  }, 180_000);
});
