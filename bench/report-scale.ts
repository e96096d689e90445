// `chem/report` over a made-up screen of N molecules, its peak RSS measured in a process of its own:
//
//   npx tsx bench/report-scale.ts [--rows 1000000] [--dir <scratch dir, default a new one in tmp>]
//
// A first process writes the `chem/lipinski` and `chem/descriptors` batches into a blob directory (as a
// flow's earlier steps would, a chunk at a time); a second one runs the report over them and prints its
// time, peak RSS and the size of the page. Not a test: it takes about a minute for a million rows.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BatchArtifact } from '../src/core/artifact.js';
import { streamingInputs } from '../src/runtime/step-data-io.js';
import { openBatchOutput } from '../src/runtime/step-data-io.js';
import { FsBlobStore } from '../src/stores/blobs/fs-blob-store.js';
import { CHEM_KINDS, type LipinskiRule } from '../src/steps/chem-artifacts.js';
import { report } from '../src/steps/report.js';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? undefined : args[at + 1];
};

/** Molecule i: every 25th fails (two violations), values spread over a realistic range. */
function violationsOf(i: number): LipinskiRule[] {
  return i % 25 === 0 ? ['mw', 'clogp'] : i % 7 === 0 ? ['hba'] : [];
}

function letters(n: number, width: number): string {
  let text = '';
  for (let k = 0, rest = n; k < width; k++, rest = Math.floor(rest / 26)) text = String.fromCharCode(65 + (rest % 26)) + text;
  return text;
}

async function generate(dir: string, rows: number): Promise<void> {
  const blobs = new FsBlobStore(join(dir, 'blobs'));
  let failed = 0;
  for (let i = 0; i < rows; i++) if (violationsOf(i).length > 1) failed++;
  const rule = { maxViolations: 1, limits: { mw: 500, clogp: 5, hbd: 5, hba: 10 } };
  const verdicts = openBatchOutput(CHEM_KINDS.lipinski, { rowsField: 'verdicts', header: { rule, passed: rows - failed, failed } }, blobs);
  const descriptors = openBatchOutput(CHEM_KINDS.descriptors, { rowsField: 'rows', header: { decimals: 2 } }, blobs);
  for (let i = 0; i < rows; i++) {
    const inchikey = `${letters(i, 14)}-${letters(i * 7 + 3, 10)}-N`;
    const violations = violationsOf(i);
    await verdicts.push({ inchikey, name: `M${i}`, smiles: 'C'.repeat(1 + (i % 20)), line: i + 2, violations, passes: violations.length <= 1 });
    await descriptors.push({ inchikey, mw: 150 + ((i * 37) % 600) + (i % 100) / 100, clogp: -2 + ((i * 13) % 90) / 10, hbd: i % 6, hba: i % 11, tpsa: 40, rotatableBonds: i % 9 });
  }
  const artifacts = [await verdicts.close(), await descriptors.close()];
  await writeFile(join(dir, 'inputs.json'), JSON.stringify(artifacts));
}

async function runReport(dir: string): Promise<void> {
  const blobs = new FsBlobStore(join(dir, 'blobs'));
  const inputs = JSON.parse(await readFile(join(dir, 'inputs.json'), 'utf8')) as BatchArtifact[];
  const started = performance.now();
  const params = report.parseParams?.({ outDir: 'out', name: 'scale' });
  if (params === undefined) throw new Error('chem/report parses its params');
  const result = await report.run({
    input: streamingInputs(inputs, blobs, () => mkdtemp(join(tmpdir(), 'chemflow-report-scale-'))),
    inputs: {},
    params,
    attempt: 1,
    flowId: '00000000-0000-4000-8000-000000000000',
    stepId: 'report',
    signal: new AbortController().signal,
    baseDir: dir,
    errorHistory: [],
    emit: () => undefined,
    batch: (kind, options) => openBatchOutput(kind, options, blobs),
    file: () => Promise.reject(new Error('the report writes no file artifact')),
  });
  const seconds = (performance.now() - started) / 1000;
  const html = await stat(join(dir, 'out', 'scale.html'));
  console.log(
    JSON.stringify({
      seconds: Math.round(seconds * 10) / 10,
      peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
      htmlKb: Math.round(html.size / 1024),
      outputs: result.outputs.length,
    }),
  );
}

async function main(): Promise<void> {
  const phase = option('phase');
  const rows = Number(option('rows') ?? 1_000_000);
  if (phase === 'generate') return generate(option('dir') as string, rows);
  if (phase === 'report') return runReport(option('dir') as string);
  const given = option('dir');
  const dir = given ?? (await mkdtemp(join(tmpdir(), 'chemflow-report-scale-')));
  const self = fileURLToPath(import.meta.url);
  const run = (p: string): void => {
    const child = spawnSync(process.execPath, [...process.execArgv, self, '--phase', p, '--dir', dir, '--rows', String(rows)], { stdio: 'inherit' });
    if (child.status !== 0) throw new Error(`the ${p} phase exited with ${child.status ?? child.signal}`);
  };
  console.log(`${rows} rows in ${dir}`);
  run('generate');
  run('report');
  if (given === undefined) await rm(dir, { recursive: true, force: true });
}

await main();
