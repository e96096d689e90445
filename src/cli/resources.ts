import type { FlowDefinition } from '../core/definition.js';
import { describeResources, type ResourceCapacity } from '../core/resources.js';
import { hostCapacity, ResourcePool } from '../runtime/resource-pool.js';
import { UsageError } from './cli-error.js';

/** `--cpus` / `--memory-mb` as commands receive them. */
export interface ResourceFlags {
  cpus?: number;
  memoryMb?: number;
}

/** What a process hands out to steps with `resources`: the flags, else this machine's cores and memory. */
export function capacityFrom(flags: ResourceFlags): ResourceCapacity {
  const host = hostCapacity();
  return { cpus: flags.cpus ?? host.cpus, memoryMb: flags.memoryMb ?? host.memoryMb };
}

/**
 * The pool `chemflow run` / `resume` run a flow with. A step that could never fit is refused before
 * anything is written: this process is the only one that would run it, so it would wait for ever.
 */
export function poolForFlow(definition: FlowDefinition, flags: ResourceFlags): ResourcePool {
  const pool = new ResourcePool(capacityFrom(flags));
  const unfit = definition.steps.find((step) => !pool.fits(step.resources));
  if (unfit !== undefined)
    throw new UsageError(
      `Step "${unfit.id}" needs ${describeResources(unfit.resources ?? {})} but this process has ${describeResources(pool.capacity)}`,
      'give it more with --cpus / --memory-mb, lower the step\'s resources, or `chemflow submit` it for a worker that has enough',
    );
  return pool;
}
