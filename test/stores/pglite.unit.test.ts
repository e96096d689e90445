import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryFlowStore } from '../../src/stores/memory-store.js';
import { migrateStore, openPgliteStore, openStore } from '../../src/stores/open-store.js';
import { STORE_MARKER } from '../../src/stores/pglite/data-dir.js';
import { PgliteExecutor } from '../../src/stores/pglite/pglite-executor.js';
import { migrate } from '../../src/stores/sql/migrate.js';
import { loadMigrations } from '../../src/stores/sql/migration-files.js';
import { SqlFlowStore } from '../../src/stores/sql/sql-flow-store.js';
import { artifactOf, flowInitialized, stepFailed, stepFinished, stepStarted } from '../helpers/events.js';
import { flakyExecutor } from '../helpers/flaky-executor.js';
import { chemflowTables, schemaSnapshot } from '../helpers/schema-snapshot.js';
import { errorRows, eventRowCount } from '../helpers/sql-inspect.js';
import { appendKind, ConcurrencyError, insertStepExecutionError } from '../../src/index.js';

/** Every migration in the package (numbered folders may have gaps while branches are merged). */
const MIGRATION_COUNT = loadMigrations().length;

describe('embedded PGlite store', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'chemflow-pglite-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('persists to its directory across close and reopen (created if missing, with its marker; opened without it as an earlier chemflow left it)', async () => {
    const dir = join(tempDir(), 'nested', 'db');
    const flowId = randomUUID();
    const art = artifactOf({ persisted: randomUUID() });
    const first = await openStore(dir);
    expect(first.kind).toBe('pglite');
    const { events } = await first.append(flowId, 0, [flowInitialized(), stepStarted(0), stepFinished(0, [art.hash])], {
      artifacts: [art],
    });
    await first.close();
    expect(existsSync(join(dir, STORE_MARKER))).toBe(true);
    rmSync(join(dir, STORE_MARKER)); // a PostgreSQL cluster chemflow did not mark: recognised by its own files
    const second = await openStore(dir, { create: false });
    try {
      expect(await second.list(flowId)).toEqual(events);
      expect(await second.getArtifacts([art.hash])).toEqual([art]);
    } finally {
      await second.close();
    }
  });

  it('runs with 16 MB of shared buffers, in a directory and in memory (the memory of the process that opens it)', async () => {
    for (const open of [() => PgliteExecutor.open(join(tempDir(), 'db')), () => PgliteExecutor.open()]) {
      const executor = await open();
      try {
        expect(await executor.query<{ shared_buffers: string }>('SHOW shared_buffers')).toEqual([{ shared_buffers: '16MB' }]);
      } finally {
        await executor.close();
      }
    }
  });

  describe('schema', () => {
    let executor: PgliteExecutor;
    beforeAll(async () => {
      executor = await PgliteExecutor.open();
    });
    afterAll(async () => {
      await executor.close();
    });

    it('migrates up, down and up again to the same schema; twice changes nothing', async () => {
      expect((await migrate(executor, 'up')).ran).toHaveLength(MIGRATION_COUNT);
      const first = await schemaSnapshot(executor);
      expect((await migrate(executor, 'up')).ran).toEqual([]);
      expect((await migrate(executor, 'down')).ran).toHaveLength(MIGRATION_COUNT);
      expect(await chemflowTables(executor)).toEqual(['chemflow_migrations']);
      await migrate(executor, 'up');
      expect(await schemaSnapshot(executor)).toEqual(first);
    });

    it('rejects UPDATE and DELETE of the log and recovers the single connection afterwards', async () => {
      const store = await SqlFlowStore.open(executor);
      const flowId = randomUUID();
      await store.append(flowId, 0, [flowInitialized(), stepFailed(0)]);
      await expect(executor.query('UPDATE event_log SET version = 9')).rejects.toThrow(/append-only/);
      await expect(executor.query('DELETE FROM step_execution_errors')).rejects.toThrow(/append-only/);
      const artifact = artifactOf({ appendOnly: flowId });
      await store.append(randomUUID(), 0, [flowInitialized(), stepFinished(0, [artifact.hash])], { artifacts: [artifact] });
      await expect(executor.query(`UPDATE workflow_step_artifacts SET payload = '1'`)).rejects.toThrow(/append-only/);
      await expect(executor.query('DELETE FROM workflow_step_artifacts')).rejects.toThrow(/append-only/);
      await expect(executor.exec('TRUNCATE workflow_step_artifacts')).rejects.toThrow(/append-only/);
      expect(await store.getArtifacts([artifact.hash])).toEqual([artifact]);
      // A failing multi-statement script inside an explicit transaction must not poison the connection.
      await expect(executor.exec('BEGIN; DELETE FROM event_log;')).rejects.toThrow(/append-only/);
      expect(await eventRowCount(executor, flowId)).toBe(2);
      await store.append(flowId, 2, [stepStarted(0, 2)]);
      expect(await eventRowCount(executor, flowId)).toBe(3);
    });

    it("appendKind appends at the head and never interleaves", async () => {
      const store = await SqlFlowStore.open(executor);
      const flowId = randomUUID();
      const { ts: _ts, ...initialized } = flowInitialized();
      const first = await appendKind(store, flowId, initialized);
      expect([first.type, first.version]).toEqual(['FlowInitialized', 1]);
      const { ts: _started, ...started } = stepStarted(0);
      expect((await appendKind(store, flowId, started)).version).toBe(2);
      await expect(appendKind(store, flowId, started, { expectedVersion: 1 })).rejects.toBeInstanceOf(ConcurrencyError);
      expect((await store.list(flowId)).map((e) => e.version)).toEqual([1, 2]);
    });

    it("insertStepExecutionError writes one row inside the caller's transaction", async () => {
      const flowId = randomUUID();
      const record = {
        flowId,
        stepId: 'score',
        attemptNumber: 2,
        errorClass: 'Transient' as const,
        errorMessage: 'provider timed out',
        details: { stack_trace: 'at score', input_hash: 'abc', params: { n: 1 } },
        timestamp: '2024-03-01T10:00:00.000Z',
        retryCount: 1,
        maxRetries: 3,
      };
      await expect(
        executor.transaction(async (tx) => {
          await insertStepExecutionError(tx, record);
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      expect(await errorRows(executor, flowId)).toEqual([]);
      await executor.transaction((tx) => insertStepExecutionError(tx, record));
      const store = await SqlFlowStore.open(executor);
      expect(await store.getErrorTimeline(flowId, 'score')).toEqual([record]);
    });

    it('rolls a failed transaction back and keeps serving', async () => {
      await expect(
        executor.transaction(async (tx) => {
          await tx.exec('CREATE TABLE scratch (x int)');
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      expect(await chemflowTables(executor)).not.toContain('scratch');
    });
  });

  it('resolves an ambiguous commit (lost connection after the write) without duplicating', async () => {
    const flaky = flakyExecutor(await PgliteExecutor.open());
    const store = await SqlFlowStore.open(flaky);
    try {
      const flowId = randomUUID();
      flaky.loseConnectionAfter(/INSERT INTO event_log/, 2);
      const result = await store.append(flowId, 0, [flowInitialized(), stepFailed(0)]);
      expect(await store.list(flowId)).toEqual(result.events);
      expect(await store.listErrors(flowId)).toHaveLength(1);
    } finally {
      await store.close();
    }
  });

  it('openStore routes locations to the right store; migrateStore works by location', async () => {
    const memory = await openStore('memory');
    expect(memory).toBeInstanceOf(MemoryFlowStore);
    const inMemoryPglite = await openStore('pglite-memory');
    expect(inMemoryPglite.kind).toBe('pglite');
    await inMemoryPglite.close();
    expect(await migrateStore('memory', 'up')).toEqual({ ran: [] });
    const dir = tempDir();
    expect((await migrateStore(dir, 'up')).ran).toHaveLength(MIGRATION_COUNT);
    expect((await migrateStore(dir, 'down')).ran).toHaveLength(MIGRATION_COUNT);
    const store = await openPgliteStore(dir); // opening migrates up again
    try {
      expect(await store.list(randomUUID())).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
