// Joins the three branches of the screen molecule by molecule: a molecule is kept when it passes
// Lipinski's rule, has no structural alert, and is at least `minSimilarity` (Tanimoto) similar to one
// of the reference drugs. The three tables come from the same molecules in the same order, each row
// keyed by InChIKey: they are read side by side, one chunk at a time, and checked to agree.

/** The rows of an input: a batch's, read as a stream, or a small table's, held whole. */
async function* rowsOf(input, field) {
  if (input.form === 'batch') yield* input.rows();
  else yield* input.payload[field];
}

export default {
  kind: 'transform',
  version: '1',
  streaming: true,
  parseParams(params) {
    const minSimilarity = params.minSimilarity ?? 0.3;
    if (typeof minSimilarity !== 'number' || minSimilarity < 0 || minSimilarity > 1) throw new Error('minSimilarity must be a number from 0 to 1');
    return { minSimilarity };
  },
  async run(ctx) {
    const { lipinski, similarity, alerts } = ctx.inputs;
    if (!lipinski || !similarity || !alerts) throw new Error('join needs the lipinski, similarity and alerts tables (inputs)');
    const verdicts = rowsOf(lipinski, 'verdicts')[Symbol.asyncIterator]();
    const scores = rowsOf(similarity, 'rows')[Symbol.asyncIterator]();
    const found = rowsOf(alerts, 'rows')[Symbol.asyncIterator]();
    const shortlist = ctx.batch('example/shortlist', { rowsField: 'molecules', header: { minSimilarity: ctx.params.minSimilarity } });
    let kept = 0;
    let dropped = 0;
    for (;;) {
      const [v, s, a] = await Promise.all([verdicts.next(), scores.next(), found.next()]);
      if (v.done || s.done || a.done) {
        if (!(v.done && s.done && a.done)) throw new Error('the lipinski, similarity and alerts tables have different lengths');
        break;
      }
      const verdict = v.value;
      if (verdict.inchikey !== s.value.inchikey || verdict.inchikey !== a.value.inchikey)
        throw new Error(`the tables disagree on the molecule at row ${kept + dropped}: ${verdict.inchikey}, ${s.value.inchikey}, ${a.value.inchikey}`);
      const keep = verdict.passes && a.value.count === 0 && s.value.maxSimilarity >= ctx.params.minSimilarity;
      if (!keep) {
        dropped++;
        continue;
      }
      kept++;
      await shortlist.push({ inchikey: verdict.inchikey, name: verdict.name, smiles: verdict.smiles, nearest: s.value.nearest, similarity: s.value.maxSimilarity });
    }
    return {
      outputs: [await shortlist.close(), { kind: 'example/summary', payload: { kept, dropped, minSimilarity: ctx.params.minSimilarity } }],
    };
  },
};
