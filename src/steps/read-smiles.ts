import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { z } from 'zod';
import type { BatchArtifact } from '../core/artifact.js';
import type { ShardPosition, StepContext, StepModule } from '../core/definition.js';
import { ValidationError } from '../core/error-class.js';
import type { BatchOutputWriter, StepOutput } from '../core/step-data.js';
import { CHEM_KINDS, moleculeSchema, ROWS, type Molecule, type RejectedRow } from './chem-artifacts.js';
import type { CsvRecord } from './csv.js';
import { csvFileRecords, fileTextHash, missingColumn, unreadableFile } from './csv-file.js';
import { csvPart, type CsvPart } from './csv-split.js';
import { paramsParser } from './params.js';
import { inchiKeyOf, withMolecule } from './rdkit.js';
import { RowCursor } from './row-join.js';
import { rowsInputOf } from './step-io.js';

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
 *
 * Mapped (`map: { over: bytes, shardSize: n }`), the file is split into parts of about n bytes, each
 * aligned to whole records (`csvPart`), and each shard reads its part: every row RDKit reads becomes a
 * candidate, every other row a rejected row. `combine` then applies the duplicate rule to the
 * candidates of all parts in file order, exactly as a whole read does as it goes: the outputs, and
 * their hashes, are those of the whole read for any shard size.
 */
export const readSmiles: StepModule<ReadSmilesParams> = {
  kind: 'source',
  version: '2',
  parseParams,
  streaming: true,
  /** The CSV's content enters the step cache key: a changed file reruns this step and what follows. */
  async cacheKey(params, ctx) {
    return { file: await fileTextHash(resolve(ctx.baseDir, params.file)) };
  },
  split: {
    over: 'bytes',
    async items(params, ctx) {
      return (await fileSize(resolve(ctx.baseDir, params.file), params.file)).size;
    },
    async combine(ctx) {
      const { file } = ctx.params;
      const candidates = rowsInputOf(ctx.input, CANDIDATES, { rowsField: 'molecules', header: sourceHeader, row: candidateSchema });
      const unreadable = rowsInputOf(ctx.input, CHEM_KINDS.rejectedRows, ROWS.rejectedRows);
      const rule = new DuplicateRule(ctx, file);
      for await (const row of inLineOrder(candidates.chunks(), unreadable.chunks())) await rule.add(row);
      return { outputs: await rule.finish() };
    },
  },
  async run(ctx) {
    const { file } = ctx.params;
    const path = resolve(ctx.baseDir, file);
    if (ctx.shard !== undefined) return { outputs: await readPart(ctx, path, ctx.shard) };
    const rule = new DuplicateRule(ctx, file);
    let columns: Columns | undefined;
    for await (const record of records(ctx, path)) {
      if (columns === undefined) {
        columns = columnsOf(record, ctx.params);
        continue;
      }
      ctx.signal.throwIfAborted();
      await rule.add(await readRow(record, columns));
    }
    if (columns === undefined) throw new ValidationError(`${file} is empty`, { code: 'EMPTY_INPUT' });
    return { outputs: await rule.finish() };
  },
};

/**
 * Kind of a shard's rows that RDKit read (a `chem/molecules` payload that may still hold the same
 * molecule twice): what `combine` applies the duplicate rule to. Never a step's output.
 */
const CANDIDATES = 'chem/read-smiles-candidates';
const sourceHeader = z.object({ source: z.string() });
/** A candidate: the molecule, and its SMILES as the file wrote it. */
const candidateSchema = moleculeSchema.extend({ input: z.string() });
type Candidate = z.infer<typeof candidateSchema>;

/** Where the SMILES and the name are in a record. */
interface Columns {
  smiles: number;
  name: number;
}

function columnsOf(header: CsvRecord, params: ReadSmilesParams): Columns {
  return { smiles: columnIndex(header, params.smilesColumn, params.file), name: columnIndex(header, params.nameColumn, params.file) };
}

/**
 * One row of the file as read: a molecule RDKit read (with its SMILES as the file wrote it, which a
 * duplicate's rejected row quotes), or a row rejected for why RDKit could not read it.
 */
type ReadRow = { molecule: Molecule; input: string } | { rejected: RejectedRow };

async function readRow(row: CsvRecord, columns: Columns): Promise<ReadRow> {
  const name = (row.fields[columns.name] ?? '').trim();
  const input = (row.fields[columns.smiles] ?? '').trim();
  const read = await withMolecule(input, (mol, rdkit) => ({ smiles: mol.get_smiles(), inchikey: inchiKeyOf(rdkit, mol) }));
  if (!read.ok) return { rejected: { line: row.line, name, smiles: input, reason: read.reason } };
  if (read.value.inchikey === undefined)
    return { rejected: { line: row.line, name, smiles: input, reason: 'RDKit could not compute an InChI for this molecule' } };
  return { molecule: { inchikey: read.value.inchikey, name, smiles: read.value.smiles, line: row.line }, input };
}

/**
 * The duplicate rule, applied to the rows in file order: a molecule whose InChIKey an earlier row
 * already had is a rejected row naming that row's line. The one place the rule lives, for a whole read
 * and for the parts of a mapped one alike; it writes the step's two outputs.
 */
