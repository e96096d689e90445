// Writes the rows of the native `descriptors` step as a CSV in screen.py's own columns, so that the
// bench compares it with the plain script's file as it compares chemflow's report.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

const COLUMNS = ['name', 'smiles', 'mw', 'clogp', 'hbd', 'hba', 'tpsa', 'rotatable_bonds'];

export default {
  kind: 'sink',
  version: '1',
  cacheable: false,
  run(ctx) {
    const screen = ctx.input.find((a) => a.kind === 'chem/native-screen');
    const rows = screen.payload.screen;
    const cell = (value) => (value === null || value === undefined ? '' : String(value));
    const lines = [COLUMNS.join(','), ...rows.map((row) => COLUMNS.map((c) => cell(row[c])).join(','))];
    const file = resolve(ctx.baseDir, ctx.params.out);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${lines.join('\n')}\n`);
    return { outputs: [{ kind: 'chem/native-screen-summary', payload: { rows: rows.length } }] };
  },
};
