/** A structural alert: a substructure, written as SMARTS, that flags a molecule for a chemist's look. */
export interface StructuralAlert {
  readonly name: string;
  readonly smarts: string;
}

/**
 * `chem/alerts`' default list: well-known reactive, unstable or assay-interfering groups, after the
 * unwanted groups of Brenk et al. (ChemMedChem 2008, 3, 435–444) and a few of the PAINS classes of
 * Baell & Holloway (J. Med. Chem. 2010, 53, 2719–2740). The SMARTS are written for this list (not
 * copied from either paper's files) and each is documented in docs/chemistry.md; every one parses in
 * RDKit, and their matches agree with native RDKit on the Lipinski example (tests).
 */
export const DEFAULT_ALERTS: readonly StructuralAlert[] = Object.freeze([
  { name: 'acyl halide', smarts: 'C(=O)[F,Cl,Br,I]' },
  { name: 'sulfonyl halide', smarts: 'S(=O)(=O)[F,Cl,Br,I]' },
  { name: 'anhydride', smarts: 'C(=O)OC(=O)' },
  { name: 'aldehyde', smarts: '[CX3H1](=O)[#6]' },
  { name: 'alkyl halide', smarts: '[CX4][Cl,Br,I]' },
  { name: 'epoxide, aziridine or thiirane', smarts: '*1[O,N,S]*1' },
  { name: 'isocyanate or isothiocyanate', smarts: 'N=C=[O,S]' },
  { name: 'Michael acceptor (terminal vinyl carbonyl)', smarts: '[CH2]=[CH1]C=O' },
  { name: 'azo', smarts: '[#6]N=N[#6]' },
  { name: 'peroxide', smarts: '[OX2][OX2]' },
  { name: 'thiol', smarts: '[SX2H1]' },
  { name: 'sulfonate ester', smarts: '[#6]S(=O)(=O)O[#6]' },
  { name: 'nitro', smarts: '[N+](=O)[O-]' },
  { name: 'hydrazine', smarts: '[NX3][NX3H2]' },
  { name: 'hydroxamic acid', smarts: 'C(=O)N[OH1]' },
  { name: 'quinone', smarts: 'O=[#6]1[#6]=,:[#6][#6](=O)[#6]=,:[#6]1' },
  { name: 'catechol', smarts: 'c([OH1])c[OH1]' },
  { name: 'rhodanine', smarts: 'S=C1SCC(=O)N1' },
  { name: 'heavy metal or metalloid', smarts: '[Hg,Pb,Sn,As,Sb,Bi,Tl,Cd,#34,#52]' },
]);
