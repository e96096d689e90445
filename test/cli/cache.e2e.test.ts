// Through the CLI: the Lipinski example rerun with `--cache` on an embedded
// PGlite database takes every step but the report from the cache, with the fingerprints of a full run.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flowFingerprint } from '../../src/core/fingerprint.js';
import { openPgliteStore } from '../../src/stores/open-store.js';
import { tamperArtifact } from '../helpers/tamper.js';
import { copyLipinskiExample, E2E_TIMEOUT_MS, ensureBuilt, workspace, type Workspace } from './support/cli.js';

interface StepJson {
  stepId: string;
  status: string;
  fingerprint: string;
  attempts: number;
  retryCount: number;
  cached: boolean;
  cachedFrom: { flowId: string; stepId: string } | null;
}
interface FlowJson {
  flowId: string;
  status: string;
  flowFingerprint: string;
  steps: StepJson[];
  errors: { total: number };
}

const UPSTREAM = ['read', 'descriptors', 'properties', 'lipinski'];
const TITLE = "Lipinski's rule of five: 142 approved drugs";

describe('chemflow run --cache on examples/lipinski', () => {
  let ws: Workspace;
  let flowFile: string;
  let original: string;
  beforeAll(async () => {
    await ensureBuilt();
    ws = await workspace();
    flowFile = await copyLipinskiExample(ws); // its out/ and molecules.csv are the workspace's own
    original = await readFile(flowFile, 'utf8');
    expect(original).toContain(TITLE); // the title this test changes is where it expects it
  }, E2E_TIMEOUT_MS);
  afterAll(() => ws?.remove());

  /** `run --cache`, then `status --json` of the flow it ran (what the issue names as the evidence). */
  async function runCached(): Promise<FlowJson> {
    const run = await ws.json<FlowJson>('run', flowFile, '--cache');
    expect(run.status).toBe('completed');
    const status = await ws.json<FlowJson>('status', run.flowId);
    expect(status).toEqual(run);
    return status;
  }
  const cachedOf = (flow: FlowJson) => Object.fromEntries(flow.steps.map((s) => [s.stepId, s.cached]));
  const fingerprintOf = (flow: FlowJson, id: string) => flow.steps.find((s) => s.stepId === id)?.fingerprint;

  it(
    'after a change of the report title only the report runs; a changed molecules.csv reruns everything its output changes',
    { timeout: E2E_TIMEOUT_MS },
    async () => {
      const first = await runCached();
      // The first run computes everything; the flaky provider fails twice then succeeds on attempt 3.
      expect(first.steps.every((s) => !s.cached)).toBe(true);
      expect(first.steps.find((s) => s.stepId === 'properties')).toMatchObject({ attempts: 3, retryCount: 2 });
      expect(first.errors.total).toBe(2);

      await writeFile(flowFile, original.replace(TITLE, 'Rule of five, second look'));
      const retitled = await runCached();
      expect(cachedOf(retitled)).toEqual({ read: true, descriptors: true, properties: true, lipinski: true, report: false });
      for (const id of UPSTREAM) {
        expect(fingerprintOf(retitled, id), id).toBe(fingerprintOf(first, id));
        expect(retitled.steps.find((s) => s.stepId === id)?.cachedFrom).toEqual({ flowId: first.flowId, stepId: id });
      }
      expect(fingerprintOf(retitled, 'report')).not.toBe(fingerprintOf(first, 'report'));
      expect(retitled.flowFingerprint).not.toBe(first.flowFingerprint);
      expect(retitled.flowFingerprint).toBe(flowFingerprint(retitled.steps.map((s) => s.fingerprint)));
      // Taken from the cache, the flaky step did not run: one attempt (the one the cache satisfied), no
      // retry, and the source flow's two Transient errors are not copied.
      expect(retitled.steps.find((s) => s.stepId === 'properties')).toMatchObject({ attempts: 1, retryCount: 0 });
      expect(retitled.errors.total).toBe(0);
      const html = await readFile(join(ws.dir, 'lipinski', 'out', 'lipinski.html'), 'utf8');
      expect(html).toContain('Rule of five, second look');
      expect(html).toContain('4 step(s) were taken from the step cache');

      // Back to the original title: the flow fingerprint of the first run again, so the title was the
      // only difference; the report's fingerprint does not depend on whether its inputs were cached.
      await writeFile(flowFile, original);
      const restored = await runCached();
      expect(restored.flowFingerprint).toBe(first.flowFingerprint);
      expect(cachedOf(restored).report).toBe(false);

      // One valid molecule fewer: the read step reruns, and so does every step its new output reaches.
      const csvFile = join(ws.dir, 'lipinski', 'molecules.csv');
      const csv = await readFile(csvFile, 'utf8');
      const aspirin = 'Aspirin,CC(=O)Oc1ccccc1C(=O)O\n';
      expect(csv).toContain(aspirin);
      await writeFile(csvFile, csv.replace(aspirin, ''));
      const fewer = await runCached();
      expect(cachedOf(fewer)).toEqual({ read: false, descriptors: false, properties: false, lipinski: false, report: false });
      // The read step's fingerprint names its params only (the file's content enters its cache key, not
      // the fingerprint), so it stays; every step after it has new inputs, hence new fingerprints.
      expect(fingerprintOf(fewer, 'read')).toBe(fingerprintOf(first, 'read'));
      for (const id of UPSTREAM.slice(1)) expect(fingerprintOf(fewer, id), id).not.toBe(fingerprintOf(first, id));
      expect(fewer.steps.find((s) => s.stepId === 'properties')).toMatchObject({ attempts: 3, retryCount: 2 });

      const stats = await ws.json<{ hits: number; entries: number }>('cache', 'stats');
      // 4 hits in each of the two retitled runs; 4 entries per distinct csv (the report is never one).
      expect(stats).toMatchObject({ hits: 8, entries: 8 });
    },
  );
});

