import { createArtifact, type Artifact } from '../../../src/core/artifact.js';
import { CHEM_KINDS, type DescriptorTable, type LipinskiResult, type LipinskiRule } from '../../../src/steps/chem-artifacts.js';

/**
 * A made-up screen of `count` molecules as the report step receives it (`chem/lipinski` and
 * `chem/descriptors`), without running RDKit on each: what the report does with many molecules does
 * not depend on where the numbers came from. Molecule i (line i + 2) is an alkane of 1–20 carbons, so
 * every depiction is a real one; `violationsOf(i)` decides its verdict (more than one violation fails).
 */
export function syntheticScreen(count: number, violationsOf: (i: number) => LipinskiRule[]): Artifact[] {
  const verdicts: LipinskiResult['verdicts'] = [];
  const rows: DescriptorTable['rows'] = [];
  for (let i = 0; i < count; i++) {
    const inchikey = `${letters(i, 14)}-${letters(i * 7 + 3, 10)}-N`;
    const violations = violationsOf(i);
    verdicts.push({ inchikey, name: `M${i}`, smiles: 'C'.repeat(1 + (i % 20)), line: i + 2, violations, passes: violations.length <= 1 });
    rows.push({ inchikey, mw: 150 + ((i * 37) % 500), clogp: -1 + ((i * 13) % 80) / 10, hbd: i % 6, hba: i % 11, tpsa: 40, rotatableBonds: i % 9 });
  }
  const passed = verdicts.filter((v) => v.passes).length;
  const lipinski: LipinskiResult = {
    rule: { maxViolations: 1, limits: { mw: 500, clogp: 5, hbd: 5, hba: 10 } },
    passed,
    failed: count - passed,
    verdicts,
  };
  return [
    createArtifact({ kind: CHEM_KINDS.lipinski, payload: lipinski }),
    createArtifact({ kind: CHEM_KINDS.descriptors, payload: { decimals: 2, rows } }),
  ];
}

/** `width` capital letters spelling `n` in base 26: a valid-looking, distinct InChIKey block. */
function letters(n: number, width: number): string {
  let text = '';
  for (let k = 0, rest = n; k < width; k++, rest = Math.floor(rest / 26)) text = String.fromCharCode(65 + (rest % 26)) + text;
  return text;
}
