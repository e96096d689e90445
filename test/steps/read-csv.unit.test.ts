import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentError } from '../../src/core/error-class.js';
import { readCsv, TABLE_ROWS_KIND } from '../../src/steps/read-csv.js';
import { runStep, scratchDir } from './support/run-step.js';

let dir: string;
let remove: () => Promise<void>;
beforeAll(async () => ({ dir, remove } = await scratchDir()));
afterAll(() => remove());

async function csv(name: string, text: string): Promise<string> {
  await writeFile(join(dir, name), text);
  return name;
}

const read = (file: string, params: Record<string, unknown> = {}) => runStep(readCsv, { params: { file, ...params }, baseDir: dir });

describe('table/read-csv', () => {
  it('reads every record as an object of its fields, text as written', async () => {
    const file = await csv('t.csv', 'name,smiles,score\r\n"a, quoted",CCO, 1.50\nb,c1ccccc1,\n');
    const run = await read(file);
    expect(run.stored[0]?.kind).toBe(TABLE_ROWS_KIND);
    expect(run.artifacts[0]?.payload).toEqual({
      source: 't.csv',
      rows: [
        { name: 'a, quoted', smiles: 'CCO', score: ' 1.50' },
        { name: 'b', smiles: 'c1ccccc1', score: '' },
      ],
    });
  });

  it('keeps the columns asked for, and gives the same hash for the same text', async () => {
    const file = await csv('u.csv', 'name,smiles,score\nb,CC,2\n');
    const run = await read(file, { columns: ['smiles', 'name'] });
    expect(run.artifacts[0]?.payload).toEqual({ source: 'u.csv', rows: [{ smiles: 'CC', name: 'b' }] });
    expect(Object.keys((run.artifacts[0]?.payload as { rows: object[] }).rows[0] ?? {})).toEqual(['name', 'smiles']); // canonical JSON sorts keys
    const again = await read(await csv('u2.csv', 'name,smiles,score\nb,CC,2\n'), { columns: ['smiles', 'name'] });
    expect(again.stored[0]?.hash).not.toBe(run.stored[0]?.hash); // the source file's name is part of the payload
    expect((await read(file, { columns: ['smiles', 'name'] })).stored[0]?.hash).toBe(run.stored[0]?.hash);
  });

  it('refuses a missing column, a repeated or blank header name, an empty file, an open quote and a missing file', async () => {
    await expect(read(await csv('v.csv', 'name,smiles\nx,C\n'), { columns: ['inchi'] })).rejects.toMatchObject({
      errorClass: 'Validation',
      code: 'MISSING_COLUMN',
      message: 'v.csv has no column "inchi"; its header has "name", "smiles"',
    });
    await expect(read(await csv('w.csv', 'name,name\nx,C\n'))).rejects.toThrow(/w\.csv: column "name" appears twice in its header/);
    await expect(read(await csv('x.csv', 'name,,smiles\nx,,C\n'))).rejects.toThrow(/x\.csv: column 2 has no name/);
    expect((await read('x.csv', { columns: ['smiles'] })).artifacts[0]?.payload).toMatchObject({ rows: [{ smiles: 'C' }] });
    await expect(read(await csv('y.csv', ''))).rejects.toMatchObject({ code: 'EMPTY_INPUT', errorClass: 'Validation' });
    await expect(read(await csv('z.csv', 'name\n"open\n'))).rejects.toMatchObject({ code: 'CSV_SYNTAX', errorClass: 'Validation' });
    const missing = read('nowhere.csv');
    await expect(missing).rejects.toBeInstanceOf(PermanentError);
    await expect(missing).rejects.toMatchObject({ code: 'INPUT_UNREADABLE' });
  });

  it('reads a header with no rows as an empty batch', async () => {
    const run = await read(await csv('h.csv', 'name,smiles\n'));
    expect(run.artifacts[0]?.payload).toEqual({ source: 'h.csv', rows: [] });
  });
});
