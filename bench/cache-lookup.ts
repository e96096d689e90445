// The step cache lookup under load (issue 15): `lookupCache` (one primary-key query) and `findCached`
// (that query plus reading and verifying the entry's artifacts) with `entries` finished steps in the
// store: as many StepFinished events and step_cache rows, bulk-loaded in SQL, plus `lookups` real
// entries written through the engine's append path, which are the ones looked up. Not wired into
// `npm run bench` yet: `cacheLookupBench({ entries: 1_000_000, lookups: 1000 })` gives the row.
import { randomUUID } from 'node:crypto';
import { createArtifact } from '../src/core/artifact.js';
import { sha256Hex } from '../src/core/hash.js';
import { findCached } from '../src/runtime/step-cache.js';
import { openPostgresStore } from '../src/stores/open-store.js';
import { BENCH_PG_URL, createBenchSchema } from './pg-admin.js';
import { median } from './stats.js';

/**
 * Filler row g: a StepFinished of its own flow (the shape the engine writes) and its step_cache row,
 * keyed `sha256('bench-key-' || g)`. In flow order, so the indexes are built in order.
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

export interface CacheLookupResult {
  entries: number;
  lookups: number;
  /** `lookupCache(key)`: the index query alone. */
  lookupMedianMs: number;
  lookupP95Ms: number;
  /** `findCached(store, key)`: the lookup, then the entry's artifacts read and verified. */
  findMedianMs: number;
  findP95Ms: number;
  loadSeconds: number;
}

export async function cacheLookupBench(options: { entries: number; lookups: number }): Promise<CacheLookupResult> {
  const schema = await createBenchSchema('cache');
  try {
    const store = await openPostgresStore({ connectionString: BENCH_PG_URL, schema: schema.name, max: 1 });
    try {
      const loadStart = performance.now();
      await store.executor.exec(bulkLoad(options.entries));
      const keys: string[] = [];
      for (let i = 0; i < options.lookups; i++) {
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
      const loadSeconds = (performance.now() - loadStart) / 1000;
      const lookup = await timeEach(keys, async (key) => {
        if ((await store.lookupCache(key)) === null) throw new Error(`no cache entry ${key}`);
      });
      const find = await timeEach(keys, async (key) => {
        if ((await findCached(store, key)) === null) throw new Error(`cache entry ${key} is not usable`);
      });
      return {
        entries: options.entries + options.lookups,
        lookups: options.lookups,
        lookupMedianMs: median(lookup),
        lookupP95Ms: p95(lookup),
        findMedianMs: median(find),
        findP95Ms: p95(find),
        loadSeconds,
      };
    } finally {
      await store.close();
    }
  } finally {
    await schema.drop();
  }
}

/** Latency of `work` per key, in ms; the first call warms the connection and the statement and is dropped. */
async function timeEach(keys: readonly string[], work: (key: string) => Promise<void>): Promise<number[]> {
  const latencies: number[] = [];
  for (const [i, key] of [keys[0] ?? '', ...keys].entries()) {
    const start = performance.now();
    await work(key);
    if (i > 0) latencies.push(performance.now() - start);
  }
  return latencies.sort((a, b) => a - b);
}

function p95(sorted: readonly number[]): number {
  return sorted[Math.floor(sorted.length * 0.95)] ?? Number.NaN;
}
