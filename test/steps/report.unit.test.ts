import { existsSync } from 'node:fs';
import { mkdir, readFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Artifact } from '../../src/core/artifact.js';
import { openBatchOutput } from '../../src/runtime/step-data-io.js';
import { MemoryBlobStore } from '../../src/stores/blobs/memory-blob-store.js';
import type { JsonObject } from '../../src/core/canonical-json.js';
import type { ErrorHistoryEntry } from '../../src/core/definition.js';
import { sha256Hex } from '../../src/core/hash.js';
import { CHEM_KINDS, type ReportSummary } from '../../src/steps/chem-artifacts.js';
import { descriptors } from '../../src/steps/descriptors.js';
import { lipinskiFilter } from '../../src/steps/lipinski-filter.js';
import { outputBaseDir } from '../../src/steps/output-dir.js';
import { parseCsv } from '../../src/steps/csv.js';
import { propertyProvider } from '../../src/steps/property-provider.js';
import { readSmiles } from '../../src/steps/read-smiles.js';
import { MAX_PLOTTED_POINTS } from '../../src/steps/plot-points.js';
import { MAX_REJECTED_SHOWN, report } from '../../src/steps/report.js';
import { KNOWN, writeCsv } from './support/molecules.js';
import { artifactsOf, outputOf, runStep, scratchDir } from './support/run-step.js';
import { syntheticScreen } from './support/synthetic-screen.js';

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
    // The page's path and hash are recorded for whoever serves it later; the note names the files
    // where they are, whatever the reader's working directory.
    const html = await readFile(join(dir, 'out', 'nested', 'r1.html'), 'utf8');
    expect(run.signals).toEqual([
      { name: 'report-written', data: { html: join(dir, 'out', 'nested', 'r1.html'), sha256: sha256Hex(html) } },
      {
        name: 'note',
        data: `3 molecules: 2 pass the rule of five, 1 fail; 1 input row(s) rejected. Wrote ${join(dir, 'out', 'nested', 'r1.csv')} and ${join(dir, 'out', 'nested', 'r1.html')}`,
      },
    ]);
  });

  it('writes the same files from inputs as batches, and from verdicts and tables in another order', async () => {
    const files = async (outDir: string): Promise<[string, string]> => [
      await readFile(join(dir, outDir, 'r.csv'), 'utf8'),
      await readFile(join(dir, outDir, 'r.html'), 'utf8'),
    ];
    await runStep(report, { input, params: { outDir: 'out/in-order', name: 'r' }, baseDir: dir });
    await runStep(report, { input, inputsAs: 'batches', params: { outDir: 'out/batches', name: 'r' }, baseDir: dir });
    const reversed = input.map((a) => {
      const payload = a.payload as Record<string, unknown>;
      const list = a.kind === 'chem/lipinski' ? 'verdicts' : a.kind === 'chem/rejected-rows' || a.kind === 'chem/descriptors' ? 'rows' : undefined;
      return list === undefined ? a : { kind: a.kind, payload: { ...payload, [list]: [...(payload[list] as unknown[])].reverse() } as JsonObject };
    });
    await runStep(report, { input: reversed, inputsAs: 'batches', params: { outDir: 'out/reversed', name: 'r' }, baseDir: dir });
    const expected = await files('out/in-order');
    expect(await files('out/batches')).toEqual(expected);
    expect(await files('out/reversed')).toEqual(expected);
  });

  it('neutralises a molecule name a spreadsheet would run as a formula, and keeps negative numbers numeric', async () => {
    const named = input.map((a) =>
      a.kind !== 'chem/lipinski'
        ? a
        : { kind: a.kind, payload: { ...(a.payload as object), verdicts: (a.payload as { verdicts: { name: string }[] }).verdicts.map((v) => ({ ...v, name: `=HYPERLINK("http://x.test",${JSON.stringify(v.name)})` })) } },
    );
    await runStep(report, { input: named, params: { name: 'formula' }, baseDir: dir });
    const text = await readFile(join(dir, 'out', 'formula.csv'), 'utf8');
    expect(text.split('\n')[1]).toMatch(/^2,"'=HYPERLINK\(""http:\/\/x\.test"",""Aspirin""\)",pass,BSYNRYMUTXBXSQ-UHFFFAOYSA-N,/);
    const [header, ...rows] = parseCsv(text).map((r) => r.fields);
    const column = (name: string) => rows.filter((r) => r[2] !== 'rejected').map((r) => r[header!.indexOf(name)]);
    expect(column('name')).toEqual(['\'=HYPERLINK("http://x.test","Aspirin")', '\'=HYPERLINK("http://x.test","Amiodarone <b>&</b>")', '\'=HYPERLINK("http://x.test","Caffeine")']);
    expect(column('clogp')).toContain('-1.03'); // caffeine's cLogP, a number, not neutralised
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

  it('draws the structure of every molecule it shows, failing ones included, and shows all of a small screen', async () => {
    await runStep(report, { input, params: { name: 'r5' }, baseDir: dir });
    const html = await readFile(join(dir, 'out', 'r5.html'), 'utf8');
    const failing = section(html, 'failed');
    const amiodarone = failing.match(/<tr class="fail">.*?<\/tr>/s)?.[0] ?? '';
    expect(amiodarone).toContain('Amiodarone');
    expect(amiodarone).toMatch(/<td class="structure"><svg class="depiction" [^>]*aria-label="Structure of Amiodarone[^>]*>\n<path d='M [\d.]+,[\d.]+ L /);
    expect(amiodarone.match(/<text [^>]*>I<\/text>/g)).toHaveLength(2); // its two iodines, labelled
    expect(failing).toContain('Showing all 1; the full table is in <a href="r5.csv">r5.csv</a>.');
    expect(section(html, 'passed')).toContain('Showing all 2; the full table is in');
    expect(html.match(/<svg class="depiction"/g)).toHaveLength(3);
    expect(html).not.toMatch(/<script|<\?xml|xlink|<!--/);
  });

  it('draws a molecule the same, byte for byte, every time', async () => {
    await runStep(report, { input, params: { name: 'r6' }, baseDir: dir });
    const first = await readFile(join(dir, 'out', 'r6.html'), 'utf8');
    await runStep(report, { input, params: { name: 'r6' }, baseDir: dir });
    const depictions = (html: string): string[] => html.match(/<svg class="depiction"[\s\S]*?<\/svg>/g) ?? [];
    expect(depictions(await readFile(join(dir, 'out', 'r6.html'), 'utf8'))).toEqual(depictions(first));
    expect(depictions(first)).toHaveLength(3);
  });

  it('on a big screen shows a bounded selection, the most violations first, and plots every molecule', { timeout: 60_000 }, async () => {
    // 6,000 molecules: every 10th fails (2 violations, every 30th 3), the rest pass.
    const screen = syntheticScreen(6000, (i) => (i % 30 === 0 ? ['mw', 'clogp', 'hba'] : i % 10 === 0 ? ['mw', 'clogp'] : []));
    const run = await runStep(report, { input: screen, params: { name: 'big', maxFailedShown: 250, maxPassedShown: 40 }, baseDir: dir });
    const html = await readFile(join(dir, 'out', 'big.html'), 'utf8');
    const failing = section(html, 'failed');
    const passing = section(html, 'passed');
    expect(failing).toContain('Showing 250 of 600; the full table is in <a href="big.csv">big.csv</a>.');
    expect(passing).toContain('Showing 40 of 5400; the full table is in <a href="big.csv">big.csv</a>.');
    // The 200 with three violations, then the first 50 with two, in file order.
    const failLines = [...failing.matchAll(/<tr class="fail"><td class="num">(\d+)<\/td><td class="structure"><svg class="depiction"/g)].map((m) => Number(m[1]));
    expect(failLines).toHaveLength(250);
    const threeViolations = Array.from({ length: 200 }, (_, k) => k * 30 + 2);
    const twoViolations = Array.from({ length: 50 }, (_, k) => 10 * (k + 1 + Math.floor(k / 2)) + 2);
    expect(failLines).toEqual([...threeViolations, ...twoViolations].sort((a, b) => a - b));
    const passLines = [...passing.matchAll(/<tr class="pass"><td class="num">(\d+)<\/td><td class="structure"><svg class="depiction"/g)].map((m) => Number(m[1]));
    expect(passLines).toEqual(Array.from({ length: 6000 }, (_, i) => i).filter((i) => i % 10 !== 0).slice(0, 40).map((i) => i + 2));
    expect(html.match(/<svg class="depiction"/g)).toHaveLength(290);
    // All 6,000 in the plot: the 600 failing as named circles, the 5,400 passing as one path of dots.
    expect(html.match(/<circle class="point fail"/g)).toHaveLength(600);
    expect(html).not.toContain('<circle class="point pass"');
    expect(html).toMatch(/<path class="dots pass" d="(M\d+ \d+h0)+"><title>5400 passing molecules, \d+ distinct positions/);
    expect(html).not.toMatch(/<script/);
    // The CSV keeps every row.
    expect(outputOf<ReportSummary>(run, 'chem/report').csv.rows).toBe(6000);
    expect((await readFile(join(dir, 'out', 'big.csv'), 'utf8')).trimEnd().split('\n')).toHaveLength(6001);
  });

  it('reports 300,000 molecules with a bounded plot: a deterministic sample of each large verdict, axes over all', { timeout: 300_000 }, async () => {
    const n = 300_000;
    // Every 4th molecule fails: 75,000 failing (all drawn), 225,000 passing (a sample drawn). Written
    // straight into batches, as the earlier steps of a flow write them.
    const blobs = new MemoryBlobStore();
    const rule = { maxViolations: 1, limits: { mw: 500, clogp: 5, hbd: 5, hba: 10 } };
    const verdicts = openBatchOutput(CHEM_KINDS.lipinski, { rowsField: 'verdicts', header: { rule, passed: 225_000, failed: 75_000 } }, blobs);
    const table = openBatchOutput(CHEM_KINDS.descriptors, { rowsField: 'rows', header: { decimals: 2 } }, blobs);
    for (let i = 0; i < n; i++) {
      const inchikey = `${base26(i, 14)}-AAAAAAAAAA-N`;
      const fails = i % 4 === 0;
      await verdicts.push({ inchikey, name: `M${i}`, smiles: 'CC', line: i + 2, violations: fails ? ['mw', 'clogp'] : [], passes: !fails });
      await table.push({ inchikey, mw: 150 + ((i * 37) % 500), clogp: -1 + ((i * 13) % 80) / 10, hbd: 1, hba: 2, tpsa: 40, rotatableBonds: 3 });
    }
    const rejectedCount = MAX_REJECTED_SHOWN + 500;
    const rejected = openBatchOutput(CHEM_KINDS.rejectedRows, { rowsField: 'rows', header: { source: 'big.csv' } }, blobs);
    for (let k = 0; k < rejectedCount; k++) await rejected.push({ line: n + 2 + k, name: `R${k}`, smiles: 'C1CC(', reason: 'unreadable' });
    const input = [await verdicts.close(), await table.close(), await rejected.close()];
    const run = await runStep(report, { input, blobs, params: { name: 'huge', maxFailedShown: 5, maxPassedShown: 5 }, baseDir: dir });
    expect(outputOf<ReportSummary>(run, 'chem/report')).toMatchObject({ csv: { rows: n + rejectedCount }, counts: { molecules: n, passed: 225_000, failed: 75_000, rejected: rejectedCount } });
    const html = await readFile(join(dir, 'out', 'huge.html'), 'utf8');
    expect(html).toContain(`<title id="mw-clogp-title">Molecular weight against cLogP of ${n} molecules</title>`);
    expect(html).toMatch(new RegExp(`<path class="dots pass" d="(M\\d+ \\d+h0)+"><title>225000 passing molecules, a sample of ${MAX_PLOTTED_POINTS} drawn`));
    expect(html).toMatch(/<path class="dots fail" d="(M\d+ \d+h0)+"><title>75000 failing molecules, \d+ distinct positions/);
    expect(html).not.toContain('<circle class="point');
    // The page lists the first rejected rows only; the CSV has them all.
    expect(section(html, 'rejected')).toContain(`Showing the first ${MAX_REJECTED_SHOWN} of ${rejectedCount}`);
    expect(section(html, 'rejected').match(/<tr><td class="num">/g)).toHaveLength(MAX_REJECTED_SHOWN);
    expect(html.length).toBeLessThan(4_000_000);
  });

  it('rejects a negative or fractional bound by name', () => {
    expect(() => report.parseParams?.({ maxFailedShown: -1 })).toThrow(/maxFailedShown/);
    expect(() => report.parseParams?.({ maxPassedShown: 1.5 })).toThrow(/maxPassedShown/);
    expect(report.parseParams?.({})).toMatchObject({ maxFailedShown: 200, maxPassedShown: 200 });
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

  it("draws the flow's steps as a graph beside the error timeline, from ctx.flowSteps, every id escaped", async () => {
    await runStep(report, { input, params: { name: 'r6' }, baseDir: dir });
    expect(await readFile(join(dir, 'out', 'r6.html'), 'utf8')).not.toContain('id="graph"');
    const flowSteps = [
      { stepId: 'read <x>', needs: [], status: 'FinishedOk' as const, attempts: 1, retryCount: 0, cached: true },
      { stepId: 'props', needs: ['read <x>'], status: 'FinishedOk' as const, attempts: 3, retryCount: 2, cached: false },
      { stepId: 'report', needs: ['props'], status: 'Running' as const, attempts: 1, retryCount: 0, cached: false },
    ];
    await runStep(report, { input, params: { name: 'r6' }, baseDir: dir, flowSteps, errorHistory: history('2026-01-01T00:00:00.000Z') });
    const html = await readFile(join(dir, 'out', 'r6.html'), 'utf8');
    const state = /<div class="flow-state">\n<section id="graph">.*?<\/section>\n<section id="errors">.*?<\/section>\n<\/div>/s.exec(html)?.[0] ?? '';
    expect(state.match(/<g class="graph-node /g)).toHaveLength(3);
    expect(state).toContain('data-step="read &#60;x&#62;" data-status="FinishedOk"');
    expect(state).toContain('>finished (cache hit)</text>');
    expect(state).toContain('>attempts 3 · retries 2</text>');
    expect(state).toContain('data-step="report" data-status="Running"');
    expect(state).toContain('<svg id="error-timeline"');
    expect(html).not.toContain('read <x>');
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

  it('refuses an outDir outside the flow file\'s directory when the flow is loaded, unless the step sets allowOutside', () => {
    const problem = (params: unknown): unknown => {
      try {
        report.parseParams?.(params);
        return undefined;
      } catch (error) {
        return (error as { issues?: unknown }).issues;
      }
    };
    const refusal = (outDir: string, why: string) => [
      expect.objectContaining({
        path: ['outDir'],
        message: `${JSON.stringify(outDir)} ${why}: the report is written inside the flow file's directory unless the step sets allowOutside: true`,
      }),
    ];
    expect(problem({ outDir: '/tmp/reports' })).toEqual(refusal('/tmp/reports', 'is an absolute path'));
    for (const outDir of ['..', '../../elsewhere', 'out/../../up']) expect(problem({ outDir }), outDir).toEqual(refusal(outDir, 'leads out with ".."'));
    expect(report.parseParams?.({ outDir: 'out/../reports' })).toMatchObject({ outDir: 'out/../reports' });
    expect(report.parseParams?.({ outDir: '/tmp/reports', allowOutside: true })).toMatchObject({ outDir: '/tmp/reports', allowOutside: true });
    expect(() => report.parseParams?.({ allowOutside: 'yes' })).toThrow(/allowOutside/);
    expect(report.parseParams?.({})).not.toHaveProperty('allowOutside'); // absent: fingerprints of existing flows unchanged
  });

  it('writes outside only with allowOutside, records the absolute path then, and refuses an out directory that links outside', async () => {
    const { dir: elsewhere, remove: removeElsewhere } = await scratchDir();
    try {
      const run = await runStep(report, { input, params: { outDir: join(elsewhere, 'reports'), allowOutside: true, name: 'abs' }, baseDir: dir });
      expect(existsSync(join(elsewhere, 'reports', 'abs.csv'))).toBe(true);
      expect(outputOf<ReportSummary>(run, 'chem/report')).toMatchObject({
        csv: { path: join(elsewhere, 'reports', 'abs.csv') },
        html: { path: join(elsewhere, 'reports', 'abs.html') },
      });
      expect(run.signals.find((signal) => signal.name === 'note')?.data).toMatch(new RegExp(`Wrote ${join(elsewhere, 'reports', 'abs.csv')} and ${join(elsewhere, 'reports', 'abs.html')}$`));

      // A link inside the flow's directory to another tree is outside it too.
      await mkdir(join(elsewhere, 'target'));
      await symlink(join(elsewhere, 'target'), join(dir, 'linked'));
      const refused = (await runStep(report, { input, params: { outDir: 'linked/reports', name: 'link' }, baseDir: dir }).catch((e: unknown) => e)) as Error;
      expect(refused).toMatchObject({ errorClass: 'Validation', code: 'OUTDIR_OUTSIDE' });
      expect(refused.message).toContain(`"linked/reports" resolves to ${join(elsewhere, 'target', 'reports')}`);
      expect(refused.message).toContain('set allowOutside: true on the step');
      expect(existsSync(join(elsewhere, 'target', 'reports'))).toBe(false);
      await runStep(report, { input, params: { outDir: 'linked/reports', allowOutside: true, name: 'link' }, baseDir: dir });
      expect(existsSync(join(elsewhere, 'target', 'reports', 'link.csv'))).toBe(true);
    } finally {
      await removeElsewhere();
    }
  });

  it('resolves outDir against the working directory when the flow file is inside an installed package', () => {
    expect(outputBaseDir('/home/me/project', '/home/me')).toBe('/home/me/project');
    expect(outputBaseDir('/home/me/project/node_modules/chemflow/examples/lipinski', '/home/me/project')).toBe('/home/me/project');
    expect(outputBaseDir('/home/me/node_modules_backup/flows', '/home/me')).toBe('/home/me/node_modules_backup/flows');
  });

  it('fails Validation without the Lipinski verdicts', async () => {
    await expect(runStep(report, { input: input.filter((x) => x.kind !== 'chem/lipinski'), baseDir: dir })).rejects.toMatchObject({
      errorClass: 'Validation',
      code: 'MISSING_INPUT',
    });
  });
});

/** The HTML of one `<section id="…">`. */
/** `n` in base 26 as `width` capital letters: a distinct, valid-looking InChIKey block. */
function base26(n: number, width: number): string {
  let text = '';
  for (let k = 0, rest = n; k < width; k++, rest = Math.floor(rest / 26)) text = String.fromCharCode(65 + (rest % 26)) + text;
  return text;
}

function section(html: string, id: string): string {
  const start = html.indexOf(`<section id="${id}">`);
  expect(start).toBeGreaterThan(-1);
  return html.slice(start, html.indexOf('</section>', start));
}
