// chemflow against plain native RDKit on the same molecules and the same cores: the screening example's
// chemistry (parse, canonical SMILES, the six descriptors of chem/descriptors) as bench/native/screen.py
// with /usr/bin/python3's RDKit in 2 processes, and `chemflow run examples/screening/flow.yaml` (the
// built CLI, a fresh embedded store in a temporary directory, --concurrency 2) on the same CSV. Each
// run's wall time and the peak RSS of every process; ratio = chemflow / native (2 processes), the
// median of per-round ratios. Every canonical SMILES and descriptor of chemflow's report CSV must
// equal the native script's: a difference fails the section. A second chemflow row runs
// bench/native/flow.yaml: the script's own work as a flow — the rows read by `table/read-csv` (no
// chemistry), screen.py itself as a mapped command step in `cores` shards run at the same time, the rows
// written back in screen.py's columns: chemflow orchestrating native RDKit, against the plain script.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliPath } from './cli-workers.js';
import { sampleSmiles, wasmOpCosts, type OpCosts } from './native-ops.js';
import { median, sample, type Sample } from './stats.js';

/** Debian's python3-rdkit belongs to this interpreter; a `python3` earlier on PATH (pyenv) may lack RDKit. */
export const PYTHON = '/usr/bin/python3';

export class NativeUnavailableError extends Error {}

export interface NativeOptions {
  root: URL;
  /** CSVs (`name,smiles`) screened, in this order. */
  libraries: string[];
  /** Rounds per library (each round runs every configuration once, the order reversed every other round). */
  rounds: (library: string) => number;
  /** Whether the example's WebAssembly flow runs on this library too (it takes ~25 minutes on 1,000,000 molecules). */
  exampleFlow: (library: string) => boolean;
  /** Processes of the native script; chemflow gets as many step threads. */
  cores: number;
}

/** One process of a run and its peak resident set (VmHWM), in MB. */
export interface PeakRss {
  pid: number;
  command: string;
  peakRssMb: number;
}

export interface TimedRun {
  seconds: number;
  /** User + system CPU seconds of the process and the processes it waited for (its threads included). */
  cpuSeconds: number;
  processes: PeakRss[];
  /** What the command printed on stdout. */
  stdout: string;
}

export interface LibraryResult {
  file: string;
  molecules: number;
  rounds: number;
  /** The native script in 1 process, and in `cores` processes. */
  native1: Sample;
  native: Sample;
  /** Null when the example's flow did not run on this library (`exampleFlow`), and so the fields that come from it. */
  chemflow: Sample | null;
  /** bench/native/flow.yaml: the rows read by chemflow, native RDKit (screen.py) in a mapped command step. */
  chemflowNative: Sample;
  /** CPU seconds (user + system, all processes) of the same runs: far less moved by a busy neighbour than wall time. */
  cpu: { native1: Sample; native: Sample; chemflow: Sample | null; chemflowNative: Sample };
  /** chemflow / native (`cores` processes): the median of per-round ratios. */
  ratio: number | null;
  /** The same ratio of CPU seconds. */
  cpuRatio: number | null;
  /** chemflowNative / native (`cores` processes), wall and CPU: medians of per-round ratios. */
  nativeStepRatio: number;
  nativeStepCpuRatio: number;
  /** The flow fingerprint of every round's `chemflow run` of the example flow (`run --json`): one value when runs agree. */
  flowFingerprints: string[];
  /** Peak RSS of every process of the last round's runs. */
  peakRss: { native1: PeakRss[]; native: PeakRss[]; chemflow: PeakRss[] | null; chemflowNative: PeakRss[] };
  /** Rows of the example flow's report compared (by name), and every difference (the first 20 shown); null when it did not run. */
  compared: number | null;
  differences: number;
  firstDifferences: string[];
  /** The same comparison for bench/native/flow.yaml's CSV. */
  nativeStepDifferences: number;
  firstNativeStepDifferences: string[];
}

export interface NativeResult {
  python: string;
  rdkitNative: string;
  cores: number;
  libraries: LibraryResult[];
  /** Per-molecule microseconds of each RDKit operation, natively and in chemflow's WebAssembly RDKit. */
  ops: { molecules: number; native: OpCosts; wasm: OpCosts };
  ok: boolean;
}

/** The RDKit version of /usr/bin/python3; throws NativeUnavailableError when it has none. */
export function nativeRdkitVersion(): string {
  const probe = spawnSync(PYTHON, ['-c', 'import rdkit; print(rdkit.__version__)'], { encoding: 'utf8' });
  if (probe.status !== 0)
    throw new NativeUnavailableError(
      `${PYTHON} has no RDKit (install Debian's python3-rdkit: scripts/install-chem-tools.sh): ${(probe.stderr || String(probe.error)).trim().split('\n').pop()}`,
    );
  return probe.stdout.trim();
}

