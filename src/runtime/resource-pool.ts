import { availableParallelism, totalmem } from 'node:os';
import { addUse, admits, describeResources, fitsCapacity, NO_USE, type ResourceCapacity, type ResourceUse, type StepResources } from '../core/resources.js';

/** An attempt asks for more than the process could ever give it (`ResourcePool.fits` said so first). */
export class ResourcesExceededError extends Error {
  readonly code = 'RESOURCES_EXCEEDED';
  constructor(
    readonly need: StepResources,
    readonly capacity: ResourceCapacity,
  ) {
    super(`the step needs ${describeResources(need)} but this process has ${describeResources(capacity)} in all`);
    this.name = 'ResourcesExceededError';
  }
}

/** What this machine has: its cores and its memory, as Nextflow's local executor assumes. */
export function hostCapacity(): ResourceCapacity {
  return { cpus: availableParallelism(), memoryMb: Math.floor(totalmem() / (1024 * 1024)) };
}

interface Waiter {
  need: StepResources;
  admit: () => void;
}

/**
 * The cores and memory one worker (or `chemflow run`) hands out to the attempts it runs at the same
 * time: an attempt starts once what its step declares fits in what is left (`admits`), and gives it
 * back when it ends. Waiters are looked at in arrival order, and any that fits is admitted — a small
 * attempt may pass a large one that does not fit yet, as in Nextflow's local executor. An attempt of a
 * step without `resources` never waits.
 */
export class ResourcePool {
  private used: ResourceUse = NO_USE;
  private readonly waiters: Waiter[] = [];

  constructor(readonly capacity: ResourceCapacity = hostCapacity()) {}

  /** Whether an attempt needing `need` could ever run here. */
  fits(need: StepResources | undefined): boolean {
    return fitsCapacity(need, this.capacity);
  }

  get inUse(): ResourceUse {
    return this.used;
  }

  /** Whether some cores and memory are free: a worker without any claims no more work until some are. */
  hasSpare(): boolean {
    return this.used.cpus < this.capacity.cpus && this.used.memoryMb < this.capacity.memoryMb;
  }

  /**
   * Waits until `need` fits, takes it, and returns the function that gives it back (call it once).
   * Aborting `signal` ends the wait with nothing taken (the returned function then does nothing): the
   * attempt sees its stop signal and ends without starting. Throws `ResourcesExceededError` at once
   * for a need that could never fit.
   */
  async acquire(need: StepResources | undefined, signal?: AbortSignal): Promise<() => void> {
    if (need === undefined) return () => undefined;
    if (!this.fits(need)) throw new ResourcesExceededError(need, this.capacity);
    if (admits(need, this.capacity, this.used)) return this.take(need);
    if (signal?.aborted === true) return () => undefined;
    const admitted = await new Promise<boolean>((resolve) => {
      const waiter: Waiter = { need, admit: () => resolve(true) };
      const onAbort = (): void => {
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        resolve(false);
      };
      waiter.admit = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve(true);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
    return admitted ? this.giveBackOnce(need) : () => undefined;
  }

  private take(need: StepResources): () => void {
    this.used = addUse(this.used, need, 1);
    return this.giveBackOnce(need);
  }

  /** Resources of an admitted waiter were taken by `admitWaiters`; this gives them back once. */
  private giveBackOnce(need: StepResources): () => void {
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.used = addUse(this.used, need, -1);
      this.admitWaiters();
    };
  }

  private admitWaiters(): void {
    for (let i = 0; i < this.waiters.length; ) {
      const waiter = this.waiters[i] as Waiter;
      if (!admits(waiter.need, this.capacity, this.used)) {
        i += 1;
        continue;
      }
      this.waiters.splice(i, 1);
      this.used = addUse(this.used, waiter.need, 1);
      waiter.admit();
    }
  }
}
