import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { PermanentError, ValidationError } from '../core/error-class.js';
import { CsvSyntaxError, csvRecords, type CsvRecord } from './csv.js';
import type { CsvPart } from './csv-split.js';

/**
 * The records of a CSV file as it is read (only the bytes of `part`, when given). An unreadable file
 * fails the attempt Permanent (`INPUT_UNREADABLE`), a CSV syntax error Validation (`CSV_SYNTAX`, with
 * its line); `shownAs` is how messages name the file (as the flow file wrote it).
 */
export async function* csvFileRecords(path: string, shownAs: string, part?: CsvPart): AsyncGenerator<CsvRecord> {
  if (part !== undefined && part.end <= part.start) return;
  const range = part === undefined ? {} : { start: part.start, end: part.end - 1 };
  const text = createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20, ...range });
  const pieces: AsyncIterable<string> = {
    async *[Symbol.asyncIterator]() {
      try {
        for await (const piece of text) yield piece as string;
      } catch (error) {
        throw unreadableFile(shownAs, path, error);
      }
    },
  };
  try {
    yield* csvRecords(pieces, part === undefined ? undefined : { line: part.line });
  } catch (error) {
    if (!(error instanceof CsvSyntaxError)) throw error;
    throw new ValidationError(`${shownAs}: ${error.message}`, { code: 'CSV_SYNTAX', details: { line: error.line }, cause: error });
  } finally {
    text.destroy();
  }
}

/** A file that cannot be read: Permanent, since reading it again gives the same error until someone acts. */
export function unreadableFile(shownAs: string, path: string, error: unknown): PermanentError {
  return new PermanentError(`cannot read ${shownAs} (${path}): ${(error as Error).message}`, {
    code: 'INPUT_UNREADABLE',
    details: { file: shownAs },
    cause: error,
  });
}

/** The SHA-256 of a file's text (as UTF-8), read as a stream: a step's cache key part for the file it reads. */
export async function fileTextHash(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const piece of createReadStream(path, { encoding: 'utf8' })) hash.update(piece as string, 'utf8');
  return hash.digest('hex');
}

/** A column name as people write them: letters, digits, spaces and `_ - . ( ) %`, at most 64 characters. */
const COLUMN_NAME = /^[\p{L}\p{N}_][\p{L}\p{N}_ .()%-]{0,63}$/u;
const MAX_COLUMNS_SHOWN = 50;

/**
 * Whether a header may be quoted in an error message. The first line of a file that is no CSV (a key,
 * a password file) would otherwise be copied into the error row, which is kept for ever: a header is
 * quoted only when every field of it looks like a column name.
 */
export function looksLikeHeader(names: readonly string[]): boolean {
  return names.length <= MAX_COLUMNS_SHOWN && names.every((n) => COLUMN_NAME.test(n));
}

/** A column the header lacks: Validation `MISSING_COLUMN`, quoting the header only when it looks like one. */
export function missingColumn(file: string, column: string, header: readonly string[]): ValidationError {
  const shown = looksLikeHeader(header);
  return new ValidationError(
    shown
      ? `${file} has no column ${JSON.stringify(column)}; its header has ${header.map((n) => JSON.stringify(n)).join(', ')}`
      : `${file} has no column ${JSON.stringify(column)}; its first line (${header.length} field(s)) does not look like a header of column names, so it is not quoted`,
    { code: 'MISSING_COLUMN', details: shown ? { column, header: [...header] } : { column, fields: header.length } },
  );
}