class DuplicateRule {
  private readonly molecules: BatchOutputWriter;
  private readonly rejected: BatchOutputWriter;
  private readonly rejectedLines: number[] = [];
  private readonly firstLineOf = new Map<string, number>();

  constructor(
    private readonly ctx: StepContext<ReadSmilesParams>,
    private readonly file: string,
  ) {
    this.molecules = ctx.batch(CHEM_KINDS.molecules, { rowsField: 'molecules', header: { source: file } });
    this.rejected = ctx.batch(CHEM_KINDS.rejectedRows, { rowsField: 'rows', header: { source: file } });
  }

  async add(row: ReadRow): Promise<void> {
    if ('rejected' in row) return this.reject(row.rejected);
    const { inchikey, line, name } = row.molecule;
    const first = this.firstLineOf.get(inchikey);
    if (first !== undefined) return this.reject({ line, name, smiles: row.input, reason: `same molecule (InChIKey ${inchikey}) as line ${first}` });
    this.firstLineOf.set(inchikey, line);
    await this.molecules.push(row.molecule);
  }

  /** The outputs, once every row was added; no molecule at all fails the step (Validation, `NO_MOLECULES`). */
  async finish(): Promise<StepOutput[]> {
    const { file, rejectedLines } = this;
    if (this.molecules.rowCount === 0)
      throw new ValidationError(`${file} holds no molecule RDKit can read (${rejectedLines.length} row(s) rejected)`, {
        code: 'NO_MOLECULES',
        // Line numbers only: the rows are whatever the file holds, and error rows are kept for ever.
        details: { rejected: rejectedLines.length, lines: rejectedLines.slice(0, 10) },
      });
    if (rejectedLines.length > 0) this.ctx.emit('rejected-rows', { count: rejectedLines.length, lines: rejectedLines });
    return [await this.molecules.close(), await this.rejected.close()];
  }

  private reject(row: RejectedRow): Promise<void> {
    this.rejectedLines.push(row.line);
    return this.rejected.push(row);
  }
}

/**
 * A shard's part of the file (`csvPart`): each row RDKit reads as a candidate (the duplicate rule is
 * `combine`'s, over all parts in order), each other row as a rejected row. Every shard reads the
 * header itself, so each refuses a file without the columns as a whole read does.
 */
async function readPart(ctx: StepContext<ReadSmilesParams>, path: string, shard: ShardPosition): Promise<BatchArtifact[]> {
  const { file } = ctx.params;
  const { size } = await fileSize(path, file);
  let header: CsvRecord | undefined;
  for await (const record of records(ctx, path)) {
    header = record;
    break;
  }
  if (header === undefined) throw new ValidationError(`${file} is empty`, { code: 'EMPTY_INPUT' });
  const columns = columnsOf(header, ctx.params);
  const part = await csvPart(path, size, shard.index, shard.count);
  const candidates = ctx.batch(CANDIDATES, { rowsField: 'molecules', header: { source: file } });
  const rejected = ctx.batch(CHEM_KINDS.rejectedRows, { rowsField: 'rows', header: { source: file } });
  for await (const record of records(ctx, path, part)) {
    if (part.start === 0 && record.line === header.line) continue; // the first part starts with the header
    ctx.signal.throwIfAborted();
    const row = await readRow(record, columns);
    if ('rejected' in row) await rejected.push(row.rejected);
    else await candidates.push({ ...row.molecule, input: row.input } satisfies Candidate);
  }
  return [await candidates.close(), await rejected.close()];
}

/** The candidates and the rows RDKit could not read (each in file order) merged into one stream in file order. */
async function* inLineOrder(candidates: AsyncIterable<readonly Candidate[]>, unreadable: AsyncIterable<readonly RejectedRow[]>): AsyncGenerator<ReadRow> {
  const molecules = new RowCursor(candidates);
  const rejected = new RowCursor(unreadable);
  try {
    let m = await molecules.next();
    let r = await rejected.next();
    while (m !== undefined || r !== undefined) {
      if (m !== undefined && (r === undefined || m.line < r.line)) {
        const { input, ...molecule } = m;
        yield { molecule, input };
        m = await molecules.next();
      } else if (r !== undefined) {
        yield { rejected: r };
        r = await rejected.next();
      }
    }
  } finally {
    await Promise.all([molecules.close(), rejected.close()]);
  }
}

/** The file's size; a file that cannot be read fails the attempt for good. */
async function fileSize(path: string, file: string): Promise<{ size: number }> {
  try {
    return await stat(path);
  } catch (error) {
    throw unreadableFile(file, path, error);
  }
}


/** The CSV's records as the file is read (only the bytes of `part`, when given). */
function records(ctx: StepContext<ReadSmilesParams>, path: string, part?: CsvPart): AsyncGenerator<CsvRecord> {
  return csvFileRecords(path, ctx.params.file, part);
}

function columnIndex(header: CsvRecord, column: string, file: string): number {
  const names = header.fields.map((f) => f.trim());
  const index = names.indexOf(column);
  if (index === -1) throw missingColumn(file, column, names);
  return index;
}
