import { copyFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isWholeArtifact } from '../../src/core/artifact.js';
import { FlowEngine, type FlowInstance } from '../../src/index.js';
import { loadFlowFile, type LoadedFlowFile } from '../../src/flowfile/index.js';
import type { SqlFlowStore } from '../../src/stores/sql/sql-flow-store.js';
import { BUILTIN_STEPS } from '../../src/steps/builtin.js';
import type { LipinskiResult, MoleculeSet, RejectedRows, ReportSummary } from '../../src/steps/chem-artifacts.js';
import { scratchDir } from './support/run-step.js';
import { templatePgliteStore } from '../support/pglite-template.js';

const EXAMPLE = join(import.meta.dirname, '..', '..', 'examples', 'lipinski');

let dir: string;
let remove: () => Promise<void>;
let store: SqlFlowStore;
let loaded: LoadedFlowFile;
beforeAll(async () => {
  ({ dir, remove } = await scratchDir());
  // A copy, so this run's out/ never meets the one `npm start` or the CLI test writes.
  await copyFile(join(EXAMPLE, 'flow.yaml'), join(dir, 'flow.yaml'));
  await copyFile(join(EXAMPLE, 'molecules.csv'), join(dir, 'molecules.csv'));
  loaded = await loadFlowFile(join(dir, 'flow.yaml'), { builtins: BUILTIN_STEPS });
  store = await templatePgliteStore();
}, 60_000);
afterAll(async () => {
  await store.close();
  await remove();
});

async function run(): Promise<FlowInstance> {
  const engine = new FlowEngine({ store, retryPolicy: loaded.retryPolicy, baseDir: loaded.baseDir });
  const flowId = await engine.startFlow(loaded.definition);
  const flow = await engine.runToEnd(flowId, loaded.definition);
  expect(flow.status).toBe('completed');
  expect(flow.steps.map((s) => [s.stepId, s.status, s.attempts, s.retryCount])).toEqual([
    ['read', 'FinishedOk', 1, 0],
    ['descriptors', 'FinishedOk', 1, 0],
    ['properties', 'FinishedOk', 3, 2],
    ['lipinski', 'FinishedOk', 1, 0],
    ['report', 'FinishedOk', 1, 0],
  ]);
  return flow;
}

async function artifact<T>(flow: FlowInstance, stepIndex: number, kind: string): Promise<T> {
  const artifacts = await store.getArtifacts(flow.steps[stepIndex]?.outputs ?? []);
  const found = artifacts.find((a) => a.kind === kind);
  // The example's artifacts are small: kept whole, with their payloads in the database.
  if (found === undefined || !isWholeArtifact(found)) throw new Error(`no whole ${kind} artifact`);
  return found.payload as T;
}

describe('examples/lipinski/flow.yaml on the embedded database', () => {
  it('reads 142 drugs, reports the 2 invalid rows, retries the provider twice, fails 6 on the rule of five — the same fingerprint twice', { timeout: 120_000 }, async () => {
    const first = await run();
    const second = await run();
    expect(first.flowFingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(second.flowFingerprint).toBe(first.flowFingerprint);

    const counts = await store.countErrorsByFlow(first.id);
    expect(counts).toMatchObject({ total: 2, byClass: { Transient: 2, Permanent: 0, Validation: 0, Runtime: 0 } });
    expect((await store.listErrors(first.id)).map((e) => [e.stepId, e.attemptNumber, e.errorClass])).toEqual([
      ['properties', 1, 'Transient'],
      ['properties', 2, 'Transient'],
    ]);

    const molecules = await artifact<MoleculeSet>(first, 0, 'chem/molecules');
    expect(molecules.molecules).toHaveLength(142);
    expect(molecules.molecules.find((m) => m.name === 'Aspirin')?.inchikey).toBe('BSYNRYMUTXBXSQ-UHFFFAOYSA-N');
    const rejected = await artifact<RejectedRows>(first, 0, 'chem/rejected-rows');
    expect(rejected.rows.map((r) => r.line)).toEqual([42, 97]);
    const lipinski = await artifact<LipinskiResult>(first, 3, 'chem/lipinski');
    expect(lipinski.verdicts.filter((v) => !v.passes).map((v) => v.name)).toEqual([
      'Atorvastatin', 'Methotrexate', 'Montelukast', 'Amiodarone', 'Ritonavir', 'Telmisartan',
    ]);
    const report = await artifact<ReportSummary>(first, 4, 'chem/report');
    expect(report.counts).toEqual({ molecules: 142, passed: 136, failed: 6, rejected: 2 });
    expect(report.csv.path).toBe('out/lipinski.csv');
    const csv = await readFile(join(dir, report.csv.path), 'utf8');
    expect(csv.trimEnd().split('\n')).toHaveLength(1 + 144);
  });
});
