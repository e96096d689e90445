import { z } from 'zod';
import type { Artifact } from '../core/artifact.js';
import type { JsonObject, JsonValue } from '../core/canonical-json.js';
import { ValidationError } from '../core/error-class.js';
import type { BatchInput, StepInput, StepOutput } from '../core/step-data.js';

/**
 * The one input artifact of `kind`, checked against its schema. A step only sees the previous step's
 * outputs, so a missing or malformed artifact means the flow is wired wrong: a `Validation` failure.
 */
export function inputOf<T>(input: readonly StepInput[], kind: string, schema: z.ZodType<T>): T {
  const found = optionalInputOf(input, kind, schema);
  if (found === undefined) throw missingInput(input, kind);
  return found;
}

/** Like `inputOf`, but `undefined` when the previous step gave no artifact of `kind`. */
export function optionalInputOf<T>(input: readonly StepInput[], kind: string, schema: z.ZodType<T>): T | undefined {
  const artifact = oneOf(input, kind);
  if (artifact === undefined) return undefined;
  if (!('payload' in artifact))
    throw new ValidationError(`input artifact ${kind} is a ${artifact.form}, where a value held whole is expected`, {
      code: 'MALFORMED_INPUT',
      details: { kind, form: artifact.form },
    });
  return parsed(schema, artifact.payload, kind, []);
}

/**
 * An input artifact that is a list of rows beside a few header fields (`{ source, molecules: [...] }`),
 * as a streaming step reads it: the header checked at once, the rows checked a chunk at a time as
 * they are read. The same for an artifact held whole and a batch read from the blob store.
 */
export interface RowsInput<H, R> {
  /** The input as given, to pass on unchanged. */
  readonly artifact: Artifact | BatchInput;
  readonly header: H;
  readonly rowCount: number;
  /** The rows in order, in chunks; each call reads them again from the start. */
  chunks(): AsyncIterable<readonly R[]>;
}

/** What a rows input holds: its rows field, and the schemas of its header and of one row. */
export interface RowsShape<H, R> {
  readonly rowsField: string;
  readonly header: z.ZodType<H>;
  readonly row: z.ZodType<R>;
}

/** Rows of a whole artifact are checked in slices of this many, as a batch is a chunk at a time. */
const WHOLE_SLICE_ROWS = 10_000;

/** The one rows input of `kind` (see `RowsInput`); a missing or malformed one is a `Validation` failure. */
export function rowsInputOf<H, R>(input: readonly StepInput[], kind: string, shape: RowsShape<H, R>): RowsInput<H, R> {
  const found = optionalRowsInputOf(input, kind, shape);
  if (found === undefined) throw missingInput(input, kind);
  return found;
}

/** Like `rowsInputOf`, but `undefined` when the previous step gave no artifact of `kind`. */
export function optionalRowsInputOf<H, R>(input: readonly StepInput[], kind: string, shape: RowsShape<H, R>): RowsInput<H, R> | undefined {
  const artifact = oneOf(input, kind);
  if (artifact === undefined) return undefined;
  const { rowsField } = shape;
  const rowsSchema = z.array(shape.row);
  const checkRows = (rows: readonly JsonValue[], offset: number): R[] => parsed(rowsSchema, rows, kind, [rowsField], offset);
  if ('payload' in artifact) {
    const payload = artifact.payload;
    const isObject = typeof payload === 'object' && payload !== null && !Array.isArray(payload);
    const rows = isObject ? payload[rowsField] : undefined;
    if (!isObject || !Array.isArray(rows)) {
      // Reported as the whole schema reports it, so the message names what is wrong.
      parsed(z.object({ [rowsField]: z.array(z.unknown()) }), payload, kind, []);
      throw new Error('unreachable: a payload without its rows list passed its schema');
    }
    const header = parsed(shape.header, headerOf(payload, rowsField), kind, []);
    return {
      artifact,
      header,
      rowCount: rows.length,
      chunks: () => slices(rows, checkRows),
    };
  }
  if (artifact.form === 'file')
    throw new ValidationError(`input artifact ${kind} is a file, where rows are expected`, { code: 'MALFORMED_INPUT', details: { kind, form: 'file' } });
  if (artifact.rowsField !== rowsField)
    throw new ValidationError(`input artifact ${kind} is malformed: its rows are in ${JSON.stringify(artifact.rowsField)}, not ${JSON.stringify(rowsField)}`, {
      code: 'MALFORMED_INPUT',
      details: { kind, rowsField: artifact.rowsField },
    });
  const header = parsed(shape.header, artifact.header, kind, []);
  return {
    artifact,
    header,
    rowCount: artifact.rowCount,
    async *chunks() {
      let offset = 0;
      for await (const chunk of artifact.chunks()) {
        yield checkRows(chunk, offset);
        offset += chunk.length;
      }
    },
  };
}

async function* slices<R>(rows: readonly JsonValue[], check: (rows: readonly JsonValue[], offset: number) => R[]): AsyncGenerator<R[]> {
  for (let from = 0; from < rows.length; from += WHOLE_SLICE_ROWS) yield await Promise.resolve(check(rows.slice(from, from + WHOLE_SLICE_ROWS), from));
}

function headerOf(payload: JsonObject, rowsField: string): JsonObject {
  const { [rowsField]: _rows, ...header } = payload;
  return header;
}

function oneOf(input: readonly StepInput[], kind: string): StepInput | undefined {
  const matches = input.filter((a) => a.kind === kind);
  if (matches.length > 1)
    throw new ValidationError(`expected one input artifact of kind ${kind}, got ${matches.length}`, {
      code: 'AMBIGUOUS_INPUT',
      details: { kind, count: matches.length },
    });
  return matches[0];
}

function missingInput(input: readonly StepInput[], kind: string): ValidationError {
  const kinds = [...new Set(input.map((a) => a.kind))];
  return new ValidationError(`expected an input artifact of kind ${kind}; the previous step gave ${kinds.length ? kinds.join(', ') : 'none'}`, {
    code: 'MISSING_INPUT',
    details: { expected: kind, received: kinds },
  });
}

/** `value` checked against `schema`; the issues' paths start with `prefix`, and a row index is shifted by `offset`. */
function parsed<T>(schema: z.ZodType<T>, value: unknown, kind: string, prefix: readonly string[], offset = 0): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const path = (issue: z.core.$ZodIssue): string =>
    [...prefix, ...issue.path.map((p, i) => (i === 0 && typeof p === 'number' && prefix.length > 0 ? p + offset : p))].join('.');
  throw new ValidationError(`input artifact ${kind} is malformed: ${result.error.issues[0]?.message ?? 'invalid'}`, {
    code: 'MALFORMED_INPUT',
    details: { kind, issues: result.error.issues.slice(0, 5).map((i) => `${path(i)}: ${i.message}`) },
    cause: result.error,
  });
}

/**
 * A step's outputs: its own artifacts, after every input artifact of another kind, passed on unchanged
 * (the input object itself: no copy, same hash). Steps only see their predecessor's outputs, so this is
 * how the report at the end still gets the rejected rows from the reader at the start.
 */
export function forward(input: readonly StepInput[], outputs: readonly StepOutput[]): StepOutput[] {
  const replaced = new Set(outputs.map((o) => o.kind));
  return [...input.filter((a) => !replaced.has(a.kind)), ...outputs];
}