/** seed → double, each step noting every run of its code in runs.log beside the flow file. */
const COUNTED_FLOW = `name: counted
steps:
  - { id: seed, uses: ./steps/counted-seed.mjs, params: { n: 5 } }
  - { id: double, uses: ./steps/counted-double.mjs }
`;
const COUNTED_SEED = `import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
export default {
  kind: 'source',
  version: '1',
  run(ctx) {
    appendFileSync(join(ctx.baseDir, 'runs.log'), 'seed\\n');
    return { outputs: [{ kind: 'number', payload: { n: ctx.params.n } }] };
  },
};
`;
const COUNTED_DOUBLE = `import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
export default {
  kind: 'transform',
  version: '1',
  run(ctx) {
    appendFileSync(join(ctx.baseDir, 'runs.log'), 'double\\n');
    return { outputs: [{ kind: 'number', payload: { n: ctx.input[0].payload.n * 2 } }] };
  },
};
`;

describe('chemflow run --cache with a tampered source artifact', () => {
  let ws: Workspace;
  beforeAll(async () => {
    await ensureBuilt();
    ws = await workspace();
  }, E2E_TIMEOUT_MS);
  afterAll(() => ws?.remove());

  it('runs the step whose cached output was changed in the database, and takes the others from the cache', { timeout: E2E_TIMEOUT_MS }, async () => {
    const flowFile = await ws.write('counted.yaml', COUNTED_FLOW);
    await ws.write('steps/counted-seed.mjs', COUNTED_SEED);
    await ws.write('steps/counted-double.mjs', COUNTED_DOUBLE);
    const runs = async (): Promise<string[]> => (await readFile(join(ws.dir, 'runs.log'), 'utf8')).trim().split('\n');

    const first = await ws.json<FlowJson>('run', flowFile, '--cache');
    expect(first.status).toBe('completed');
    expect(await runs()).toEqual(['seed', 'double']);

    // The seed's stored output changed behind chemflow's back (no CLI process holds the database now).
    const store = await openPgliteStore(ws.db);
    try {
      const finished = (await store.list(first.flowId)).find((e) => e.type === 'StepFinished' && e.stepId === 'seed');
      if (finished?.type !== 'StepFinished') throw new Error('the first run has no StepFinished of seed');
      await tamperArtifact(store, finished.outputs[0] ?? '', { n: 999 });
    } finally {
      await store.close();
    }

    const second = await ws.json<FlowJson>('run', flowFile, '--cache');
    expect(second.status).toBe('completed');
    // The seed ran again (its entry failed verification); it gave the same content, so double still hit.
    expect(await runs()).toEqual(['seed', 'double', 'seed']);
    expect(second.steps.map((s) => [s.stepId, s.cached])).toEqual([['seed', false], ['double', true]]);
    expect(second.flowFingerprint).toBe(first.flowFingerprint);
  });
});
