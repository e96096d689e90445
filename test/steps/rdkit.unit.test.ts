import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/core/error-class.js';
import { CHEM_KINDS, type DescriptorTable } from '../../src/steps/chem-artifacts.js';
import { depictionSvg } from '../../src/steps/depiction.js';
import { descriptors } from '../../src/steps/descriptors.js';
import { propertyProvider } from '../../src/steps/property-provider.js';
import { withMolecule } from '../../src/steps/rdkit.js';
import { KNOWN } from './support/molecules.js';
import { outputOf, runStep } from './support/run-step.js';

const LONG_CHAIN = 'C'.repeat(1000);
const moleculeSet = (smiles: string) => ({
  kind: CHEM_KINDS.molecules,
  payload: { source: 'test', molecules: [{ inchikey: KNOWN.aspirin.inchikey, name: 'test', smiles, line: 2 }] },
});

describe('RDKit after a WebAssembly trap', () => {
  it('gives the molecule a reason and answers the next call from a fresh module', async () => {
    const crashed = await withMolecule(LONG_CHAIN, (mol) => mol.get_smiles());
    expect(crashed).toEqual({ ok: false, reason: expect.stringContaining('(WebAssembly trap: memory access out of bounds)') as string });
    expect(await withMolecule('OC(=O)c1ccccc1OC(C)=O', (mol) => mol.get_smiles())).toEqual({ ok: true, value: KNOWN.aspirin.smiles });
  });

  it('fails chem/descriptors and chem/property-provider as Validation, not Runtime, and they work again next time', async () => {
    const invalid = {
      constructor: ValidationError,
      code: 'INVALID_MOLECULE',
      message: expect.stringContaining('too large for RDKit') as string,
    };
    await expect(runStep(descriptors, { input: [moleculeSet(LONG_CHAIN)] })).rejects.toMatchObject(invalid);
    await expect(runStep(propertyProvider, { input: [moleculeSet(LONG_CHAIN)] })).rejects.toMatchObject(invalid);
    const run = await runStep(descriptors, { input: [moleculeSet(KNOWN.aspirin.smiles)] });
    expect(outputOf<DescriptorTable>(run, CHEM_KINDS.descriptors).rows[0]?.mw).toBe(KNOWN.aspirin.mw);
  });

  it('draws "no depiction" with the reason, and the next drawing normally', async () => {
    expect(await depictionSvg(LONG_CHAIN, 'chain')).toMatch(/^<span class="no-depiction">no depiction: too large for RDKit/);
    expect(await depictionSvg(KNOWN.aspirin.smiles, 'aspirin')).toMatch(/^<svg class="depiction"/);
  });
});

describe('isotope labels of dummy atoms', () => {
  it('are labels, not masses: only their round trip through RDKit is checked', async () => {
    expect(await withMolecule('[400*]C(=O)O', (mol) => mol.get_smiles())).toEqual({ ok: true, value: '[400*]C(=O)O' });
    expect(await withMolecule('[999999*]C', (mol) => mol.get_smiles())).toEqual({
      ok: false,
      reason: 'isotope 999999 of [999999*] is out of the range RDKit stores (it reads 16959)',
    });
  });
});
