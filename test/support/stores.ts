import type { FlowStore } from '../../src/index.js';
import { MemoryFlowStore } from '../../src/index.js';

export interface StoreFactory {
  name: string;
  /** A fresh, isolated store. */
  create: () => Promise<FlowStore>;
}

/** Every store the engine-level suites run against. */
export const engineStores: StoreFactory[] = [{ name: 'memory', create: () => Promise.resolve(new MemoryFlowStore()) }];
