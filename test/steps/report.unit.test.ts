import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Artifact } from '../../src/core/artifact.js';
import type { ErrorHistoryEntry } from '../../src/core/definition.js';
import { sha256Hex } from '../../src/core/hash.js';
import type { ReportSummary } from '../../src/steps/chem-artifacts.js';
import { descriptors } from '../../src/steps/descriptors.js';
import { lipinskiFilter } from '../../src/steps/lipinski-filter.js';
import { propertyProvider } from '../../src/steps/property-provider.js';
import { readSmiles } from '../../src/steps/read-smiles.js';
import { report } from '../../src/steps/report.js';
import { KNOWN, writeCsv } from './support/molecules.js';
import { artifactsOf, outputOf, runStep, scratchDir } from './support/run-step.js';

let dir: string;
let remove: () => Promise<void>;
let input: Artifact[];
beforeAll(async () => {
  ({ dir, remove } = await scratchDir());
  const file = await writeCsv(dir, [
    ['Aspirin', KNOWN.aspirin.smiles],
    ['Broken, on purpose', 'C1CC('],
    ['Amiodarone <b>&</b>', KNOWN.amiodarone.smiles],
    ['Caffeine', KNOWN.caffeine.smiles],
  ]);
  let artifacts = artifactsOf(await runStep(readSmiles, { params: { file }, baseDir: dir }));
  artifacts = artifactsOf(await runStep(descriptors, { input: artifacts }));
  artifacts = artifactsOf(await runStep(propertyProvider, { input: artifacts }));
  artifacts = artifactsOf(await runStep(lipinskiFilter, { input: artifacts }));
  input = artifacts;
});
afterAll(() => remove());

const history = (start: string): ErrorHistoryEntry[] => [
  { stepId: 'properties', attemptNumber: 1, errorClass: 'Transient', message: 'provider <unavailable>', timestamp: start },
  { stepId: 'properties', attemptNumber: 2, errorClass: 'Transient', message: 'provider unavailable', timestamp: new Date(Date.parse(start) + 250).toISOString() },
  { stepId: 'gate', attemptNumber: 1, errorClass: 'Permanent', message: 'closed', timestamp: new Date(Date.parse(start) + 900).toISOString() },
];

describe('chem/report', () => {
  it('writes a CSV of every input row, rejected ones included, in file order', async () => {
    const run = await runStep(report, { input, params: { outDir: 'out/nested', name: 'r1' }, baseDir: dir });
    const csv = await readFile(join(dir, 'out', 'nested', 'r1.csv'), 'utf8');
    const lines = csv.trimEnd().split('\n');
    expect(lines[0]).toBe(
      'line,name,status,inchikey,smiles,mw,clogp,hbd,hba,tpsa,rotatable_bonds,formula,exact_mass,heavy_atoms,aromatic_rings,fraction_csp3,violations,reason',
    );
    expect(lines.slice(1)).toEqual([
      '2,Aspirin,pass,BSYNRYMUTXBXSQ-UHFFFAOYSA-N,CC(=O)Oc1ccccc1C(=O)O,180.16,1.31,1,4,63.6,2,C9H8O4,180.0423,13,1,0.111,,',
      '3,"Broken, on purpose",rejected,,C1CC(,,,,,,,,,,,,,SMILES Parse Error: syntax error while parsing: C1CC(',
      expect.stringMatching(/^4,Amiodarone <b>&<\/b>,fail,IYIKLHRQXLHMJQ-UHFFFAOYSA-N,.*,645\.32,6\.94,0,4,.*,C25H29I2NO3,.*,mw;clogp,$/) as string,
      expect.stringMatching(/^5,Caffeine,pass,RYYVLZVUVIJVGH-UHFFFAOYSA-N,/) as string,
    ]);
    expect(outputOf<ReportSummary>(run, 'chem/report')).toEqual({
      csv: { path: 'out/nested/r1.csv', sha256: sha256Hex(csv), rows: 4 },
      html: { path: 'out/nested/r1.html' },
      counts: { molecules: 3, passed: 2, failed: 1, rejected: 1 },
    });
  });

  it('writes a self-contained HTML page: one plot point per molecule, one timeline marker per failed attempt', async () => {
    await runStep(report, { input, params: { name: 'r2', title: 'Test <report>' }, baseDir: dir, errorHistory: history('2026-01-01T00:00:00.000Z') });
    const html = await readFile(join(dir, 'out', 'r2.html'), 'utf8');
    expect(html.match(/<circle class="point (pass|fail)"/g)).toHaveLength(3);
    expect(html.match(/<g class="error-marker transient"/g)).toHaveLength(2);
    expect(html.match(/<g class="error-marker permanent"/g)).toHaveLength(1);
    expect(html).toContain('<title>Test &#60;report&#62;</title>');
    expect(html).toContain('Amiodarone &#60;b&#62;&#38;&#60;/b&#62;');
    expect(html).not.toContain('<b>&</b>');
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    expect(html).toContain("default-src 'none'");
  });

  it('keeps times out of its artifact: another error history gives the same payload and CSV', async () => {
    const a = await runStep(report, { input, params: { name: 'r3' }, baseDir: dir, errorHistory: history('2026-01-01T00:00:00.000Z') });
    const htmlA = await readFile(join(dir, 'out', 'r3.html'), 'utf8');
    const b = await runStep(report, { input, params: { name: 'r3' }, baseDir: dir, errorHistory: history('2027-06-01T12:00:00.000Z') });
    const htmlB = await readFile(join(dir, 'out', 'r3.html'), 'utf8');
    expect(b.result.outputs).toEqual(a.result.outputs);
    expect(htmlB).not.toBe(htmlA);
    const none = await runStep(report, { input, params: { name: 'r3' }, baseDir: dir });
    expect(none.result.outputs).toEqual(a.result.outputs);
    expect(await readFile(join(dir, 'out', 'r3.html'), 'utf8')).toContain('No failed attempts');
  });

  it('notes the steps taken from the step cache, and leaves its artifact as it is', async () => {
    const plain = await runStep(report, { input, params: { name: 'r4' }, baseDir: dir });
    expect(await readFile(join(dir, 'out', 'r4.html'), 'utf8')).not.toContain('step cache');
    const cachedFrom = { flowId: '11111111-1111-4111-8111-111111111111', stepId: 'read' };
    const cached = await runStep(report, { input, params: { name: 'r4' }, baseDir: dir, cachedSteps: [{ stepId: 'read', cachedFrom }] });
    const html = await readFile(join(dir, 'out', 'r4.html'), 'utf8');
    expect(html).toContain('1 step(s) were taken from the step cache, not run in this flow');
    expect(html).toContain(`<code>read</code> from flow <code>${cachedFrom.flowId}</code>, step <code>read</code>`);
    expect(cached.result.outputs).toEqual(plain.result.outputs);
  });

  it('fails Validation without the Lipinski verdicts', async () => {
    await expect(runStep(report, { input: input.filter((x) => x.kind !== 'chem/lipinski'), baseDir: dir })).rejects.toMatchObject({
      errorClass: 'Validation',
      code: 'MISSING_INPUT',
    });
  });
});
