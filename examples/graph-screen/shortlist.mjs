// Writes the join's shortlist as a CSV, one chunk at a time.
import { mkdir, open } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

const COLUMNS = ['name', 'smiles', 'nearest', 'similarity', 'inchikey'];
const cell = (value) => (/[",\n]/.test(String(value)) ? `"${String(value).replaceAll('"', '""')}"` : String(value));

export default {
  kind: 'sink',
  version: '1',
  cacheable: false,
  streaming: true,
  async run(ctx) {
    const shortlist = ctx.input.find((a) => a.kind === 'example/shortlist');
    if (shortlist === undefined) throw new Error('shortlist needs the example/shortlist of the join');
    const file = resolve(ctx.baseDir, ctx.params.out);
    await mkdir(dirname(file), { recursive: true });
    const out = await open(file, 'w');
    let rows = 0;
    try {
      await out.write(`${COLUMNS.join(',')}\n`);
      const all = shortlist.form === 'batch' ? shortlist.rows() : shortlist.payload.molecules;
      for await (const row of all) {
        await out.write(`${COLUMNS.map((c) => cell(row[c])).join(',')}\n`);
        rows++;
      }
    } finally {
      await out.close();
    }
    return { outputs: [{ kind: 'example/shortlist-file', payload: { path: ctx.params.out, rows } }] };
  },
};
