import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ArtifactIntegrityError, createArtifact, verifyArtifact, type JsonValue } from '../../src/index.js';

describe('artifacts', () => {
  it('hash the payload only, not the metadata', () => {
    const a = createArtifact({ kind: 'number', payload: { n: 1 }, metadata: { note: 'x' } });
    const b = createArtifact({ kind: 'number', payload: { n: 1 } });
    expect(a.hash).toBe(b.hash);
    expect(a.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('give different payloads different hashes', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (x, y) => {
        fc.pre(JSON.stringify(x) !== JSON.stringify(y));
        const hx = createArtifact({ kind: "k", payload: x as JsonValue }).hash;
        const hy = createArtifact({ kind: "k", payload: y as JsonValue }).hash;
        // -0 and 0 are the same canonical number; everything else must differ.
        fc.pre(JSON.stringify(JSON.parse(JSON.stringify(x))) !== JSON.stringify(JSON.parse(JSON.stringify(y))));
        expect(hx === hy).toBe(false);
      }),
    );
  });

  it('reject a tampered payload', () => {
    const artifact = createArtifact({ kind: 'molecules', payload: { smiles: ['CCO'] } });
    expect(() => verifyArtifact(artifact)).not.toThrow();
    expect(() => verifyArtifact({ ...artifact, payload: { smiles: ['CCN'] } })).toThrow(ArtifactIntegrityError);
  });
});
