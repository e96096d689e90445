import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import rdkitPackage, { type Log, type MainModule, type Mol } from '@rdkit/rdkit';

/** The RDKit MinimalLib WebAssembly module. */
export type RDKit = MainModule;

interface Loaded {
  rdkit: RDKit;
  /** RDKit's error log, captured so a parse failure can say why (RDKit only returns null). */
  errors: Log;
  /** Watches the bottom of RDKit's stack; absent if this RDKit build has no stack cookie to find it by. */
  guard: StackGuard | undefined;
}

/**
 * The part of the WebAssembly JavaScript API used here: the global exists in Node.js, but this
 * project's TypeScript libraries (no DOM) do not declare it.
 */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmInstance {
  readonly exports: Readonly<Record<string, unknown>>;
}
interface WasmApi {
  compile(bytes: Uint8Array): Promise<object>;
  instantiate(module: object, imports: unknown): Promise<WasmInstance>;
  Memory: abstract new (...args: never[]) => WasmMemory;
  RuntimeError: abstract new (...args: never[]) => Error;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let loading: Promise<Loaded> | undefined;
/** The module `loading` resolved to, once it has. */
let active: Loaded | undefined;
let compiling: Promise<object> | undefined;

/**
 * Loads RDKit once per thread and shares it: instantiating the WebAssembly module costs about 100 ms
 * and tens of megabytes, far more than any one step's work on a few hundred molecules. A module that
 * trapped is dropped (`discard`), and the next call loads a fresh one from the compiled code.
 */
function load(): Promise<Loaded> {
  if (loading !== undefined) return loading;
  const attempt = instantiate().then(
    (loaded) => {
      if (loading === attempt) active = loaded;
      return loaded;
    },
    (error: unknown) => {
      if (loading === attempt) loading = undefined; // a failed load may be retried by the next attempt
      throw error;
    },
  );
  loading = attempt;
  return attempt;
}

async function instantiate(): Promise<Loaded> {
  let memory: WasmMemory | undefined;
  compiling ??= compile();
  const code = await compiling;
  // The package is CommonJS whose typings declare an ES default export; it sets both
  // `module.exports` and `module.exports.default` to the factory, and `.default` is what the typings
  // and Node's ESM loader agree on. `instantiateWasm` is Emscripten's hook to instantiate the module
  // ourselves: from code compiled once per thread, and keeping its memory to watch the stack.
  // Emscripten has no way to hear that our instantiation failed: the race makes the load fail instead of hang.
  let failed: (error: unknown) => void = () => undefined;
  const failure = new Promise<never>((_resolve, reject) => (failed = reject));
  const rdkit = await Promise.race([
    rdkitPackage.default({
      instantiateWasm(imports: unknown, receive: (instance: WasmInstance) => void) {
        wasm.instantiate(code, imports).then((instance) => {
          memory = Object.values(instance.exports).find((e): e is WasmMemory => e instanceof wasm.Memory);
          receive(instance);
        }, failed);
        return {};
      },
    }),
    failure,
  ]);
  const errors = rdkit.set_log_capture('rdApp.error');
  if (errors === null) throw new Error('RDKit refused to capture its error log');
  warmUp(rdkit);
  return { rdkit, errors, guard: memory && StackGuard.find(memory) };
}

async function compile(): Promise<object> {
  try {
    const path = createRequire(import.meta.url).resolve('@rdkit/rdkit/RDKit_minimal.wasm');
    return await wasm.compile(await readFile(path));
  } catch (error) {
    compiling = undefined;
    throw error;
  }
}

/**
 * The first call of each kind allocates RDKit's lazily built tables and uses several KiB more stack
 * than later ones. Making those calls here, on a small molecule, keeps a molecule's verdict
 * (read, or too large for the stack) the same whether or not it is the first one after a load.
 */
function warmUp(rdkit: RDKit): void {
  const mol = rdkit.get_mol('OC(=O)c1ccccc1[N+](=O)[O-]');
  if (mol === null) throw new Error('RDKit cannot read its warm-up molecule');
  try {
    mol.get_smiles();
    mol.get_inchi();
    mol.get_json();
    mol.get_descriptors();
    mol.get_svg_with_highlights(JSON.stringify({ width: 100, height: 100, noFreetype: true }));
  } finally {
    mol.delete();
  }
}

/** Drops a module that trapped or overflowed its stack: its stack pointer and static data are not to be trusted. */
function discard(loaded: Loaded): void {
  if (active !== loaded) return;
  active = undefined;
  loading = undefined;
}

/**
 * RDKit's WebAssembly build has a 64 KiB stack and no overflow check. Canonicalising and parsing
 * recurse once per atom along a chain (about 110 and 80 bytes per atom), so a chain of some 600
 * atoms runs past the stack's end into RDKit's static data: the module then traps ("memory access out
 * of bounds"), at once or at a later call, or silently computes on corrupted data. The guard paints
 * the lowest `GUARD_BYTES` of the stack and reports whether a call wrote there: such a call came
 * within a hair of overflowing, or did, and its result and the module are not to be trusted.
 *
 * The stack's lowest address is where Emscripten wrote its two stack cookies (fixed values) at
 * start-up; it is found once by those values.
 */
class StackGuard {
  private static readonly COOKIE = [0x02135467, 0x89bacdfe] as const;
  private static readonly GUARD_BYTES = 4096;
  private static readonly PAINT = 0x5a5a5a5a;
  /** Static data and stack come first in Emscripten's layout: a few MiB at most. */
  private static readonly SEARCH_BYTES = 32 << 20;

