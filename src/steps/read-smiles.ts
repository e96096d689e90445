import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { z } from 'zod';
import type { StepContext, StepModule, StepResult } from '../core/definition.js';
import { PermanentError, ValidationError } from '../core/error-class.js';
import { sha256Hex } from '../core/hash.js';
import { CHEM_KINDS, type Molecule, type MoleculeSet, type RejectedRows } from './chem-artifacts.js';
import { CsvSyntaxError, parseCsv, type CsvRecord } from './csv.js';
import { paramsParser } from './params.js';
import { inchiKeyOf, withMolecule } from './rdkit.js';

const parseParams = paramsParser({
  /** CSV file with a header row, relative to the flow file's directory. */
  file: z.string().min(1),
  smilesColumn: z.string().min(1).default('smiles'),
  nameColumn: z.string().min(1).default('name'),
});
export type ReadSmilesParams = ReturnType<typeof parseParams>;

/**
 * `chem/read-smiles` (source): reads a CSV of named SMILES, parses and canonicalises each with RDKit and
 * identifies it by its InChIKey. A row RDKit cannot read, or a second row of a molecule already read,
 * is reported in `chem/rejected-rows` (and a `rejected-rows` signal) and the run goes on: one typo in
 * a list of a thousand molecules should not stop the other 999.
 */
export const readSmiles: StepModule<ReadSmilesParams> = {
  kind: 'source',
  version: '2',
  parseParams,
  /** The CSV's content enters the step cache key: a changed file reruns this step and what follows. */
  async cacheKey(params, ctx) {
    return { file: sha256Hex(await readFile(resolve(ctx.baseDir, params.file), 'utf8')) };
  },
  async run(ctx) {
    const records = await readRecords(ctx);
    const [header, ...rows] = records;
    if (header === undefined) throw new ValidationError(`${ctx.params.file} is empty`, { code: 'EMPTY_INPUT' });
    const smilesAt = columnIndex(header, ctx.params.smilesColumn, ctx.params.file);
    const nameAt = columnIndex(header, ctx.params.nameColumn, ctx.params.file);

    const molecules: Molecule[] = [];
    const rejected: RejectedRows['rows'] = [];
    const firstLineOf = new Map<string, number>();
    for (const row of rows) {
      ctx.signal.throwIfAborted();
      const name = (row.fields[nameAt] ?? '').trim();
      const input = (row.fields[smilesAt] ?? '').trim();
      const read = await withMolecule(input, (mol, rdkit) => ({ smiles: mol.get_smiles(), inchikey: inchiKeyOf(rdkit, mol) }));
      if (!read.ok) {
        rejected.push({ line: row.line, name, smiles: input, reason: read.reason });
      } else if (read.value.inchikey === undefined) {
        rejected.push({ line: row.line, name, smiles: input, reason: 'RDKit could not compute an InChI for this molecule' });
      } else {
        const { inchikey, smiles } = read.value;
        const first = firstLineOf.get(inchikey);
        if (first !== undefined) {
          rejected.push({ line: row.line, name, smiles: input, reason: `same molecule (InChIKey ${inchikey}) as line ${first}` });
        } else {
          firstLineOf.set(inchikey, row.line);
          molecules.push({ inchikey, name, smiles, line: row.line });
        }
      }
    }
    if (molecules.length === 0)
      throw new ValidationError(`${ctx.params.file} holds no molecule RDKit can read (${rejected.length} row(s) rejected)`, {
        code: 'NO_MOLECULES',
        // Line numbers only: the rows are whatever the file holds, and error rows are kept for ever.
        details: { rejected: rejected.length, lines: rejected.slice(0, 10).map((r) => r.line) },
      });
    if (rejected.length > 0)
      ctx.emit('rejected-rows', { count: rejected.length, lines: rejected.map((r) => r.line) });
    return output(ctx.params.file, molecules, rejected);
  },
};

async function readRecords(ctx: StepContext<ReadSmilesParams>): Promise<CsvRecord[]> {
  const path = resolve(ctx.baseDir, ctx.params.file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new PermanentError(`cannot read ${ctx.params.file} (${path}): ${(error as Error).message}`, {
      code: 'INPUT_UNREADABLE',
      details: { file: ctx.params.file },
      cause: error,
    });
  }
  try {
    return parseCsv(text);
  } catch (error) {
    if (!(error instanceof CsvSyntaxError)) throw error;
    throw new ValidationError(`${ctx.params.file}: ${error.message}`, { code: 'CSV_SYNTAX', details: { line: error.line }, cause: error });
  }
}

function columnIndex(header: CsvRecord, column: string, file: string): number {
  const names = header.fields.map((f) => f.trim());
  const index = names.indexOf(column);
  if (index !== -1) return index;
  // The first line of a file that is no CSV (a key, a password file) would otherwise be copied into the
  // error row, which is kept for ever: quote the header only when every field of it looks like a column name.
  const shown = names.length <= MAX_COLUMNS_SHOWN && names.every((n) => COLUMN_NAME.test(n));
  throw new ValidationError(
    shown
      ? `${file} has no column ${JSON.stringify(column)}; its header has ${names.map((n) => JSON.stringify(n)).join(', ')}`
      : `${file} has no column ${JSON.stringify(column)}; its first line (${names.length} field(s)) does not look like a header of column names, so it is not quoted`,
    { code: 'MISSING_COLUMN', details: shown ? { column, header: names } : { column, fields: names.length } },
  );
}

/** A column name as people write them: letters, digits, spaces and `_ - . ( ) %`, at most 64 characters. */
const COLUMN_NAME = /^[\p{L}\p{N}_][\p{L}\p{N}_ .()%-]{0,63}$/u;
const MAX_COLUMNS_SHOWN = 50;

function output(source: string, molecules: Molecule[], rows: RejectedRows['rows']): StepResult {
  const set: MoleculeSet = { source, molecules };
  const rejected: RejectedRows = { source, rows };
  return {
    outputs: [
      { kind: CHEM_KINDS.molecules, payload: set },
      { kind: CHEM_KINDS.rejectedRows, payload: rejected },
    ],
  };
}
