import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminQuery, createTestSchema, pgAvailable, type TestSchema } from '../helpers/pg.js';
import { waitUntil } from '../support/wait-until.js';

/** Kills every connection that carries `applicationName` (only this test's own). */
async function terminate(applicationName: string): Promise<number> {
  const rows = await adminQuery<{ ok: boolean }>(
    'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1',
    [applicationName],
  );
  return rows.filter((row) => row.ok).length;
}

/**
 * Waits until the server has really dropped the connection (its backend is gone) and the client has read
 * its goodbye: sent before the backend exited, it is read with the answer that showed it gone, and
 * handled before the next turn of the event loop.
 */
async function settle(applicationName: string): Promise<void> {
  const backends = async (): Promise<number> =>
    (await adminQuery<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [applicationName]))[0]?.n ?? 0;
  await waitUntil(async () => (await backends()) === 0, 'the server to drop the connection');
  await new Promise((resolve) => setImmediate(resolve));
}

describe.runIf(pgAvailable)('a connection lost while chemflow holds it (PostgreSQL server)', () => {
  let schema: TestSchema;
  beforeAll(async () => {
    schema = await createTestSchema('conn_errors');
  });
  afterAll(async () => {
    await schema.drop();
  });

  it('inside a transaction, between two statements: the transaction fails, the process does not crash', async () => {
    const applicationName = `cf-txkill-${randomUUID().slice(0, 8)}`;
    const executor = schema.executor({ applicationName });
    try {
      // Without an 'error' listener on the checked-out client, this kill is an uncaught exception.
      const work = executor.transaction(async (tx) => {
        await tx.query('SELECT 1');
        expect(await terminate(applicationName)).toBe(1);
        await settle(applicationName);
        await tx.query('SELECT 2');
      });
      await expect(work).rejects.toThrow(/terminat|not queryable|Connection/i);
      // The pool replaces the dead connection.
      expect(await executor.query<{ n: number }>('SELECT 3 AS n')).toEqual([{ n: 3 }]);
    } finally {
      await executor.close();
    }
  });

  it('while idle in the pool: dropped from the pool, the next statement gets a new connection', async () => {
    const applicationName = `cf-idlekill-${randomUUID().slice(0, 8)}`;
    const executor = schema.executor({ applicationName });
    try {
      await executor.query('SELECT 1');
      expect(await terminate(applicationName)).toBe(1);
      await settle(applicationName);
      expect(await executor.query<{ n: number }>('SELECT 2 AS n')).toEqual([{ n: 2 }]);
    } finally {
      await executor.close();
    }
  });
});
