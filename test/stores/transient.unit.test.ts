import { describe, expect, it } from 'vitest';
import { ConcurrencyError, StoreError } from '../../src/core/errors.js';
import { migrationsDirectory, loadMigrations } from '../../src/stores/sql/migration-files.js';
import { isConnectionLoss, isTransientDbError, storeFailureOf } from '../../src/stores/sql/store-failure.js';
import { withRetry } from '../../src/stores/sql/transient.js';
import { resolveStoreLocation } from '../../src/stores/open-store.js';

const fast = { attempts: 3, baseDelayMs: 1 };
const withCode = (code: string, message = 'db error') => Object.assign(new Error(message), { code });

describe('transient database errors', () => {
  it.each(['40001', '40P01', '57P01', '08006', '08003', 'ECONNRESET'])('%s is transient', (code) => {
    expect(isTransientDbError(withCode(code))).toBe(true);
  });

  it.each(['23505', '22P02', '42P01', '23514'])('%s is not', (code) => {
    expect(isTransientDbError(withCode(code))).toBe(false);
  });

  it('recognises pg messages for lost or unobtainable connections', () => {
    expect(isConnectionLoss(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isTransientDbError(new Error('timeout exceeded when trying to connect'))).toBe(true);
    expect(isConnectionLoss(withCode('40001'))).toBe(false);
  });

  it('retries a transient failure and tells the work that a connection was lost', async () => {
    const seen: boolean[] = [];
    const result = await withRetry(
      'op',
      (lost) => {
        seen.push(lost);
        if (seen.length === 1) throw withCode('57P01');
        return Promise.resolve('done');
      },
      fast,
    );
    expect(result).toBe('done');
    expect(seen).toEqual([false, true]);
  });

  it('wraps a permanent failure in a StoreError naming the operation, with the cause', async () => {
    const cause = withCode('22P02', 'invalid input syntax');
    const failing = withRetry('read the thing', () => Promise.reject(cause), fast);
    await expect(failing).rejects.toBeInstanceOf(StoreError);
    await expect(withRetry('read the thing', () => Promise.reject(cause), fast)).rejects.toMatchObject({
      operation: 'read the thing',
      cause,
      message: 'read the thing failed: invalid input syntax',
    });
  });

  it('stops after the bounded number of attempts', async () => {
    let calls = 0;
    const failing = withRetry('op', () => Promise.reject(withCode('40001', `attempt ${++calls}`)), fast);
    await expect(failing).rejects.toThrow('op failed: attempt 3 (after 3 attempts)');
    expect(calls).toBe(3);
  });

  it("lets chemflow's typed errors through untouched", async () => {
    const conflict = new ConcurrencyError('f', 1, 2);
    await expect(withRetry('op', () => Promise.reject(conflict), fast)).rejects.toBe(conflict);
  });
});

describe('what kind of failure a database error is', () => {
  it.each([
    ['08006', 'unavailable'],
    ['57P01', 'unavailable'],
    ['53100', 'unavailable'],
    ['40001', 'unavailable'],
    ['ECONNREFUSED', 'unavailable'],
    ['ENOTFOUND', 'unavailable'],
    ['42501', 'permission'],
    ['42P01', 'configuration'],
    ['28P01', 'configuration'],
    ['3D000', 'configuration'],
    ['22003', 'data'],
    ['22P02', 'data'],
    ['54000', 'limit'],
    ['23505', 'refused'],
    ['P0001', 'refused'],
  ] as const)('%s is %s', (code, failure) => {
    expect(storeFailureOf(withCode(code))).toBe(failure);
  });

  it('a lost connection without a code is an outage; so is a driver error with none', () => {
    expect(storeFailureOf(new Error('Connection terminated unexpectedly'))).toBe('unavailable');
    expect(storeFailureOf(new Error('Query read timeout'))).toBe('unavailable');
  });

  it('the StoreError says the kind, its code and the SQLSTATE; only an outage keeps STORE_ERROR', async () => {
    const denied = withRetry('claim shards', () => Promise.reject(withCode('42501', 'permission denied for table flow_shards')), fast);
    await expect(denied).rejects.toMatchObject({
      failure: 'permission',
      code: 'STORE_PERMISSION_DENIED',
      sqlState: '42501',
      message: 'claim shards failed: permission denied for table flow_shards',
    });
    const tooLarge = withRetry('append', () => Promise.reject(withCode('54000', 'total size of jsonb array elements exceeds the maximum')), fast);
    await expect(tooLarge).rejects.toMatchObject({ failure: 'limit', code: 'STORE_LIMIT_EXCEEDED' });
    const away = withRetry('list flows', () => Promise.reject(withCode('ECONNREFUSED', 'connect ECONNREFUSED')), fast);
    await expect(away).rejects.toMatchObject({ failure: 'unavailable', code: 'STORE_ERROR', sqlState: undefined });
  });
});

describe('migration files and locations', () => {
  it('finds the package migrations folder with an up and a down per migration', () => {
    expect(migrationsDirectory()).toMatch(/migrations$/);
    const migrations = loadMigrations();
    expect(migrations.map((m) => m.id)).toEqual([
      '0001_event_log',
      '0002_workflow_step_artifacts',
      '0003_step_execution_errors',
      '0004_flow_queue',
      '0005_artifacts_append_only',
      '0006_step_cache',
      '0007_flow_shards',
      '0008_queue_rebuild_shards',
      '0009_queue_due_inline',
      '0010_batch_artifacts',
      '0011_step_skipped',
      '0012_errors_by_class',
      '0013_work_items',
      '0014_on_failure',
      '0015_queue_row_on_change',
      '0016_open_flows_index',
      '0017_errors_by_code',
    ]);
    for (const m of migrations) {
      expect(m.up).toMatch(/CREATE|ALTER TABLE/);
      // A down drops what its up created, or puts back the definition its up replaced.
      expect(m.down).toMatch(/DROP|CREATE OR REPLACE/);
    }
  });

  it('defaults to DATABASE_URL, else ./.chemflow', () => {
    const saved = process.env.DATABASE_URL;
    try {
      delete process.env.DATABASE_URL;
      expect(resolveStoreLocation()).toBe('./.chemflow');
      process.env.DATABASE_URL = 'postgres://x@h/db';
      expect(resolveStoreLocation()).toBe('postgres://x@h/db');
      expect(resolveStoreLocation('memory')).toBe('memory');
    } finally {
      if (saved === undefined) delete process.env.DATABASE_URL;
      else process.env.DATABASE_URL = saved;
    }
  });
});
