import type { FlowStore } from '../../src/stores/flow-store.js';

/**
 * Waits for a condition (a marker file, a database row), never for a fixed time: polls every 50 ms
 * and fails after a deadline generous enough for a loaded machine, saying what never happened.
 */
export async function waitUntil(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Waits until the lease on `flowId` has run out, as a claim will see it: the stores measure leases by
 * the database's clock or this process's (memory), here both this machine's.
 */
export async function untilLeaseExpired(store: Pick<FlowStore, 'listFlows'>, flowId: string): Promise<void> {
  await waitUntil(async () => {
    const row = (await store.listFlows({ limit: 1_000 })).find((f) => f.flowId === flowId);
    return row !== undefined && (row.leaseExpiresAt === null || Date.parse(row.leaseExpiresAt) + 1 < Date.now());
  }, `the lease of flow ${flowId} to expire`);
}
