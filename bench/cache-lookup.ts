// The step cache lookup under load: `lookupCache` (one primary-key query) and `findCached`
// (that query plus reading and verifying the entry's artifacts), timed on two schemas of the same
// server in the same run: one holding only the looked-up entries, one with `entries` more finished
// steps bulk-loaded in SQL. Interleaved rounds, as the queue bench does, so that the ratio
// loaded / empty compares like with like on a busy machine.
import { randomUUID } from 'node:crypto';
import { createArtifact } from '../src/core/artifact.js';
import { sha256Hex } from '../src/core/hash.js';
import { findCached } from '../src/runtime/step-cache.js';
import { openPostgresStore } from '../src/stores/open-store.js';
import { lookupCacheQuery } from '../src/stores/sql/cache-queries.js';
import type { SqlFlowStore } from '../src/stores/sql/sql-flow-store.js';
import { BENCH_PG_URL, createBenchSchema } from './pg-admin.js';
import { explain } from './queue-idle.js';
import type { Latency } from './queue.js';
import { median } from './stats.js';

/**
 * Filler row g: a StepFinished of its own flow (the shape the engine writes) and its step_cache row,
 * keyed `sha256('bench-key-' || seq)`. In flow order, so the indexes are built in order.
 */
function bulkLoad(entries: number): string {
  return `INSERT INTO event_log (flow_id, version, ts, event_type, schema_version, payload)
SELECT md5('bench-cache-flow-' || g)::uuid, 1, timestamptz '2025-01-01 00:00:00+00' + g * interval '1 millisecond', 'StepFinished', 1,
  jsonb_build_object('stepIndex', 0, 'stepId', 'step', 'attempt', 1,
    'outputs', jsonb_build_array(encode(sha256(convert_to('bench-out-' || g, 'UTF8')), 'hex')),
    'fingerprint', encode(sha256(convert_to('bench-fp-' || g, 'UTF8')), 'hex'))
FROM generate_series(0, ${entries - 1}) AS g
ORDER BY 1;
INSERT INTO step_cache (cache_key, flow_id, step_id, step_type, output_hashes, source_seq, created_at)
SELECT encode(sha256(convert_to('bench-key-' || e.seq, 'UTF8')), 'hex'), e.flow_id, 'step', 'bench/step', e.payload->'outputs', e.seq, e.ts
FROM event_log e;
ANALYZE event_log;
ANALYZE step_cache`;
}

/** One measurement on both schemas; ratio = loaded / empty, the median of the per-round ratios of medians. */
export interface CacheComparison {
  empty: Latency;
  loaded: Latency;
  ratio: number;
}

export interface CacheLookupResult {
  /** Finished steps bulk-loaded into the loaded schema, besides the looked-up entries both schemas hold. */
  entries: number;
  /** Entries looked up per schema and kind of lookup (each once), the same keys on both. */
  lookups: number;
  rounds: number;
  /** Bulk load (INSERT ... SELECT, ANALYZE) of the loaded schema. */
  loadSeconds: number;
  /** `lookupCache(key)`: the index query alone. */
  lookup: CacheComparison;
  /** `findCached(store, key)`: the lookup, then the entry's artifacts read and verified. */
  find: CacheComparison;
  /** Scan nodes of the lookup's plan with the entries loaded. */
  plan: string[];
}

interface Probe {
  store: SqlFlowStore;
  keys: string[];
  close(): Promise<void>;
}

/** A schema with `entries` bulk-loaded finished steps and `lookups` real ones written as the engine does. */
async function openProbe(label: string, entries: number, lookups: number): Promise<Probe & { loadSeconds: number }> {
  const schema = await createBenchSchema(label);
  const store = await openPostgresStore({ connectionString: BENCH_PG_URL, schema: schema.name, max: 1 }).catch(async (error: unknown) => {
    await schema.drop();
    throw error;
  });
  const close = async (): Promise<void> => {
    await store.close();
    await schema.drop();
  };
  try {
    const start = performance.now();
    if (entries > 0) await store.executor.exec(bulkLoad(entries));
    const loadSeconds = (performance.now() - start) / 1000;
    const keys: string[] = [];
    for (let i = 0; i < lookups; i++) {
      // The same keys and artifacts on both schemas: only the filler differs.
      const key = sha256Hex(`bench-real-key-${i}`);
      const output = createArtifact({ kind: 'bench', payload: { molecules: i, padding: 'x'.repeat(200) } });
      const ts = new Date().toISOString();
      await store.append(
        randomUUID(),
        0,
        [
          { type: 'StepStarted', ts, stepIndex: 0, stepId: 'step', attempt: 1 },
          { type: 'StepFinished', ts, stepIndex: 0, stepId: 'step', attempt: 1, outputs: [output.hash], fingerprint: sha256Hex(`fp-${i}`) },
        ],
        { artifacts: [output], cacheEntry: { key, stepIndex: 0, stepType: 'bench/step' } },
      );
      keys.push(key);
    }
    return { store, keys, loadSeconds, close };
  } catch (error) {
    await close();
    throw error;
  }
}

