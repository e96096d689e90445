import { resolve } from 'node:path';
import { z } from 'zod';
import type { JsonObject } from '../core/canonical-json.js';
import type { StepModule } from '../core/definition.js';
import { ValidationError } from '../core/error-class.js';
import { csvFileRecords, fileTextHash, looksLikeHeader, missingColumn } from './csv-file.js';
import { paramsParser } from './params.js';

const parseParams = paramsParser({
  /** CSV file with a header row, relative to the flow file's directory. */
  file: z.string().min(1),
  /** The columns to keep; default every column of the header. (A row's keys are stored sorted, as all JSON is.) */
  columns: z.array(z.string().min(1)).min(1).optional(),
});
export type ReadCsvParams = ReturnType<typeof parseParams>;

/**
 * The kind of `table/read-csv`'s output: `{ source, rows: [{ column: text, … }] }`. The rows are the
 * payload's one list, so the batch can be mapped over `rows` and staged for a command as rows.
 */
export const TABLE_ROWS_KIND = 'table/rows';

/**
 * `table/read-csv` (source): a CSV file with a header row as a batch of rows, one object per record
 * keyed by column name, every value the field's text as written (no number guessing: what the file
 * says is what the rows hold). It knows no chemistry: it feeds rows to steps that bring their own,
 * such as a command step running a native toolkit. Streamed: memory does not grow with the file.
 */
export const readCsv: StepModule<ReadCsvParams> = {
  kind: 'source',
  version: '1',
  parseParams,
  streaming: true,
  /** The file's content enters the step cache key: a changed file reruns this step and what follows. */
  async cacheKey(params, ctx) {
    return { file: await fileTextHash(resolve(ctx.baseDir, params.file)) };
  },
  async run(ctx) {
    const { file } = ctx.params;
    let writer: ReturnType<typeof ctx.batch> | undefined;
    let pick: { name: string; at: number }[] = [];
    for await (const record of csvFileRecords(resolve(ctx.baseDir, file), file)) {
      if (writer === undefined) {
        pick = columnsOf(record.fields.map((f) => f.trim()), ctx.params.columns, file);
        writer = ctx.batch(TABLE_ROWS_KIND, { rowsField: 'rows', header: { source: file } });
        continue;
      }
      ctx.signal.throwIfAborted();
      const row: JsonObject = {};
      for (const { name, at } of pick) row[name] = record.fields[at] ?? '';
      await writer.push(row);
    }
    if (writer === undefined) throw new ValidationError(`${file} is empty`, { code: 'EMPTY_INPUT' });
    return { outputs: [await writer.close()] };
  },
};

/** The header's columns to keep and where each is; an unknown, blank or repeated column name is Validation. */
function columnsOf(header: string[], wanted: readonly string[] | undefined, file: string): { name: string; at: number }[] {
  const shown = looksLikeHeader(header);
  const seen = new Set<string>();
  header.forEach((name, at) => {
    const problem = name === '' ? `column ${at + 1} has no name` : seen.has(name) ? `column ${JSON.stringify(name)} appears twice` : undefined;
    seen.add(name);
    if (problem !== undefined && (wanted === undefined || wanted.includes(name)))
      throw new ValidationError(`${file}: ${problem} in its header`, { code: 'BAD_HEADER', details: shown ? { header } : { fields: header.length } });
  });
  return (wanted ?? header).map((name) => {
    const at = header.indexOf(name);
    if (at === -1) throw missingColumn(file, name, header);
    return { name, at };
  });
}