  private constructor(
    private readonly memory: WasmMemory,
    /** Index (in 32-bit words) of the first cookie word. */
    private readonly end: number,
  ) {
    this.paint();
  }

  static find(memory: WasmMemory): StackGuard | undefined {
    const words = new Uint32Array(memory.buffer, 0, Math.min(memory.buffer.byteLength, StackGuard.SEARCH_BYTES) >>> 2);
    const [first, second] = StackGuard.COOKIE;
    let found: number | undefined;
    for (let i = words.indexOf(first); i !== -1 && i + 1 < words.length; i = words.indexOf(first, i + 1)) {
      if (words[i + 1] !== second) continue;
      if (found !== undefined) return undefined; // not unique: not sure which is the stack's end
      found = i;
    }
    return found === undefined ? undefined : new StackGuard(memory, found);
  }

  /** Whether any call since the last `paint` used the stack down into the guard area (or beyond). */
  touched(): boolean {
    const words = new Uint32Array(this.memory.buffer);
    if (words[this.end] !== StackGuard.COOKIE[0] || words[this.end + 1] !== StackGuard.COOKIE[1]) return true;
    const from = this.end + 2;
    for (let i = from; i < from + StackGuard.GUARD_BYTES / 4; i++) if (words[i] !== StackGuard.PAINT) return true;
    return false;
  }

