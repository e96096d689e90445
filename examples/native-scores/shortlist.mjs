// The molecules worth a closer look: drug-like by QED (at least `minQed`), with a 3D conformer, best
// first. A plain step module (no chemflow import) reading the rows the native step wrote back as CSV.
export default {
  kind: 'sink',
  version: '1',
  parseParams: (params) => ({ minQed: typeof params.minQed === 'number' ? params.minQed : 0.5 }),
  run(ctx) {
    const scores = ctx.input.find((a) => a.metadata?.name === 'scores') ?? ctx.input[0];
    const rows = scores.payload.scores;
    const picked = rows
      .filter((r) => r.embedded === 1 && r.qed >= ctx.params.minQed)
      .sort((a, b) => b.qed - a.qed || a.inchikey.localeCompare(b.inchikey))
      .map((r) => ({ inchikey: r.inchikey, name: r.name, qed: r.qed, mw: r.mw, clogp: r.clogp, npr1: r.npr1, npr2: r.npr2 }));
    return { outputs: [{ kind: 'chem/shortlist', payload: { minQed: ctx.params.minQed, scored: rows.length, molecules: picked } }] };
  },
};
