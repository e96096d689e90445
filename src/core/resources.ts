/**
 * What one attempt of a step needs of the machine it runs on (`resources: { cpus, memoryMb }`), and
 * the rule that admits attempts into a worker's capacity. Scheduling only: never part of any hash, so
 * tuning what a step asks for can never change what its result is.
 */
export interface StepResources {
  /** Cores one attempt (or one shard's attempt) keeps busy; a positive integer. */
  readonly cpus?: number;
  /** Memory one attempt may use, in MiB; a positive integer. */
  readonly memoryMb?: number;
}

/** What a worker (or `chemflow run`) may hand out to the attempts it runs at the same time. */
export interface ResourceCapacity {
  readonly cpus: number;
  readonly memoryMb: number;
}

/** The resources attempts hold right now. */
export interface ResourceUse {
  readonly cpus: number;
  readonly memoryMb: number;
}

export const NO_USE: ResourceUse = Object.freeze({ cpus: 0, memoryMb: 0 });

/** Problems of a `resources` value, as sentences; empty when it is valid. */
export function resourcesProblems(resources: StepResources): string[] {
  const problems: string[] = [];
  for (const key of ['cpus', 'memoryMb'] as const) {
    const value = resources[key];
    if (value !== undefined && !(Number.isSafeInteger(value) && value > 0)) problems.push(`${key} must be a positive integer, not ${String(value)}`);
  }
  return problems;
}

/** A step's needs with what it leaves out counted as nothing: a step that declares no resources waits for none. */
export function needsOf(resources: StepResources | undefined): ResourceUse {
  return { cpus: resources?.cpus ?? 0, memoryMb: resources?.memoryMb ?? 0 };
}

/** Whether an attempt needing `need` could ever run within `capacity` (all of it free). */
export function fitsCapacity(need: StepResources | undefined, capacity: ResourceCapacity): boolean {
  const n = needsOf(need);
  return n.cpus <= capacity.cpus && n.memoryMb <= capacity.memoryMb;
}

/**
 * Whether an attempt needing `need` may start now, with `inUse` held by the attempts running: what it
 * asks for must fit in what is left. An attempt that asks for nothing is always admitted, so a flow
 * without `resources` runs exactly as it would without a capacity.
 */
export function admits(need: StepResources | undefined, capacity: ResourceCapacity, inUse: ResourceUse): boolean {
  const n = needsOf(need);
  if (n.cpus === 0 && n.memoryMb === 0) return true;
  return inUse.cpus + n.cpus <= capacity.cpus && inUse.memoryMb + n.memoryMb <= capacity.memoryMb;
}

/** `inUse` plus (`sign` 1) or minus (`sign` -1) one attempt's needs. */
export function addUse(inUse: ResourceUse, need: StepResources | undefined, sign: 1 | -1): ResourceUse {
  const n = needsOf(need);
  return { cpus: inUse.cpus + sign * n.cpus, memoryMb: inUse.memoryMb + sign * n.memoryMb };
}

/** "2 cpus, 4000 MiB" — how needs and capacities are said in messages. */
export function describeResources(resources: StepResources | ResourceCapacity): string {
  const parts: string[] = [];
  if (resources.cpus !== undefined) parts.push(`${Number.isFinite(resources.cpus) ? resources.cpus : 'any number of'} cpus`);
  if (resources.memoryMb !== undefined) parts.push(`${Number.isFinite(resources.memoryMb) ? resources.memoryMb : 'unlimited'} MiB`);
  return parts.length === 0 ? 'nothing' : parts.join(', ');
}
