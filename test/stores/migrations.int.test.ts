import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { migrate } from '../../src/stores/sql/migrate.js';
import { loadMigrations, type Migration } from '../../src/stores/sql/migration-files.js';
import type { PgExecutor } from '../../src/stores/pg/pg-executor.js';
import { createTestSchema, describeWithPg, type TestSchema } from '../helpers/pg.js';
import { chemflowTables, schemaSnapshot } from '../helpers/schema-snapshot.js';

const run = promisify(execFile);
/** Every migration of the package, in order: numbers may have gaps while parallel branches merge. */
const MIGRATIONS = loadMigrations();
const ALL = MIGRATIONS.map((m) => m.id);
const AFTER_0002 = ALL.filter((id) => id > '0002_workflow_step_artifacts');

describeWithPg('migrations on the PostgreSQL server', () => {
  let schema: TestSchema;
  let db: PgExecutor;
  beforeEach(async () => {
    schema = await createTestSchema('migrations');
    db = schema.executor();
  });
  afterEach(async () => {
    await db.close();
    await schema.drop();
  });

  it('up, down, up again gives the same schema', async () => {
    expect((await migrate(db, 'up')).ran).toEqual(ALL);
    const first = await schemaSnapshot(db);
    expect(first.migrations).toEqual(ALL);
    expect(first.indexes.join('\n')).toContain(
      'idx_step_execution_errors_flow_step_attempt ON ' + `${schema.name}.step_execution_errors USING btree (flow_id, step_id, attempt_number)`,
    );
    expect((await migrate(db, 'down')).ran).toEqual([...ALL].reverse());
    expect(await chemflowTables(db)).toEqual(['chemflow_migrations']);
    expect((await migrate(db, 'up')).ran).toEqual(ALL);
    expect(await schemaSnapshot(db)).toEqual(first);
  });

  it('has exactly the documented columns in step_execution_errors', async () => {
    await migrate(db, 'up');
    const columns = (await schemaSnapshot(db)).columns.filter((c) => c.startsWith('step_execution_errors.'));
    expect(columns).toEqual([
      `step_execution_errors.id integer NO nextval('step_execution_errors_id_seq'::regclass)`,
      'step_execution_errors.flow_id uuid NO -',
      'step_execution_errors.step_id text NO -',
      'step_execution_errors.attempt_number integer NO -',
      'step_execution_errors.error_class text NO -',
      'step_execution_errors.error_message text YES -',
      'step_execution_errors.details jsonb YES -',
      'step_execution_errors.timestamp timestamp with time zone YES now()',
      'step_execution_errors.retry_count integer YES 0',
      'step_execution_errors.max_retries integer YES 3',
    ]);
  });

  it('migrating twice changes nothing', async () => {
    await migrate(db, 'up');
    const before = await schemaSnapshot(db);
    expect((await migrate(db, 'up')).ran).toEqual([]);
    expect(await schemaSnapshot(db)).toEqual(before);
  });

  it('migrates down to a given migration and back up', async () => {
    await migrate(db, 'up');
    expect((await migrate(db, 'down', { to: '0002_workflow_step_artifacts' })).ran).toEqual([...AFTER_0002].reverse());
    expect(await chemflowTables(db)).toEqual(['chemflow_migrations', 'event_log', 'workflow_step_artifacts']);
    expect((await migrate(db, 'up', { to: '0002_workflow_step_artifacts' })).ran).toEqual([]);
    expect((await migrate(db, 'up')).ran).toEqual(AFTER_0002);
    await expect(migrate(db, 'up', { to: '9999_nope' })).rejects.toThrow(/Unknown migration/);
  });

  it('two processes migrating at once both succeed, each migration applied once', async () => {
    const migrateInProcess = () =>
      run(process.execPath, ['--import', 'tsx', 'test/helpers/migrate-process.ts', schema.name], { cwd: process.cwd() });
    const results = await Promise.all([migrateInProcess(), migrateInProcess(), migrateInProcess()]);
    const ran = results.flatMap((r) => (JSON.parse(r.stdout) as { ran: string[] }).ran);
    expect(ran.sort()).toEqual(ALL);
    expect((await schemaSnapshot(db)).migrations).toEqual(ALL);
  });

  it('applies a migration numbered below one already applied (a branch merged later), and reverts in id order', async () => {
    const late: Migration = { id: '0004_late_arrival', up: 'CREATE TABLE late_arrival (id int)', down: 'DROP TABLE late_arrival' };
    // Every real migration stays (later ones need earlier ones: 0008 repairs 0004's flow_queue); the late
    // arrival sorts between 0004_flow_queue and 0005, below migrations already applied.
    const before = MIGRATIONS;
    expect(before.map((m) => m.id).filter((id) => id > late.id)).toContain('0005_artifacts_append_only');
    await migrate(db, 'up', { migrations: before });
    const withLate = [...before, late].sort((a, b) => a.id.localeCompare(b.id));
    expect((await migrate(db, 'up', { migrations: withLate })).ran).toEqual([late.id]);
    expect(await chemflowTables(db)).toContain('late_arrival');
    expect((await migrate(db, 'down', { migrations: withLate })).ran).toEqual(withLate.map((m) => m.id).reverse());
    expect(await chemflowTables(db)).toEqual(['chemflow_migrations']);
  });

  it("0008 rebuilds a sibling shard's outcome after a shard failed for good as failed, repairs rows an older rebuild revived, and its down restores the older rebuild", async () => {
    await migrate(db, 'up', { to: '0007_flow_shards' });
    const flowId = '00000000-0000-4000-8000-000000000008';
    const events: [string, Record<string, unknown>][] = [
      ['FlowInitialized', { flowName: 'sharded' }],
      ['StepStarted', { stepIndex: 0, shardCount: 2 }],
      ['StepStarted', { stepIndex: 0, shard: { index: 0, count: 2 } }],
      ['StepStarted', { stepIndex: 0, shard: { index: 1, count: 2 } }],
      ['StepFailed', { stepIndex: 0, shard: { index: 0, count: 2 } }],
      ['StepSignal', { stepIndex: 0, shard: { index: 1, count: 2 } }],
      ['StepFinished', { stepIndex: 0, shard: { index: 1, count: 2 } }],
    ];
    for (const [i, [type, payload]] of events.entries())
      await db.query(`INSERT INTO event_log (flow_id, version, ts, event_type, schema_version, payload) VALUES ($1, $2, now(), $3, 1, $4::jsonb)`, [
        flowId,
        i + 1,
        type,
        JSON.stringify(payload),
      ]);
    const row = async () =>
      (await db.query<{ status: string; due: boolean }>(`SELECT status, next_due_at IS NOT NULL AS due FROM flow_queue WHERE flow_id = $1`, [flowId]))[0];
    await db.query('SELECT chemflow_rebuild_flow_queue()');
    expect(await row()).toEqual({ status: 'running', due: true }); // the defect of 0004's rebuild
    expect((await migrate(db, 'up')).ran).toEqual(ALL.filter((id) => id > '0007_flow_shards'));
    expect(await row()).toEqual({ status: 'failed', due: false }); // repaired by the migration
    await db.query('SELECT chemflow_rebuild_flow_queue($1::uuid)', [flowId]);
    expect(await row()).toEqual({ status: 'failed', due: false });
    await migrate(db, 'down', { to: '0007_flow_shards' });
    await db.query('SELECT chemflow_rebuild_flow_queue()');
    expect(await row()).toEqual({ status: 'running', due: true });
  });

  it('0014 reads the flowFailed mark of a flow that goes on after a failure, in the status and the rebuild, and its down restores the older rules', async () => {
    await migrate(db, 'up');
    const flowId = '00000000-0000-4000-8000-000000000015';
    const shard = { index: 1, count: 2 };
    const events: [string, Record<string, unknown>][] = [
      ['FlowInitialized', { flowName: 'going', onFailure: 'continue' }],
      ['StepStarted', { stepIndex: 1 }],
      ['StepStarted', { stepIndex: 2, shardCount: 2 }],
      ['StepStarted', { stepIndex: 2, shard }],
      ['StepFailed', { stepIndex: 1, flowFailed: false }],
      ['StepFinished', { stepIndex: 3, flowFailed: true }],
      ['StepFinished', { stepIndex: 2, shard }],
    ];
    const row = async () => (await db.query<{ status: string }>(`SELECT status FROM flow_queue WHERE flow_id = $1`, [flowId]))[0]?.status;
    const statuses: (string | undefined)[] = [];
    for (const [i, [type, payload]] of events.entries()) {
      await db.query(`INSERT INTO event_log (flow_id, version, ts, event_type, schema_version, payload) VALUES ($1, $2, now(), $3, 1, $4::jsonb)`, [flowId, i + 1, type, JSON.stringify(payload)]);
      if (i >= 4) {
        await db.query('SELECT chemflow_rebuild_flow_queue($1::uuid)', [flowId]);
        statuses.push(await row());
      }
    }
    // The failure leaves the flow due; the end of its last branch fails it; a sibling shard's outcome after it keeps it failed.
    expect(statuses).toEqual(['pending', 'failed', 'failed']);
    await migrate(db, 'down', { to: ALL.filter((id) => id < '0014_on_failure').at(-1) as string });
    await db.query('SELECT chemflow_rebuild_flow_queue($1::uuid)', [flowId]);
    expect(await row()).toBe('running'); // the older look-back stops at a StepFinished, whatever its mark
  });

  it("0015 reads a flow's head from its log, not from its queue row, and its down puts the head's columns back from the log", async () => {
    await migrate(db, 'up', { to: '0014_on_failure' });
    const flowId = '00000000-0000-4000-8000-000000000016';
    const events: [string, Record<string, unknown>][] = [
      ['FlowInitialized', { flowName: 'head' }],
      ['StepStarted', { stepIndex: 0 }],
      ['StepFinished', { stepIndex: 0 }],
    ];
    const insert = (i: number) => {
      const [type, payload] = events[i] as [string, Record<string, unknown>];
      return db.query(`INSERT INTO event_log (flow_id, version, ts, event_type, schema_version, payload) VALUES ($1, $2::int, timestamptz '2026-12-01 00:00:00+00' + $2::int * interval '1 second', $3, 1, $4::jsonb)`, [
        flowId,
        i + 1,
        type,
        JSON.stringify(payload),
      ]);
    };
    await insert(0);
    await insert(1);
    await db.query('SELECT chemflow_rebuild_flow_queue($1::uuid)', [flowId]);
    expect((await migrate(db, 'up')).ran).toEqual(ALL.filter((id) => id > '0014_on_failure'));
    const columns = (await schemaSnapshot(db)).columns.filter((c) => c.startsWith('flow_queue.'));
    expect(columns.map((c) => c.split(' ')[0])).toEqual([
      'flow_queue.flow_id',
      'flow_queue.name',
      'flow_queue.status',
      'flow_queue.next_due_at',
      'flow_queue.lease_owner',
      'flow_queue.lease_expires_at',
      'flow_queue.created_at',
    ]);
    await insert(2); // no row written: the head is the log's
    const head = `SELECT q.status, h.version, h.event_type, to_char(h.ts AT TIME ZONE 'UTC', 'HH24:MI:SS') AS ts
      FROM flow_queue q, chemflow_flow_head(q.flow_id) AS h WHERE q.flow_id = $1`;
    expect(await db.query(head, [flowId])).toEqual([{ status: 'running', version: 3, event_type: 'StepFinished', ts: '00:00:03' }]);
    expect(await db.query(`SELECT chemflow_flow_version_now($1::uuid) AS v`, [flowId])).toEqual([{ v: 3 }]);
    expect(await db.query('SELECT chemflow_rebuild_flow_queue($1::uuid) AS n', [flowId])).toEqual([{ n: 1 }]);
    expect(await db.query(`SELECT status FROM flow_queue WHERE flow_id = $1`, [flowId])).toEqual([{ status: 'pending' }]);
    await migrate(db, 'down', { to: '0014_on_failure' });
    const row = `SELECT status, version, last_event_type, to_char(updated_at AT TIME ZONE 'UTC', 'HH24:MI:SS') AS ts FROM flow_queue WHERE flow_id = $1`;
    expect(await db.query(row, [flowId])).toEqual([{ status: 'pending', version: 3, last_event_type: 'StepFinished', ts: '00:00:03' }]);
    await db.query('SELECT chemflow_rebuild_flow_queue($1::uuid)', [flowId]);
    expect(await db.query(row, [flowId])).toEqual([{ status: 'pending', version: 3, last_event_type: 'StepFinished', ts: '00:00:03' }]);
  });

  it('two pools migrating at once both succeed', async () => {
    const other = schema.executor();
    try {
      const [a, b] = await Promise.all([migrate(db, 'up'), migrate(other, 'up')]);
      expect([...a.ran, ...b.ran].sort()).toEqual(ALL);
    } finally {
      await other.close();
    }
  });

  it('0010 keeps whole artifacts as they were, stores batches and files as manifests, and its down refuses while one is stored', async () => {
    await migrate(db, 'up', { to: '0009_queue_due_inline' });
    const whole = 'a'.repeat(64);
    await db.query(`INSERT INTO workflow_step_artifacts (hash, kind, payload) VALUES ($1, 'test/whole', '{"n": 1}')`, [whole]);
    expect((await migrate(db, 'up')).ran).toEqual(ALL.filter((id) => id > '0009_queue_due_inline'));
    expect(await db.query(`SELECT form, payload, manifest FROM workflow_step_artifacts`)).toEqual([{ form: 'whole', payload: { n: 1 }, manifest: null }]);

    const insert = (hash: string, form: string, payload: string | null, manifest: string | null) =>
      db.query(`INSERT INTO workflow_step_artifacts (hash, kind, form, payload, manifest) VALUES ($1, 'test/x', $2, $3::jsonb, $4::jsonb)`, [
        hash,
        form,
        payload,
        manifest,
      ]);
    const batchManifest = JSON.stringify({ rowsField: null, header: {}, rowCount: 1, chunks: [{ hash: 'c'.repeat(64), rows: 1, bytes: 7 }] });
    await expect(insert('b'.repeat(64), 'whole', null, null)).rejects.toThrow(/workflow_step_artifacts_form_shape/);
    await expect(insert('b'.repeat(64), 'batch', '[1]', batchManifest)).rejects.toThrow(/workflow_step_artifacts_form_shape/);
    await expect(insert('b'.repeat(64), 'batch', null, null)).rejects.toThrow(/workflow_step_artifacts_form_shape/);
    await expect(insert('b'.repeat(64), 'table', null, batchManifest)).rejects.toThrow(/workflow_step_artifacts_form_check/);
    await insert('b'.repeat(64), 'batch', null, batchManifest);
    await insert('d'.repeat(64), 'file', null, JSON.stringify({ size: 3, name: 'x.csv' }));

    await expect(migrate(db, 'down', { to: '0009_queue_due_inline' })).rejects.toThrow(
      /cannot revert migration 0010_batch_artifacts: 2 batch or file artifact\(s\) are stored/,
    );
    // Each migration reverts in its own transaction: the later ones went, 0010 and what it holds stay.
    expect((await schemaSnapshot(db)).migrations).toEqual(ALL.filter((id) => id <= '0010_batch_artifacts'));
    expect(await db.query(`SELECT count(*)::int AS n FROM workflow_step_artifacts`)).toEqual([{ n: 3 }]);
  });

  it('0011 admits StepSkipped, leaves its flow due, and its down refuses while one is stored', async () => {
    await migrate(db, 'up');
    const flowId = '2b7d3c90-5a41-4e6f-8c2d-9f1e0a3b4c5d';
    const events: [string, Record<string, unknown>][] = [
      ['FlowInitialized', { flowName: 'gated' }],
      ['StepStarted', { stepIndex: 0 }],
      ['StepFinished', { stepIndex: 0 }],
      ['StepSkipped', { stepIndex: 1, reason: 'condition' }],
    ];
    for (const [i, [type, payload]] of events.entries())
      await db.query(`INSERT INTO event_log (flow_id, version, ts, event_type, schema_version, payload) VALUES ($1, $2, now(), $3, 1, $4::jsonb)`, [
        flowId,
        i + 1,
        type,
        JSON.stringify(payload),
      ]);
    await db.query('SELECT chemflow_rebuild_flow_queue($1::uuid)', [flowId]);
    expect(await db.query(`SELECT status, head.event_type FROM flow_queue, chemflow_flow_head(flow_id) AS head WHERE flow_id = $1`, [flowId])).toEqual([
      { status: 'pending', event_type: 'StepSkipped' },
    ]);
    await expect(migrate(db, 'down', { to: '0010_batch_artifacts' })).rejects.toThrow(/cannot revert migration 0011_step_skipped: 1 StepSkipped event\(s\) are stored/);
    // Each migration reverts in its own transaction: the later ones went, 0011 and those before it stay.
    expect((await schemaSnapshot(db)).migrations).toEqual(ALL.filter((id) => id <= '0011_step_skipped'));
  });

  it("0013 makes flow_shards the work-item queue (a step is shard 0 of 1), and its down removes the step items only", async () => {
    await migrate(db, 'up');
    const flowId = '6c1f0d2a-3b4e-4f5a-9b8c-7d6e5f4a3b2c';
    await db.query(`INSERT INTO flow_shards (flow_id, step_index, shard_index, shard_count, due_at) VALUES ($1, 1, 0, 2, now()), ($1, 1, 1, 2, now())`, [flowId]);
    await db.query(`INSERT INTO flow_shards (flow_id, step_index, shard_index, shard_count, kind, due_at) VALUES ($1, 2, 0, 1, 'step', now())`, [flowId]);
    await expect(db.query(`INSERT INTO flow_shards (flow_id, step_index, shard_index, shard_count, kind) VALUES ($1, 3, 1, 2, 'step')`, [flowId])).rejects.toThrow(/flow_shards_step_whole/);
    expect(await db.query(`SELECT step_index, shard_index, kind FROM flow_shards ORDER BY step_index, shard_index`)).toEqual([
      { step_index: 1, shard_index: 0, kind: 'shard' },
      { step_index: 1, shard_index: 1, kind: 'shard' },
      { step_index: 2, shard_index: 0, kind: 'step' },
    ]);
    await migrate(db, 'down', { to: '0012_errors_by_class' });
    expect(await db.query(`SELECT step_index, shard_index FROM flow_shards ORDER BY step_index, shard_index`)).toEqual([
      { step_index: 1, shard_index: 0 },
      { step_index: 1, shard_index: 1 },
    ]);
    await migrate(db, 'up');
    expect(await db.query(`SELECT DISTINCT kind FROM flow_shards`)).toEqual([{ kind: 'shard' }]);
    expect((await schemaSnapshot(db)).migrations).toEqual(ALL);
  });

  it('artifact_chunks: bytes never change, and only a chunk no stored batch names can be deleted', async () => {
    await migrate(db, 'up');
    const [named, unnamed] = ['1'.repeat(64), '2'.repeat(64)];
    for (const hash of [named, unnamed]) await db.query(`INSERT INTO artifact_chunks (hash, bytes) VALUES ($1, $2)`, [hash, Buffer.from('{"i":0}')]);
    await expect(db.query(`INSERT INTO artifact_chunks (hash, bytes) VALUES ('not a hash', '\\x00')`)).rejects.toThrow(/check constraint/);
    const manifest = JSON.stringify({ rowsField: null, header: {}, rowCount: 1, chunks: [{ hash: named, rows: 1, bytes: 7 }] });
    await db.query(`INSERT INTO workflow_step_artifacts (hash, kind, form, manifest) VALUES ($1, 'test/rows', 'batch', $2::jsonb)`, ['3'.repeat(64), manifest]);

    await expect(db.query(`UPDATE artifact_chunks SET bytes = '\\x00' WHERE hash = $1`, [unnamed])).rejects.toThrow(/append-only/);
    await expect(db.exec('TRUNCATE artifact_chunks')).rejects.toThrow(/append-only/);
    await expect(db.query(`DELETE FROM artifact_chunks WHERE hash = $1`, [named])).rejects.toThrow(/named by a stored batch artifact/);
    await db.query(`DELETE FROM artifact_chunks WHERE hash = $1`, [unnamed]);
    expect(await db.query(`SELECT hash FROM artifact_chunks`)).toEqual([{ hash: named }]);
  });
});
