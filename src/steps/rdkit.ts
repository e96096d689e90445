import rdkitPackage, { type Log, type MainModule, type Mol } from '@rdkit/rdkit';

/** The RDKit MinimalLib WebAssembly module. */
export type RDKit = MainModule;

interface Loaded {
  rdkit: RDKit;
  /** RDKit's error log, captured so a parse failure can say why (RDKit only returns null). */
  errors: Log;
}

let loading: Promise<Loaded> | undefined;

/**
 * Loads RDKit once per process and shares it: instantiating the WebAssembly module costs about 100 ms
 * and tens of megabytes, far more than any one step's work on a few hundred molecules.
 */
function load(): Promise<Loaded> {
  // The package is CommonJS whose typings declare an ES default export; it sets both
  // `module.exports` and `module.exports.default` to the factory, and `.default` is what the typings
  // and Node's ESM loader agree on.
  loading ??= rdkitPackage.default().then(
    (rdkit) => {
      const errors = rdkit.set_log_capture('rdApp.error');
      if (errors === null) throw new Error('RDKit refused to capture its error log');
      return { rdkit, errors };
    },
    (error: unknown) => {
      loading = undefined; // a failed load may be retried by the next attempt
      throw error;
    },
  );
  return loading;
}

export async function loadRDKit(): Promise<RDKit> {
  return (await load()).rdkit;
}

export type ParsedSmiles = { ok: true; mol: Mol } | { ok: false; reason: string };

/**
 * Parses one SMILES. On failure the reason is RDKit's own first error line without its clock time
 * (e.g. "SMILES Parse Error: syntax error while parsing: C1CC("), so the same input always gives the
 * same reason. The caller owns a returned `mol` and must `delete()` it (WebAssembly memory is not
 * garbage collected): prefer `withMolecule`.
 */
export async function parseSmiles(smiles: string): Promise<ParsedSmiles> {
  const { rdkit, errors } = await load();
  if (smiles.trim() === '') return { ok: false, reason: 'empty SMILES' };
  errors.clear_buffer();
  const mol = rdkit.get_mol(smiles);
  if (mol !== null && mol.is_valid() && mol.get_num_atoms() > 0) return { ok: true, mol };
  mol?.delete();
  return { ok: false, reason: firstError(errors.get_buffer()) ?? 'RDKit could not read this SMILES' };
}

/** Runs `use` on the parsed molecule and always frees it; `{ok: false, reason}` when it does not parse. */
export async function withMolecule<T>(smiles: string, use: (mol: Mol, rdkit: RDKit) => T): Promise<ParsedResult<T>> {
  const parsed = await parseSmiles(smiles);
  if (!parsed.ok) return parsed;
  try {
    return { ok: true, value: use(parsed.mol, await loadRDKit()) };
  } finally {
    parsed.mol.delete();
  }
}

export type ParsedResult<T> = { ok: true; value: T } | { ok: false; reason: string };

/** InChIKey of a parsed molecule, or `undefined` when RDKit cannot make an InChI of it. */
export function inchiKeyOf(rdkit: RDKit, mol: Mol): string | undefined {
  const inchi = mol.get_inchi();
  if (inchi === '') return undefined;
  const key = rdkit.get_inchikey_for_inchi(inchi);
  return key === '' ? undefined : key;
}

/** "[09:27:31] Can't kekulize mol.  Unkekulized atoms: 0 1 2" → "Can't kekulize mol. Unkekulized atoms: 0 1 2" */
function firstError(buffer: string): string | undefined {
  for (const line of buffer.split('\n')) {
    const text = line.replace(/^\[\d{2}:\d{2}:\d{2}\]\s*/, '').replace(/\s+/g, ' ').trim();
    if (text !== '') return text;
  }
  return undefined;
}