export async function nativeBench(options: NativeOptions, log: (line: string) => void): Promise<NativeResult> {
  const rdkitNative = nativeRdkitVersion();
  const root = fileURLToPath(options.root);
  const cli = cliPath(options.root);
  const script = join(root, 'bench', 'native', 'screen.py');
  const flowFile = join(root, 'examples', 'screening', 'flow.yaml');
  const nativeFlowDir = join(root, 'bench', 'native');
  const libraries: LibraryResult[] = [];
  // A new embedded database is a copy of the cluster template in the user's cache (docs/cli.md), made
  // the first time one is created: made here, before any timed run, so that every round pays the copy.
  const warm = mkdtempSync(join(tmpdir(), 'cf-bench-native-template-'));
  try {
    const made = await timedProcess(process.execPath, [cli, '--db', join(warm, 'db'), 'migrate'], warm);
    log(`native: an embedded database created before the rounds (the cluster template, if missing): ${made.seconds.toFixed(1)} s`);
  } finally {
    rmSync(warm, { recursive: true, force: true });
  }
  for (const library of options.libraries) {
    const molecules = readFileSync(library, 'utf8').split('\n').length - 2;
    const rounds = options.rounds(library);
    const withExample = options.exampleFlow(library);
    log(`native: ${molecules.toLocaleString('en-US')} molecules (${library}), ${rounds} round(s), ${options.cores} cores${withExample ? '' : ", without the example's WebAssembly flow"}`);
    const fingerprints = new Set<string>();
    const runs = { native1: [] as TimedRun[], native: [] as TimedRun[], chemflow: [] as TimedRun[], chemflowNative: [] as TimedRun[] };
    const ratios: number[] = [];
    const cpuRatios: number[] = [];
    const nativeStepRatios: number[] = [];
    const nativeStepCpuRatios: number[] = [];
    const nativeStepDifferences: string[] = [];
    let compared = 0;
    const differences: string[] = [];
    for (let round = 0; round < rounds; round++) {
      const dir = mkdtempSync(join(tmpdir(), 'cf-bench-native-'));
      try {
        const nativeCsv = join(dir, 'native.csv');
        const native = (): Promise<TimedRun> => timedProcess(PYTHON, [script, library, '--out', nativeCsv, '--procs', String(options.cores)], dir);
        const chemflow = (): Promise<TimedRun> => {
          // The example's flow, reading this library by absolute path, run in its own directory.
          const flow = readFileSync(flowFile, 'utf8').replace('file: molecules.csv', `file: ${JSON.stringify(library)}`);
          writeFileSync(join(dir, 'flow.yaml'), flow);
          return timedProcess(process.execPath, [cli, '--db', join(dir, 'db'), 'run', '--json', '--concurrency', String(options.cores), 'flow.yaml'], dir);
        };
        const chemflowNative = (): Promise<TimedRun> => {
          // bench/native/flow.yaml beside copies of screen.py and write-screen.mjs, reading this library, in `cores` shards.
          const work = join(dir, 'native-step');
          mkdirSync(work, { recursive: true });
          for (const file of ['screen.py', 'write-screen.mjs']) copyFileSync(join(nativeFlowDir, file), join(work, file));
          const flow = readFileSync(join(nativeFlowDir, 'flow.yaml'), 'utf8')
            .replace(/file: \S+,/, `file: ${JSON.stringify(library)},`)
            .replace(/shardSize: \d+/, `shardSize: ${Math.ceil(molecules / options.cores)}`);
          writeFileSync(join(work, 'flow.yaml'), flow);
          return timedProcess(process.execPath, [cli, '--db', join(work, 'db'), 'run', '--quiet', '--concurrency', String(options.cores), 'flow.yaml'], work);
        };
        const all = round % 2 === 0 ? (['native', 'chemflow', 'chemflowNative'] as const) : (['chemflowNative', 'chemflow', 'native'] as const);
        const order = all.filter((which) => withExample || which !== 'chemflow');
        const got: Partial<Record<'native' | 'chemflow' | 'chemflowNative', TimedRun>> = {};
        for (const which of order) {
          got[which] = await (which === 'native' ? native() : which === 'chemflow' ? chemflow() : chemflowNative());
          log(`  round ${round + 1}: ${which} ${got[which].seconds.toFixed(1)} s (CPU ${got[which].cpuSeconds.toFixed(1)} s)`);
        }
        const one = await timedProcess(PYTHON, [script, library, '--out', join(dir, 'native-1.csv'), '--procs', '1'], dir);
        log(`  round ${round + 1}: native, 1 process ${one.seconds.toFixed(1)} s (CPU ${one.cpuSeconds.toFixed(1)} s)`);
        runs.native1.push(one);
        runs.native.push(got.native as TimedRun);
        if (got.chemflow !== undefined) {
          runs.chemflow.push(got.chemflow);
          fingerprints.add((JSON.parse(got.chemflow.stdout) as { flowFingerprint: string }).flowFingerprint);
          ratios.push(got.chemflow.seconds / (got.native as TimedRun).seconds);
          cpuRatios.push(got.chemflow.cpuSeconds / (got.native as TimedRun).cpuSeconds);
        }
        runs.chemflowNative.push(got.chemflowNative as TimedRun);
        nativeStepRatios.push((got.chemflowNative as TimedRun).seconds / (got.native as TimedRun).seconds);
        nativeStepCpuRatios.push((got.chemflowNative as TimedRun).cpuSeconds / (got.native as TimedRun).cpuSeconds);
        if (round === 0) {
          if (withExample) {
            const result = compareScreens(readFileSync(join(dir, 'out', 'screening.csv'), 'utf8'), readFileSync(nativeCsv, 'utf8'));
            compared = result.compared;
            differences.push(...result.differences);
            log(`  ${compared.toLocaleString('en-US')} rows compared: ${differences.length === 0 ? 'every SMILES and descriptor equal' : `${differences.length} difference(s)`}`);
          }
          if (readFileSync(join(dir, 'native-1.csv'), 'utf8') !== readFileSync(nativeCsv, 'utf8'))
            differences.push('the native script wrote different files with 1 process and with several');
          const step = compareScreens(readFileSync(join(dir, 'native-step', 'out', 'screening.csv'), 'utf8'), readFileSync(nativeCsv, 'utf8'));
          nativeStepDifferences.push(...step.differences, ...(step.compared === molecules ? [] : [`${step.compared} of ${molecules} rows compared`]));
          log(`  native command step: ${step.compared.toLocaleString('en-US')} rows compared: ${step.differences.length === 0 ? 'equal to the plain script' : `${step.differences.length} difference(s)`}`);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    const last = <T>(list: T[]): T => list[list.length - 1] as T;
    libraries.push({
      file: library,
      molecules,
      rounds,
      native1: sample(runs.native1.map((r) => r.seconds)),
      native: sample(runs.native.map((r) => r.seconds)),
      chemflow: withExample ? sample(runs.chemflow.map((r) => r.seconds)) : null,
      chemflowNative: sample(runs.chemflowNative.map((r) => r.seconds)),
      cpu: {
        native1: sample(runs.native1.map((r) => r.cpuSeconds)),
        native: sample(runs.native.map((r) => r.cpuSeconds)),
        chemflow: withExample ? sample(runs.chemflow.map((r) => r.cpuSeconds)) : null,
        chemflowNative: sample(runs.chemflowNative.map((r) => r.cpuSeconds)),
      },
      ratio: withExample ? median(ratios) : null,
      cpuRatio: withExample ? median(cpuRatios) : null,
      nativeStepRatio: median(nativeStepRatios),
      nativeStepCpuRatio: median(nativeStepCpuRatios),
      flowFingerprints: [...fingerprints],
      peakRss: {
        native1: last(runs.native1).processes,
        native: last(runs.native).processes,
        chemflow: withExample ? last(runs.chemflow).processes : null,
        chemflowNative: last(runs.chemflowNative).processes,
      },
      compared: withExample ? compared : null,
      differences: differences.length,
      firstDifferences: differences.slice(0, 20),
      nativeStepDifferences: nativeStepDifferences.length,
      firstNativeStepDifferences: nativeStepDifferences.slice(0, 20),
    });
  }
  log('native: per-operation costs on 2,000 molecules, native and WebAssembly');
  const first = options.libraries[0] as string;
  const nativeOps = spawnSync(PYTHON, [join(root, 'bench', 'native', 'ops.py'), first, '--limit', '2000'], { encoding: 'utf8' });
  if (nativeOps.status !== 0) throw new Error(`bench/native/ops.py failed: ${nativeOps.stderr}`);
  const native = (JSON.parse(nativeOps.stdout) as { us: OpCosts }).us;
  const wasm = await wasmOpCosts(sampleSmiles(first, 2000));
  return {
    python: PYTHON,
    rdkitNative,
    cores: options.cores,
    libraries,
    ops: { molecules: 2000, native, wasm },
    ok: libraries.every(
      (l) => l.differences === 0 && l.nativeStepDifferences === 0 && (l.chemflow === null || (l.compared === l.molecules && l.flowFingerprints.length === 1)),
    ),
  };
}

/** The columns both CSVs have: the canonical SMILES and the six descriptors, as text. */
const COLUMNS = ['smiles', 'mw', 'clogp', 'hbd', 'hba', 'tpsa', 'rotatable_bonds'] as const;

/**
 * Compares chemflow's report CSV (`out/screening.csv`) with the native script's, row by row by name:
 * a missing row, a row chemflow rejected, or any differing field is a difference. Neither file quotes
 * these fields (names and SMILES hold no comma or quote), so a line splits on commas.
 */
export function compareScreens(chemflowCsv: string, nativeCsv: string): { compared: number; differences: string[] } {
  const table = (text: string): { header: string[]; rows: Map<string, string[]> } => {
    const [head = '', ...lines] = text.trimEnd().split('\n');
    const header = head.split(',');
    const at = header.indexOf('name');
    return { header, rows: new Map(lines.map((line) => line.split(',')).map((fields) => [fields[at] ?? '', fields])) };
  };
  const ours = table(chemflowCsv);
  const theirs = table(nativeCsv);
  const differences: string[] = [];
  let compared = 0;
  for (const [name, fields] of theirs.rows) {
    const row = ours.rows.get(name);
    if (row === undefined) {
      differences.push(`${name}: not in chemflow's report`);
      continue;
    }
    compared++;
    for (const column of COLUMNS) {
      const mine = row[ours.header.indexOf(column)];
      const reference = fields[theirs.header.indexOf(column)];
      if (mine !== reference) differences.push(`${name}: ${column} ${String(mine)} in chemflow, ${String(reference)} natively`);
    }
  }
  if (ours.rows.size !== theirs.rows.size) differences.push(`${ours.rows.size} rows in chemflow's report, ${theirs.rows.size} natively`);
  return { compared, differences };
}

/**
 * Runs a command to its end under /usr/bin/time (a non-zero exit throws, with its stderr); its wall
 * time, its CPU seconds (time's user + system: the process and the children it waited for), and the
 * peak RSS of it and every process it started, from /proc/<pid>/status (VmHWM) read every 50 ms while
 * they run (a process's peak reached in its last 50 ms can be missed).
 */
function timedProcess(command: string, args: string[], cwd: string): Promise<TimedRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const times = join(cwd, `time-${Math.round(started)}.txt`);
    const child = spawn('/usr/bin/time', ['-f', '%U %S', '-o', times, command, ...args], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    let stderr = '';
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const peaks = new Map<number, PeakRss>();
    const poll = (): void => {
      if (child.pid === undefined) return;
      for (const pid of descendants(child.pid)) {
        const status = procStatus(pid);
        if (status === undefined) continue;
        const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
        const name = /Name:\s+(\S+)/.exec(status)?.[1] ?? '?';
        if (pid === child.pid) continue; // /usr/bin/time itself
        const seen = peaks.get(pid);
        if (seen === undefined || kb / 1024 > seen.peakRssMb) peaks.set(pid, { pid, command: name, peakRssMb: Math.round(kb / 1024) });
      }
    };
    const timer = setInterval(poll, 50);
    child.on('error', (error) => {
      clearInterval(timer);
      reject(error);
    });
    child.on('exit', (code) => {
      clearInterval(timer);
      const seconds = (performance.now() - started) / 1000;
      if (code !== 0) {
        reject(new Error(`${command} ${args.join(' ')} exited ${String(code)}: ${stderr.trim()}`));
        return;
      }
      const [user = NaN, system = NaN] = readFileSync(times, 'utf8').trim().split('\n').pop()?.split(' ').map(Number) ?? [];
      resolve({ seconds, cpuSeconds: user + system, processes: [...peaks.values()], stdout });
    });
  });
}

function procStatus(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
}

/** `pid` and every process below it, from /proc/<pid>/task/<tid>/children. */
function descendants(pid: number): number[] {
  const found = [pid];
  for (let i = 0; i < found.length; i++) {
    const tasks = `/proc/${found[i]}/task`;
    if (!existsSync(tasks)) continue;
    try {
      for (const tid of readdirSync(tasks)) {
        const children = readFileSync(`${tasks}/${tid}/children`, 'utf8').trim();
        if (children !== '') found.push(...children.split(/\s+/).map(Number));
      }
    } catch {
      // the process ended while being read
    }
  }
  return found;
}
