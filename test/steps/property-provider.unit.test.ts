import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Artifact } from '../../src/core/artifact.js';
import { TransientError } from '../../src/core/error-class.js';
import type { ProvidedProperties } from '../../src/steps/chem-artifacts.js';
import { propertyProvider } from '../../src/steps/property-provider.js';
import { describedMolecules, KNOWN } from './support/molecules.js';
import { hashesOf, outputOf, runStep, scratchDir } from './support/run-step.js';

let dir: string;
let remove: () => Promise<void>;
let input: Artifact[];
beforeAll(async () => {
  ({ dir, remove } = await scratchDir());
  input = await describedMolecules(dir, ['aspirin', 'naproxen']);
});
afterAll(() => remove());

describe('chem/property-provider', () => {
  it('is unavailable (Transient, PROVIDER_UNAVAILABLE) on the first `unavailableAttempts` attempts only', async () => {
    for (const attempt of [1, 2]) {
      const failed = runStep(propertyProvider, { input, params: { unavailableAttempts: 2 }, attempt });
      await expect(failed).rejects.toBeInstanceOf(TransientError);
      await expect(failed).rejects.toMatchObject({ code: 'PROVIDER_UNAVAILABLE', details: { status: 503 } });
    }
    const run = await runStep(propertyProvider, { input, params: { unavailableAttempts: 2 }, attempt: 3 });
    expect(outputOf<ProvidedProperties>(run, 'chem/provided-properties').rows).toEqual([
      { inchikey: KNOWN.aspirin.inchikey, formula: 'C9H8O4', exactMass: 180.0423, heavyAtoms: 13, aromaticRings: 1, fractionCsp3: 0.111 },
      { inchikey: KNOWN.naproxen.inchikey, formula: 'C14H14O3', exactMass: 230.0943, heavyAtoms: 17, aromaticRings: 2, fractionCsp3: 0.214 },
    ]);
  });

  it('gives the same outputs whatever the attempt, so a retried step keeps its fingerprint', async () => {
    const hashes = async (attempt: number, unavailableAttempts: number): Promise<string[]> =>
      hashesOf(await runStep(propertyProvider, { input, params: { unavailableAttempts }, attempt }));
    expect(await hashes(3, 2)).toEqual(await hashes(1, 0));
    expect(await hashes(7, 0)).toEqual(await hashes(1, 0));
  });

  it('passes the molecules and descriptors on', async () => {
    const run = await runStep(propertyProvider, { input });
    expect(run.result.outputs.map((o) => o.kind)).toEqual(['chem/molecules', 'chem/rejected-rows', 'chem/descriptors', 'chem/provided-properties']);
  });
});
