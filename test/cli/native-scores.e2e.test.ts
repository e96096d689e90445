import { spawnSync } from 'node:child_process';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isBatchArtifact, type StoredArtifact } from '../../src/core/artifact.js';
import type { JsonValue } from '../../src/core/canonical-json.js';
import { batchInputOf } from '../../src/runtime/step-data-io.js';
import { openStore } from '../../src/stores/open-store.js';
import { isCi } from '../helpers/ci.js';
import { E2E_TIMEOUT_MS, ensureBuilt, ROOT, type Workspace, workspace } from './support/cli.js';

/** Debian's python3-rdkit belongs to this interpreter (the example's command names it). */
const PYTHON = '/usr/bin/python3';
const probe = spawnSync(PYTHON, ['-c', 'import rdkit'], { encoding: 'utf8' });
const rdkitMissing = probe.status === 0 ? null : `${PYTHON} has no RDKit (install python3-rdkit: scripts/install-chem-tools.sh)`;
if (rdkitMissing !== null && isCi()) throw new Error(`CI is set but ${rdkitMissing}`);

interface RunReport {
  status: string;
  flowId: string;
  flowFingerprint: string;
  steps: { stepId: string; fingerprint: string }[];
}

type Row = Record<string, JsonValue>;

/** The rows of the `native` step's `scores` output, read back from the store the run wrote. */
async function nativeScores(db: string, flowId: string): Promise<Row[]> {
  const store = await openStore(db, { create: false });
  try {
    const events = await store.list(flowId);
    const finished = events.find((e) => e.type === 'StepFinished' && e.stepId === 'native');
    if (finished?.type !== 'StepFinished') throw new Error('native never finished');
    const artifacts: StoredArtifact[] = await store.getArtifacts(finished.outputs);
    const scores = artifacts.find((a) => a.metadata?.name === 'scores' && a.kind === 'chem/native-scores');
    if (scores === undefined) throw new Error(`no scores among ${artifacts.map((a) => a.kind).join(', ')}`);
    // A small batch is stored whole (its payload); a large one as chunks in the blob store.
    if (!isBatchArtifact(scores)) return (scores as unknown as { payload: { scores: Row[] } }).payload.scores;
    const rows: Row[] = [];
    for await (const chunk of batchInputOf(scores, store.blobs).chunks()) rows.push(...(chunk as Row[]));
    return rows;
  } finally {
    await store.close();
  }
}

/** QED and heavy atoms of each SMILES, computed here with RDKit directly, not through chemflow. */
function independentQed(smiles: readonly string[]): { qed: number; heavy: number }[] {
  const code = `import json, sys
from rdkit import Chem
from rdkit.Chem import QED
print(json.dumps([{"qed": round(QED.qed(m), 3), "heavy": m.GetNumHeavyAtoms()} for m in (Chem.MolFromSmiles(s) for s in json.load(sys.stdin))]))`;
  const run = spawnSync(PYTHON, ['-c', code], { input: JSON.stringify(smiles), encoding: 'utf8' });
  if (run.status !== 0) throw new Error(run.stderr);
  return JSON.parse(run.stdout) as { qed: number; heavy: number }[];
}

describe.skipIf(rdkitMissing !== null)('examples/native-scores: native RDKit in a command step', { timeout: E2E_TIMEOUT_MS }, () => {
  let ws: Workspace;
  beforeAll(async () => {
    await ensureBuilt();
    ws = await workspace();
    await cp(join(ROOT, 'examples', 'native-scores'), join(ws.dir, 'native-scores'), { recursive: true });
  }, 180_000);
  afterAll(() => ws?.remove());

  it('scores every molecule with RDKit as RDKit computes it directly, joined with the WebAssembly descriptors; a rerun has the same fingerprints', async () => {
    const run = async (): Promise<RunReport> => {
      const result = await ws.cli('run', 'native-scores/flow.yaml', '--no-cache', '--quiet', '--json');
      expect(result.code, result.stderr).toBe(0);
      return JSON.parse(result.stdout) as RunReport;
    };
    const first = await run();
    expect(first.status).toBe('completed');
    const rows = await nativeScores(ws.db, first.flowId);
    expect(rows).toHaveLength(24);
    expect(Object.keys(rows[0] ?? {}).sort()).toEqual(['clogp', 'embedded', 'heavy_atoms', 'inchikey', 'mw', 'name', 'npr1', 'npr2', 'qed', 'rgyr', 'smiles', 'tpsa']);
    expect(rows.map((r) => r.name).slice(0, 3)).toEqual(['Aspirin', 'Paracetamol', 'Ibuprofen']);

    const direct = independentQed(rows.map((r) => r.smiles as string));
    expect(rows.map((r) => ({ qed: r.qed, heavy: r.heavy_atoms }))).toEqual(direct);
    // Aspirin: QED 0.550 (Bickerton et al.), MW 180.16 from RDKit-WASM, 13 heavy atoms.
    expect(rows[0]).toMatchObject({ name: 'Aspirin', qed: 0.55, mw: 180.16, heavy_atoms: 13, embedded: 1 });
    for (const row of rows) {
      expect(row.embedded).toBe(1);
      const [npr1, npr2] = [row.npr1 as number, row.npr2 as number];
      // Normalised principal moments lie in the triangle rod (0, 1) – disc (0.5, 0.5) – sphere (1, 1).
      expect(npr1).toBeGreaterThanOrEqual(0);
      expect(npr1).toBeLessThanOrEqual(npr2);
      expect(npr1 + npr2).toBeGreaterThanOrEqual(0.99);
      expect(row.rgyr as number).toBeGreaterThan(1);
    }

    const second = await run();
    expect(second.flowId).not.toBe(first.flowId);
    expect(second.flowFingerprint).toBe(first.flowFingerprint);
    expect(second.steps.map((s) => s.fingerprint)).toEqual(first.steps.map((s) => s.fingerprint));
    expect(await nativeScores(ws.db, second.flowId)).toEqual(rows);
  });
});

if (rdkitMissing !== null) describe('examples/native-scores', () => it.skip(`SKIPPED: ${rdkitMissing}`));