  private paint(): void {
    const from = this.end + 2;
    new Uint32Array(this.memory.buffer).fill(StackGuard.PAINT, from, from + StackGuard.GUARD_BYTES / 4);
  }
}

export type ParsedResult<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Reason of a molecule that used RDKit's stack down to the guard area, with or without a trap. */
const TOO_DEEP = "too large for RDKit: a chain this long overflows RDKit's WebAssembly stack (the limit is about 500 atoms in a row)";

/**
 * Parses one SMILES and runs `use` on the molecule, freeing it afterwards (WebAssembly memory is not
 * garbage collected). Every use of RDKit goes through here, so that a molecule RDKit cannot cope with
 * is a reason, never a crash of the step:
 * - `{ok: false, reason}` when RDKit does not read the SMILES: RDKit's own first error line without its
 *   clock time (e.g. "SMILES Parse Error: syntax error while parsing: C1CC("), so the same input
 *   always gives the same reason; or when an isotope or charge is out of range (`labelProblem`);
 * - when RDKit traps (WebAssembly `RuntimeError`) or nearly overflows its stack on the molecule, the
 *   module is discarded and the next call loads a fresh one; the molecule gets that as its reason.
 * Errors `use` itself throws (not WebAssembly traps) are rethrown.
 */
export async function withMolecule<T>(smiles: string, use: (mol: Mol, rdkit: RDKit) => T): Promise<ParsedResult<T>> {
  if (smiles.trim() === '') return { ok: false, reason: 'empty SMILES' };
  const loaded = await load();
  const { rdkit, errors, guard } = loaded;
  let mol: Mol | null = null;
  let crashed = false;
  try {
    errors.clear_buffer();
    mol = rdkit.get_mol(smiles);
    let result: ParsedResult<T>;
    if (mol === null || !mol.is_valid() || mol.get_num_atoms() === 0) {
      result = { ok: false, reason: firstError(errors.get_buffer()) ?? 'RDKit could not read this SMILES' };
    } else {
      const problem = labelProblem(rdkit, smiles);
      result = problem === undefined ? { ok: true, value: use(mol, rdkit) } : { ok: false, reason: problem };
    }
    if (guard?.touched()) {
      crashed = true;
      return { ok: false, reason: TOO_DEEP };
    }
    return result;
  } catch (error) {
    const overflowed = guard?.touched() === true;
    if (!(error instanceof wasm.RuntimeError)) {
      crashed = overflowed;
      throw error;
    }
    crashed = true;
    const trap = `WebAssembly trap: ${error.message}`;
    return { ok: false, reason: overflowed ? `${TOO_DEEP} (${trap})` : `RDKit crashed on this molecule (${trap})` };
  } finally {
    if (crashed) discard(loaded);
    else mol?.delete();
  }
}

/** InChIKey of a parsed molecule, or `undefined` when RDKit cannot make an InChI of it. */
export function inchiKeyOf(rdkit: RDKit, mol: Mol): string | undefined {
  const inchi = mol.get_inchi();
  if (inchi === '') return undefined;
  const key = rdkit.get_inchikey_for_inchi(inchi);
  return key === '' ? undefined : key;
}

/**
 * Largest |formal charge| accepted: the highest known oxidation state is +9 (iridium in [IrO4]+), and
 * no atom of a real molecule carries more charge than that either way.
 */
export const MAX_ABS_CHARGE = 9;
/** Largest mass number accepted: the heaviest nuclei known have fewer than 300 nucleons. */
export const MAX_MASS_NUMBER = 300;

/** A bracket atom as written: `[13CH3]`, `[O-]`, `[Fe+2]`, `[N+++]`. The SMILES ends at its first blank (CXSMILES, title). */
const BRACKET_ATOM = /\[(\d*)([^\]]*)\]/g;
/** The charge of a bracket atom: a sign, then a count or the same sign repeated. */
const CHARGE = /([+-])(\d+|\+*|-*)/;

interface Labels {
  isotope: number;
  charge: number;
  /** Atomic number; 0 for a dummy atom `*`. */
  z: number;
}

/**
 * Why the isotopes or formal charges of a SMILES are not acceptable, or `undefined`. RDKit keeps an
 * isotope in 16 bits and a charge in 8, so `[999999C]` silently becomes `[16959C]` and `[65550C]` a
 * carbon-14: each written label must come back unchanged from RDKit's parse (a round trip against
 * what RDKit stored, read unsanitised so that RDKit's own charge-separated forms such as nitro's
 * `[N+](=O)[O-]` do not count as changes), then be physically possible.
 */
