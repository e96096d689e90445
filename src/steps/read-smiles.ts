import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import type { StepContext, StepModule } from '../core/definition.js';
import { PermanentError, ValidationError } from '../core/error-class.js';
import { CHEM_KINDS, type RejectedRow } from './chem-artifacts.js';
import { CsvSyntaxError, csvRecords, type CsvRecord } from './csv.js';
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
 * a list of a thousand molecules should not stop the other 999. The file is read as a stream and the
 * molecules written a chunk at a time: what it holds in memory per row is the InChIKey and line of each
 * molecule read (to find the second row of a molecule) and the line of each rejected row.
 */
export const readSmiles: StepModule<ReadSmilesParams> = {
  kind: 'source',
  version: '2',
  parseParams,
  streaming: true,
  /** The CSV's content enters the step cache key: a changed file reruns this step and what follows. */
  async cacheKey(params, ctx) {
    // The hash of the file's text (as UTF-8), read as a stream.
    const hash = createHash('sha256');
    for await (const piece of createReadStream(resolve(ctx.baseDir, params.file), { encoding: 'utf8' })) hash.update(piece as string, 'utf8');
    return { file: hash.digest('hex') };
  },
  async run(ctx) {
    const { file } = ctx.params;
    const molecules = ctx.batch(CHEM_KINDS.molecules, { rowsField: 'molecules', header: { source: file } });
    const rejected = ctx.batch(CHEM_KINDS.rejectedRows, { rowsField: 'rows', header: { source: file } });
    const rejectedLines: number[] = [];
    const reject = (row: RejectedRow): Promise<void> => {
      rejectedLines.push(row.line);
      return rejected.push(row);
    };
    const firstLineOf = new Map<string, number>();
    let smilesAt = -1;
    let nameAt = -1;
    let header = true;
    for await (const row of records(ctx)) {
      if (header) {
        smilesAt = columnIndex(row, ctx.params.smilesColumn, file);
        nameAt = columnIndex(row, ctx.params.nameColumn, file);
        header = false;
        continue;
      }
      ctx.signal.throwIfAborted();
      const name = (row.fields[nameAt] ?? '').trim();
      const input = (row.fields[smilesAt] ?? '').trim();
      const read = await withMolecule(input, (mol, rdkit) => ({ smiles: mol.get_smiles(), inchikey: inchiKeyOf(rdkit, mol) }));
      if (!read.ok) {
        await reject({ line: row.line, name, smiles: input, reason: read.reason });
      } else if (read.value.inchikey === undefined) {
        await reject({ line: row.line, name, smiles: input, reason: 'RDKit could not compute an InChI for this molecule' });
      } else {
        const { inchikey, smiles } = read.value;
        const first = firstLineOf.get(inchikey);
        if (first !== undefined) {
          await reject({ line: row.line, name, smiles: input, reason: `same molecule (InChIKey ${inchikey}) as line ${first}` });
        } else {
          firstLineOf.set(inchikey, row.line);
          await molecules.push({ inchikey, name, smiles, line: row.line });
        }
      }
    }
    if (header) throw new ValidationError(`${file} is empty`, { code: 'EMPTY_INPUT' });
    if (molecules.rowCount === 0)
      throw new ValidationError(`${file} holds no molecule RDKit can read (${rejectedLines.length} row(s) rejected)`, {
        code: 'NO_MOLECULES',
        // Line numbers only: the rows are whatever the file holds, and error rows are kept for ever.
        details: { rejected: rejectedLines.length, lines: rejectedLines.slice(0, 10) },
      });
    if (rejectedLines.length > 0) ctx.emit('rejected-rows', { count: rejectedLines.length, lines: rejectedLines });
    return { outputs: [await molecules.close(), await rejected.close()] };
  },
};

/** The CSV's records as the file is read; an unreadable file or a CSV syntax error fails the attempt. */
async function* records(ctx: StepContext<ReadSmilesParams>): AsyncGenerator<CsvRecord> {
  const path = resolve(ctx.baseDir, ctx.params.file);
  const text = createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 });
  const pieces: AsyncIterable<string> = {
    async *[Symbol.asyncIterator]() {
      try {
        for await (const piece of text) yield piece as string;
      } catch (error) {
        throw new PermanentError(`cannot read ${ctx.params.file} (${path}): ${(error as Error).message}`, {
          code: 'INPUT_UNREADABLE',
          details: { file: ctx.params.file },
          cause: error,
        });
      }
    },
  };
  try {
    yield* csvRecords(pieces);
  } catch (error) {
    if (!(error instanceof CsvSyntaxError)) throw error;
    throw new ValidationError(`${ctx.params.file}: ${error.message}`, { code: 'CSV_SYNTAX', details: { line: error.line }, cause: error });
  } finally {
    text.destroy();
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
