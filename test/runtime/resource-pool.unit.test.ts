import { describe, expect, it } from 'vitest';
import { ResourcePool, ResourcesExceededError } from '../../src/runtime/resource-pool.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('ResourcePool', () => {
  it('runs at once only what fits, and admits waiters as resources come back', async () => {
    const pool = new ResourcePool({ cpus: 2, memoryMb: 1000 });
    const a = await pool.acquire({ cpus: 1 });
    const b = await pool.acquire({ cpus: 1 });
    expect(pool.inUse).toEqual({ cpus: 2, memoryMb: 0 });
    expect(pool.hasSpare()).toBe(false);
    let cAdmitted = false;
    const c = pool.acquire({ cpus: 1 }).then((release) => ((cAdmitted = true), release));
    await tick();
    expect(cAdmitted).toBe(false);
    a();
    a(); // a second call gives nothing back twice
    const releaseC = await c;
    expect(cAdmitted).toBe(true);
    expect(pool.inUse).toEqual({ cpus: 2, memoryMb: 0 });
    b();
    releaseC();
    expect(pool.inUse).toEqual({ cpus: 0, memoryMb: 0 });
  });

  it('lets a small attempt pass a large one that does not fit yet (first fit, as Nextflow)', async () => {
    const pool = new ResourcePool({ cpus: 4, memoryMb: 4000 });
    const held = await pool.acquire({ cpus: 3 });
    const order: string[] = [];
    const big = pool.acquire({ cpus: 4 }).then((r) => (order.push('big'), r));
    const small = pool.acquire({ cpus: 1 }).then((r) => (order.push('small'), r));
    (await small)();
    expect(order).toEqual(['small']);
    held();
    (await big)();
    expect(order).toEqual(['small', 'big']);
  });

  it('counts memory as well as cores', async () => {
    const pool = new ResourcePool({ cpus: 8, memoryMb: 1000 });
    const a = await pool.acquire({ memoryMb: 600 });
    let admitted = false;
    const b = pool.acquire({ cpus: 1, memoryMb: 600 }).then((r) => ((admitted = true), r));
    await tick();
    expect(admitted).toBe(false);
    a();
    (await b)();
  });

  it('never makes a step without resources wait', async () => {
    const pool = new ResourcePool({ cpus: 1, memoryMb: 1 });
    const full = await pool.acquire({ cpus: 1, memoryMb: 1 });
    const none = await pool.acquire(undefined);
    const empty = await pool.acquire({});
    none();
    empty();
    full();
    expect(pool.inUse).toEqual({ cpus: 0, memoryMb: 0 });
  });

  it('refuses at once a need that could never fit', async () => {
    const pool = new ResourcePool({ cpus: 2, memoryMb: 1000 });
    expect(pool.fits({ cpus: 3 })).toBe(false);
    await expect(pool.acquire({ cpus: 3 })).rejects.toThrow(ResourcesExceededError);
    await expect(pool.acquire({ memoryMb: 1001 })).rejects.toThrow('the step needs 1001 MiB but this process has 2 cpus, 1000 MiB in all');
  });

  it('ends a wait when its attempt is stopped, with nothing taken', async () => {
    const pool = new ResourcePool({ cpus: 1, memoryMb: 10 });
    const held = await pool.acquire({ cpus: 1 });
    const stop = new AbortController();
    const waiting = pool.acquire({ cpus: 1 }, stop.signal);
    stop.abort();
    const release = await waiting;
    release();
    expect(pool.inUse).toEqual({ cpus: 1, memoryMb: 0 });
    held();
    expect(pool.inUse).toEqual({ cpus: 0, memoryMb: 0 });
  });
});