function labelProblem(rdkit: RDKit, smiles: string): string | undefined {
  const written = writtenLabels(smiles.split(/\s/, 1)[0] ?? '');
  if (written.every((w) => w.isotope === 0 && w.charge === 0)) return undefined; // the common case: no JSON needed
  const raw = rdkit.get_mol(smiles, JSON.stringify({ sanitize: false }));
  if (raw === null) return undefined; // already judged by the sanitised parse
  let parsed: Labels[];
  try {
    parsed = parsedLabels(raw.get_json());
  } finally {
    raw.delete();
  }
  const mismatch =
    firstChange(written, parsed, 'isotope', (w, p) => `isotope ${w.isotope} of ${w.text} is out of the range RDKit stores (it reads ${p})`) ??
    firstChange(written, parsed, 'charge', (w, p) => `charge ${signed(w.charge)} of ${w.text} is out of the range RDKit stores (it reads ${p})`);
  if (mismatch !== undefined) return mismatch;
  for (const [index, atom] of parsed.entries()) {
    const where = `atom #${index}${atom.z === 0 ? ' (*)' : ` (atomic number ${atom.z})`}`;
    if (atom.isotope !== 0 && atom.z > 0 && atom.isotope < atom.z)
      return `isotope ${atom.isotope} of ${where} is impossible: a mass number is at least the atomic number`;
    if (atom.z > 0 && atom.isotope > MAX_MASS_NUMBER) return `isotope ${atom.isotope} of ${where} is above ${MAX_MASS_NUMBER}, heavier than any known nucleus`;
    if (Math.abs(atom.charge) > MAX_ABS_CHARGE) return `formal charge ${signed(atom.charge)} of ${where} is beyond ±${MAX_ABS_CHARGE}`;
    if (atom.z > 0 && atom.charge > atom.z) return `formal charge ${signed(atom.charge)} of ${where} is impossible: an atom cannot lose more electrons than it has`;
  }
  return undefined;
}

function writtenLabels(smiles: string): { text: string; isotope: number; charge: number }[] {
  return [...smiles.matchAll(BRACKET_ATOM)].map(([text, isotope = '', rest = '']) => {
    const charge = CHARGE.exec(rest);
    const sign = charge?.[1] === '-' ? -1 : 1;
    const count = charge === null ? 0 : /^\d/.test(charge[2] ?? '') ? Number(charge[2]) : 1 + (charge[2]?.length ?? 0);
    return { text, isotope: isotope === '' ? 0 : Number(isotope), charge: sign * count };
  });
}

/** Atoms in RDKit's order, which is the order they are written in. */
function parsedLabels(json: string): Labels[] {
  const document = JSON.parse(json) as {
    defaults?: { atom?: { z?: number; chg?: number; isotope?: number } };
    molecules?: { atoms?: { z?: number; chg?: number; isotope?: number }[] }[];
  };
  const defaults = { z: 6, chg: 0, isotope: 0, ...document.defaults?.atom };
  return (document.molecules ?? []).flatMap((m) =>
    (m.atoms ?? []).map((a) => ({ z: a.z ?? defaults.z, charge: a.chg ?? defaults.chg, isotope: a.isotope ?? defaults.isotope })),
  );
}

/**
 * The first written label (in writing order, zeros left out on both sides) that RDKit stored
 * differently. Atoms outside brackets carry neither isotope nor charge, so the non-zero labels of the
 * bracket atoms and of RDKit's atoms are the same sequence unless a value changed.
 */
function firstChange<W extends { text: string; isotope: number; charge: number }>(
  written: W[],
  parsed: Labels[],
  label: 'isotope' | 'charge',
  describe: (w: W, parsedAs: string) => string,
): string | undefined {
  const stored = parsed.map((a) => a[label]).filter((v) => v !== 0);
  const wanted = written.filter((w) => w[label] !== 0);
  for (const [i, w] of wanted.entries()) {
    const p = stored[i];
    if (p !== w[label]) return describe(w, p === undefined ? 'none' : label === 'charge' ? signed(p) : String(p));
  }
  return stored.length > wanted.length ? `RDKit reads more ${label === 'isotope' ? 'isotopes' : 'charges'} than are written` : undefined;
}

function signed(n: number): string {
  return n > 0 ? `+${n}` : String(n);
}

/** "[09:27:31] Can't kekulize mol.  Unkekulized atoms: 0 1 2" → "Can't kekulize mol. Unkekulized atoms: 0 1 2" */
function firstError(buffer: string): string | undefined {
  for (const line of buffer.split('\n')) {
    const text = line.replace(/^\[\d{2}:\d{2}:\d{2}\]\s*/, '').replace(/\s+/g, ' ').trim();
    if (text !== '') return text;
  }
  return undefined;
}
