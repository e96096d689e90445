// Writes the rows of the native `descriptors` step as a CSV in screen.py's own columns, so that the
// bench compares it with the plain script's file as it compares chemflow's report. It streams: one
// chunk of rows in memory at a time, whatever the library's size.
import { mkdir, open } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

const COLUMNS = ['name', 'smiles', 'mw', 'clogp', 'hbd', 'hba', 'tpsa', 'rotatable_bonds'];
const LINES_PER_WRITE = 10_000;

export default {
  kind: 'sink',
  version: '1',
  cacheable: false,
  streaming: true,
  async run(ctx) {
    const screen = ctx.input.find((a) => a.kind === 'chem/native-screen');
    if (screen === undefined || screen.form !== 'batch') throw new Error('write-screen needs the chem/native-screen batch of the descriptors step');
    const cell = (value) => (value === null || value === undefined ? '' : String(value));
    const file = resolve(ctx.baseDir, ctx.params.out);
    await mkdir(dirname(file), { recursive: true });
    const out = await open(file, 'w');
    let rows = 0;
    try {
      let lines = [COLUMNS.join(',')];
      for await (const row of screen.rows()) {
        lines.push(COLUMNS.map((c) => cell(row[c])).join(','));
        rows++;
        if (lines.length >= LINES_PER_WRITE) {
          await out.write(`${lines.join('\n')}\n`);
          lines = [];
        }
      }
      if (lines.length > 0) await out.write(`${lines.join('\n')}\n`);
    } finally {
      await out.close();
    }
    return { outputs: [{ kind: 'chem/native-screen-summary', payload: { rows } }] };
  },
};
