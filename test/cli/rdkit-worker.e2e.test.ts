import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestSchema, describeWithPg, type TestSchema } from '../helpers/pg.js';
import { chemflow, E2E_TIMEOUT_MS, ensureBuilt, type Workspace, workspace } from './support/cli.js';
import { killLeftoverWorkers, startWorker } from './support/workers.js';

beforeAll(ensureBuilt, 180_000);
afterEach(killLeftoverWorkers);

const ASPIRIN = { smiles: 'CC(=O)Oc1ccccc1C(=O)O', inchikey: 'BSYNRYMUTXBXSQ-UHFFFAOYSA-N', mw: 180.16 };
const CAFFEINE_INCHIKEY = 'RYYVLZVUVIJVGH-UHFFFAOYSA-N';

/** Writes what the chemistry steps produced to `<flowId>.json` beside the flow file. */
const DUMP_STEP = `import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
export default {
  kind: 'sink',
  run(ctx) {
    const payload = (kind) => ctx.input.find((a) => a.kind === kind)?.payload;
    writeFileSync(join(ctx.baseDir, ctx.flowId + '.json'), JSON.stringify({
      rejected: payload('chem/rejected-rows').rows,
      descriptors: payload('chem/descriptors').rows,
    }));
    return { outputs: [] };
  },
};
`;
const flow = (name: string, file: string): string => `name: ${name}
steps:
  - { id: read, uses: chem/read-smiles, params: { file: ${file} } }
  - { id: descriptors, uses: chem/descriptors }
  - { id: dump, uses: ./steps/dump.mjs }
`;

interface Dumped {
  rejected: { line: number; name: string; reason: string }[];
  descriptors: { inchikey: string; mw: number }[];
}

async function prepare(ws: Workspace): Promise<void> {
  await ws.write('steps/dump.mjs', DUMP_STEP);
  await ws.write('chain.csv', `name,smiles\nAspirin,${ASPIRIN.smiles}\nPolyethylene,${'C'.repeat(800)}\nCaffeine,Cn1cnc2c1c(=O)n(C)c(=O)n2C\n`);
  await ws.write('plain.csv', `name,smiles\nAspirin,${ASPIRIN.smiles}\n`);
  await ws.write('chain.yaml', flow('chain', 'chain.csv'));
  await ws.write('plain.yaml', flow('plain', 'plain.csv'));
}

/**
 * Submits a flow whose input holds an 800-carbon chain (more than RDKit's WebAssembly stack can
 * canonicalise: it traps), then a plain one, and lets one worker process (one step thread) run both:
 * the chain is a rejected row, and the next flow in the same thread reads its molecule normally.
 */
async function chainThenPlain(ws: Workspace, db: string): Promise<void> {
  const submit = async (file: string): Promise<string> => {
    const result = await chemflow(['--db', db, 'submit', file], { cwd: ws.dir });
    expect(result.code, result.stderr).toBe(0);
    return result.stdout.trim();
  };
  const chain = await submit('chain.yaml');
  const plain = await submit('plain.yaml');

  const worker = await startWorker(db, ws.dir, ['--once', '--concurrency', '1', '--json']).exited;
  const outcomes = worker.stdout.trim().split('\n').map((l) => JSON.parse(l) as { flowId: string; outcome: string });
  expect(outcomes, worker.stderr).toMatchObject([
    { flowId: chain, outcome: 'completed' },
    { flowId: plain, outcome: 'completed' },
  ]);
  expect(worker.code, worker.stderr).toBe(0);

  const dumped = async (flowId: string): Promise<Dumped> => JSON.parse(await readFile(join(ws.dir, `${flowId}.json`), 'utf8')) as Dumped;
  const first = await dumped(chain);
  expect(first.rejected).toEqual([{ line: 3, name: 'Polyethylene', smiles: 'C'.repeat(800), reason: expect.stringMatching(/^too large for RDKit: .*WebAssembly stack/) as string }]);
  expect(first.descriptors.map((d) => d.inchikey)).toEqual([ASPIRIN.inchikey, CAFFEINE_INCHIKEY]);
  expect(await dumped(plain)).toEqual({ rejected: [], descriptors: [expect.objectContaining({ inchikey: ASPIRIN.inchikey, mw: ASPIRIN.mw })] });
}

describeWithPg('RDKit in a worker process on PostgreSQL', () => {
  let schema: TestSchema;
  let ws: Workspace;
  beforeAll(async () => {
    schema = await createTestSchema('rdkit_worker');
    ws = await workspace();
    await prepare(ws);
  });
  afterAll(async () => {
    await schema?.drop();
    await ws?.remove();
  });

  it('rejects a molecule that traps RDKit as a row, and runs the next flow normally', { timeout: E2E_TIMEOUT_MS }, async () => {
    await chainThenPlain(ws, schema.url);
  });
});

describe('RDKit in a worker process on the embedded database', () => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await workspace();
    await prepare(ws);
  });
  afterAll(() => ws?.remove());

  it('rejects a molecule that traps RDKit as a row, and runs the next flow normally', { timeout: E2E_TIMEOUT_MS }, async () => {
    await chainThenPlain(ws, ws.db);
  });
});
