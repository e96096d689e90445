import type { Mol } from '@rdkit/rdkit';

/** Set bits of every byte value. */
const POPCOUNT = Uint8Array.from({ length: 256 }, (_, byte) => {
  let bits = 0;
  for (let b = byte; b !== 0; b >>= 1) bits += b & 1;
  return bits;
});

/** A molecule's Morgan (circular, ECFP-like) fingerprint folded to `nBits` bits, as RDKit's bytes, copied out of WebAssembly memory. */
export function morganBits(mol: Mol, radius: number, nBits: number): Uint8Array {
  const bytes: unknown = mol.get_morgan_fp_as_uint8array(JSON.stringify({ radius, nBits }));
  if (!(bytes instanceof Uint8Array) || bytes.length !== Math.ceil(nBits / 8))
    throw new Error(`RDKit gave no ${nBits}-bit Morgan fingerprint (got ${describe(bytes)})`);
  return bytes.slice();
}

function describe(value: unknown): string {
  return value instanceof Uint8Array ? `${value.length} bytes` : typeof value;
}

/**
 * Tanimoto (Jaccard) similarity of two fingerprints of the same length: bits set in both over bits set
 * in either. Two empty fingerprints are identical: 1, as RDKit's `TanimotoSimilarity` says.
 */
export function tanimoto(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new Error(`fingerprints of ${a.length} and ${b.length} bytes cannot be compared`);
  let both = 0;
  let either = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    both += POPCOUNT[x & y] ?? 0;
    either += POPCOUNT[x | y] ?? 0;
  }
  return either === 0 ? 1 : both / either;
}
