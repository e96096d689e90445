import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { JsonValue } from '../../core/canonical-json.js';
import type { CommandOutputSpec } from '../../core/command-spec.js';
import type { StepDataWriters, StepOutput } from '../../core/step-data.js';
import { CsvParser, CsvSyntaxError } from '../../steps/csv.js';

/** A declared output the command did not write, or wrote in a form its `format` cannot read: a bug in the command (Runtime). */
export class CommandOutputError extends Error {
  readonly errorClass = 'Runtime' as const;
  constructor(
    message: string,
    readonly code: 'COMMAND_OUTPUT_MISSING' | 'COMMAND_OUTPUT_FORMAT',
  ) {
    super(message);
  }
}

/**
 * The command's declared outputs as step outputs, in their declared order. A file is stored as it is,
 * streamed into the blob store (a file artifact, named by its base name, its `outputs` key kept in its
 * metadata `name`). With `format`, it is parsed instead: `csv` and `jsonl` a row at a time into a batch
 * whose payload is `{NAME: [rows]}`, `json` whole into a JSON artifact.
 */
export async function readOutputs(outputs: Readonly<Record<string, CommandOutputSpec>>, dir: string, ctx: StepDataWriters): Promise<StepOutput[]> {
  const results: StepOutput[] = [];
  for (const [name, spec] of Object.entries(outputs)) {
    const path = join(dir, spec.path);
    const info = await stat(path).catch(() => null);
    if (info === null || !info.isFile())
      throw new CommandOutputError(
        `The command exited 0 but did not write its output ${name} at ${spec.path}${info === null ? '' : ' (it is not a regular file)'}`,
        'COMMAND_OUTPUT_MISSING',
      );
    const metadata = { name };
    switch (spec.format) {
      case null:
        results.push(await ctx.file(spec.kind, path, { name: basename(spec.path), metadata }));
        break;
      case 'json': {
        let payload: JsonValue;
        try {
          payload = JSON.parse(await readFile(path, 'utf8')) as JsonValue;
        } catch (error) {
          throw new CommandOutputError(`Output ${name} (${spec.path}) is not valid JSON: ${(error as Error).message}`, 'COMMAND_OUTPUT_FORMAT');
        }
        results.push({ kind: spec.kind, payload, metadata });
        break;
      }
      case 'jsonl':
      case 'csv': {
        const writer = ctx.batch(spec.kind, { rowsField: name, header: {}, metadata });
        await writer.pushAll(spec.format === 'jsonl' ? jsonlRows(path, name, spec.path) : csvRows(path, name, spec.path));
        results.push(await writer.close());
        break;
      }
    }
  }
  return results;
}

async function* jsonlRows(path: string, name: string, shown: string): AsyncGenerator<JsonValue> {
  let line = 0;
  for await (const text of createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity })) {
    line++;
    if (text.trim() === '') continue;
    try {
      yield JSON.parse(text) as JsonValue;
    } catch (error) {
      throw new CommandOutputError(`Output ${name} (${shown}) line ${line} is not a JSON value: ${(error as Error).message}`, 'COMMAND_OUTPUT_FORMAT');
    }
  }
}

/** A JSON number literal, as a cell that should read back as a number (`1`, `-2.5e3`; not `01`, not `.5`). */
const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

/** A cell: a JSON number literal is a number, empty is null, anything else its text. */
export function csvCell(text: string): JsonValue {
  if (text === '') return null;
  if (NUMBER.test(text)) {
    const n = Number(text);
    if (Number.isFinite(n)) return n;
  }
  return text;
}

async function* csvRows(path: string, name: string, shown: string): AsyncGenerator<JsonValue> {
  const parser = new CsvParser();
  let header: string[] | null = null;
  const rowsOf = function* (records: { line: number; fields: string[] }[]): Generator<JsonValue> {
    for (const record of records) {
      if (header === null) {
        header = record.fields;
        continue;
      }
      if (record.fields.length !== header.length)
        throw new CommandOutputError(
          `Output ${name} (${shown}) line ${record.line} has ${record.fields.length} fields, the header ${header.length}`,
          'COMMAND_OUTPUT_FORMAT',
        );
      const row: Record<string, JsonValue> = {};
      header.forEach((key, i) => (row[key] = csvCell(record.fields[i] ?? '')));
      yield row;
    }
  };
  try {
    for await (const piece of createReadStream(path, 'utf8')) yield* rowsOf(parser.push(piece as string));
    yield* rowsOf(parser.end());
  } catch (error) {
    if (error instanceof CsvSyntaxError) throw new CommandOutputError(`Output ${name} (${shown}): ${error.message}`, 'COMMAND_OUTPUT_FORMAT');
    throw error;
  }
}