type Work = (store: SqlFlowStore, key: string) => Promise<void>;
const KINDS: Record<'lookup' | 'find', Work> = {
  lookup: async (store, key) => {
    if ((await store.lookupCache(key)) === null) throw new Error(`no cache entry ${key}`);
  },
  find: async (store, key) => {
    if ((await findCached(store, key)) === null) throw new Error(`cache entry ${key} is not usable`);
  },
};

export async function cacheLookupBench(
  options: { entries: number; lookups: number; rounds: number },
  log: (line: string) => void,
): Promise<CacheLookupResult> {
  const probes: Probe[] = [];
  try {
    const empty = await openProbe('cache_empty', 0, options.lookups);
    probes.push(empty);
    log(`cache: bulk-loading ${options.entries.toLocaleString('en-US')} finished-step cache entries`);
    const loaded = await openProbe('cache_loaded', options.entries, options.lookups);
    probes.push(loaded);
    const runs = { lookup: { empty: [] as number[][], loaded: [] as number[][] }, find: { empty: [] as number[][], loaded: [] as number[][] } };
    // Untimed: the first call of each kind warms the connection and the prepared statement.
    for (const work of Object.values(KINDS)) for (const p of [empty, loaded]) await work(p.store, p.keys[0] ?? '');
    const perRound = Math.ceil(options.lookups / options.rounds);
    for (let round = 0; round < options.rounds; round++) {
      const keys = empty.keys.slice(round * perRound, (round + 1) * perRound);
      // Alternate which schema goes first, so neither always gets the warmer moment.
      const pair = round % 2 === 0 ? ([['empty', empty], ['loaded', loaded]] as const) : ([['loaded', loaded], ['empty', empty]] as const);
      for (const [kind, work] of Object.entries(KINDS) as [keyof typeof KINDS, Work][])
        for (const [side, probe] of pair) runs[kind][side].push(await timeEach(keys, (key) => work(probe.store, key)));
      log(`  round ${round + 1}/${options.rounds} (empty / loaded): lookup ${median(runs.lookup.empty.at(-1) ?? []).toFixed(3)} / ${median(runs.lookup.loaded.at(-1) ?? []).toFixed(3)} ms`);
    }
    const compare = (r: { empty: number[][]; loaded: number[][] }): CacheComparison => ({
      empty: latency(r.empty.flat()),
      loaded: latency(r.loaded.flat()),
      ratio: median(r.loaded.map((values, i) => median(values) / median(r.empty[i] ?? []))),
    });
    return {
      entries: options.entries,
      lookups: options.lookups,
      rounds: options.rounds,
      loadSeconds: loaded.loadSeconds,
      lookup: compare(runs.lookup),
      find: compare(runs.find),
      plan: await explain(loaded.store, lookupCacheQuery(loaded.keys[0] ?? '')),
    };
  } finally {
    for (const probe of probes.reverse()) await probe.close().catch((error: unknown) => log(`cleanup failed: ${String(error)}`));
  }
}

/** Latency of `work` per key, in ms. */
async function timeEach(keys: readonly string[], work: (key: string) => Promise<void>): Promise<number[]> {
  const latencies: number[] = [];
  for (const key of keys) {
    const start = performance.now();
    await work(key);
    latencies.push(performance.now() - start);
  }
  return latencies;
}

function latency(values: readonly number[]): Latency {
  const sorted = [...values].sort((a, b) => a - b);
  return { count: sorted.length, medianMs: median(sorted), p95Ms: sorted[Math.floor(sorted.length * 0.95)] ?? Number.NaN };
}
