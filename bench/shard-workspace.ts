// The flow the shard benchmark runs, in a scratch directory of its own: the first `molecules` rows of
// examples/screening/molecules.csv and one flow file per shard size. The screening flow's shape
// (read → mapped chem/descriptors → chem/lipinski-filter) without its report: the report is one
// unmapped step whose cost (HTML, depictions) would only dilute the ratios the section is about.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ShardWorkspace {
  readonly dir: string;
  /** Molecules in the subset (fewer than asked when the library is smaller). */
  readonly molecules: number;
  /** The flow file (a path in `dir`) with `descriptors` mapped in shards of `shardSize`. */
  flowFile(shardSize: number): Promise<string>;
  remove(): Promise<void>;
}

const flowText = (shardSize: number): string => `name: screening-bench
retry: { maxRetries: 3, backoff: { kind: exponential, baseMs: 200, factor: 2, maxMs: 5000 } }
steps:
  - id: read
    uses: chem/read-smiles
    params: { file: molecules.csv, smilesColumn: smiles, nameColumn: name }
  - id: descriptors
    uses: chem/descriptors
    params: { decimals: 2 }
    map: { over: molecules, shardSize: ${shardSize} }
  - id: lipinski
    uses: chem/lipinski-filter
    params: { maxViolations: 1, limits: { mw: 500, clogp: 5, hbd: 5, hba: 10 } }
`;

/** `root` is the work tree (the library is read from its examples/, never from another checkout). */
export async function shardWorkspace(root: URL, molecules: number): Promise<ShardWorkspace> {
  const library = await readFile(fileURLToPath(new URL('examples/screening/molecules.csv', root)), 'utf8');
  const [header = '', ...rows] = library.split('\n').filter((line) => line.length > 0);
  const kept = rows.slice(0, molecules);
  const dir = await mkdtemp(join(tmpdir(), 'chemflow-bench-shards-'));
  await writeFile(join(dir, 'molecules.csv'), `${[header, ...kept].join('\n')}\n`);
  return {
    dir,
    molecules: kept.length,
    flowFile: async (shardSize) => {
      const file = join(dir, `flow-${shardSize}.yaml`);
      await writeFile(file, flowText(shardSize));
      return file;
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
