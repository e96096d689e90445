import rdkitPackage from '@rdkit/rdkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Artifact } from '../../src/core/artifact.js';
import { ValidationError } from '../../src/core/error-class.js';
import { alerts } from '../../src/steps/alerts.js';
import type { AlertTable } from '../../src/steps/chem-artifacts.js';
import { readSmiles } from '../../src/steps/read-smiles.js';
import { DEFAULT_ALERTS } from '../../src/steps/structural-alerts.js';
import { ALERT_EXAMPLES as EXAMPLES } from './support/alert-examples.js';
import { KNOWN, writeCsv } from './support/molecules.js';
import { issuesOf } from './support/params-issues.js';
import { artifactsOf, hashesOf, outputOf, runStep, scratchDir } from './support/run-step.js';

let dir: string;
let remove: () => Promise<void>;
let input: Artifact[];
beforeAll(async () => {
  ({ dir, remove } = await scratchDir());
  const rows = [...Object.entries(EXAMPLES), ...(['aspirin', 'ibuprofen', 'paracetamol'] as const).map((n) => [n, KNOWN[n].smiles] as const)];
  input = artifactsOf(await runStep(readSmiles, { params: { file: await writeCsv(dir, rows) }, baseDir: dir }));
});
afterAll(() => remove());

describe('chem/alerts', () => {
  it('every default alert has a distinct name and a SMARTS that RDKit reads as a query', async () => {
    expect(DEFAULT_ALERTS.length).toBeGreaterThanOrEqual(10);
    expect(new Set(DEFAULT_ALERTS.map((a) => a.name)).size).toBe(DEFAULT_ALERTS.length);
    const rdkit = await rdkitPackage.default();
    for (const { smarts } of DEFAULT_ALERTS) {
      const q = rdkit.get_qmol(smarts);
      expect(q?.is_valid(), smarts).toBe(true);
      expect(q?.get_num_atoms(), smarts).toBeGreaterThan(0);
      q?.delete();
    }
    expect(() => alerts.parseParams!({ alerts: DEFAULT_ALERTS })).not.toThrow();
  });

  it('finds each default alert in its example molecule and none in aspirin, ibuprofen or paracetamol', async () => {
    const run = await runStep(alerts, { input });
    const table = outputOf<AlertTable>(run, 'chem/alerts');
    expect(Object.keys(table.alerts).sort()).toEqual(DEFAULT_ALERTS.map((a) => a.name).sort());
    const names = [...Object.keys(EXAMPLES), 'aspirin', 'ibuprofen', 'paracetamol'];
    expect(table.rows.map((r, i) => [names[i], r.alerts, r.count])).toEqual(names.map((n) => [n, n in EXAMPLES ? [n] : [], n in EXAMPLES ? 1 : 0]));
    expect(run.artifacts.map((a) => a.kind)).toEqual(['chem/molecules', 'chem/rejected-rows', 'chem/alerts']);
    expect(hashesOf(run).slice(0, 2)).toEqual(input.map((a) => a.hash));
  });

  it('takes its own alerts, and names the matched ones in list order', async () => {
    const own = [
      { name: 'carboxylic acid', smarts: 'C(=O)[OH1]' },
      { name: 'aromatic ring', smarts: 'a1aaaaa1' },
      { name: 'ester', smarts: '[#6]C(=O)O[#6]' },
    ];
    const table = outputOf<AlertTable>(await runStep(alerts, { input, params: { alerts: own } }), 'chem/alerts');
    expect(table.alerts).toEqual({ 'carboxylic acid': 'C(=O)[OH1]', 'aromatic ring': 'a1aaaaa1', ester: '[#6]C(=O)O[#6]' });
    const aspirin = table.rows.find((r) => r.inchikey === KNOWN.aspirin.inchikey);
    expect(aspirin).toEqual({ inchikey: KNOWN.aspirin.inchikey, alerts: ['carboxylic acid', 'aromatic ring', 'ester'], count: 3 });
  });

  it('refuses bad params when they are parsed: an unreadable SMARTS, a repeated name, an empty list', () => {
    const parse = alerts.parseParams!;
    expect(issuesOf(() => parse({ alerts: [{ name: 'open', smarts: 'C(=O' }, { name: 'fine', smarts: 'CO' }, { name: 'fine', smarts: 'CN' }] }))).toEqual([
      ['alerts.2.name', 'name "fine" is already that of item 1'],
      ['alerts.0.smarts', expect.stringMatching(/^RDKit cannot read the SMARTS "C\(=O": SMARTS Parse Error/)],
    ]);
    expect(() => parse({ alerts: [] })).toThrow(/alerts/);
    expect(parse({})).toEqual({ alerts: DEFAULT_ALERTS });
  });

  it('fails Validation without chem/molecules', async () => {
    await expect(runStep(alerts, { input: [{ kind: 'number', payload: { n: 1 } }] })).rejects.toMatchObject({ constructor: ValidationError, code: 'MISSING_INPUT' });
  });
});
