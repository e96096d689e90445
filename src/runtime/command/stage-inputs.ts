import { createWriteStream, type WriteStream } from 'node:fs';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { canonicalJson, type JsonValue } from '../../core/canonical-json.js';
import type { InputFormat } from '../../core/command-spec.js';
import { ValidationError } from '../../core/error-class.js';
import type { BatchInput, StepInput } from '../../core/step-data.js';
import { wholeBatchInputOf } from '../step-data-io.js';

/**
 * Puts one input where the command reads it, under `<dir>/in/`, read-only. A file artifact keeps its
 * name (`in/NAME/protonated.sdf`: programs that guess the format from the extension still can); it is
 * hard-linked from a blob directory (no copy, however large) and verified against its hash, or copied
 * (verified) when it cannot be linked. A JSON or batch artifact is written as `in/NAME.<format>`, a row
 * at a time: rows are never all held in memory for it.
 */
export async function stageInput(input: StepInput, name: string, format: InputFormat | null, dir: string): Promise<string> {
  const inDir = join(dir, 'in');
  if ('form' in input && input.form === 'file') {
    const target = join(inDir, name, safeFileName(input.name));
    await mkdir(join(inDir, name), { recursive: true });
    await input.placeAt(target);
    return target;
  }
  await mkdir(inDir, { recursive: true });
  const rows = 'form' in input ? input : wholeBatchInputOf(input);
  const payload = 'form' in input ? null : input.payload;
  const chosen = format ?? (rows === undefined ? 'json' : 'jsonl');
  const target = join(inDir, `${name}.${chosen}`);
  const out = createWriteStream(target, { flags: 'wx', mode: 0o644 });
  try {
    if (chosen === 'json') await writeJson(out, rows, payload);
    else {
      if (rows === undefined) throw new ValidationError(`input ${name} (${input.kind}) has no list of rows to write as ${chosen}; use format json`, { code: 'COMMAND_INPUT_FORMAT' });
      await writeRows(out, rows, chosen, name);
    }
    out.end();
    await once(out, 'close');
  } catch (error) {
    out.destroy();
    await rm(target, { force: true });
    throw error;
  }
  await chmod(target, 0o444);
  return target;
}

/** A file name the command can be given safely: the artifact's name without any directory part. */
function safeFileName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? '';
  return base === '' || base === '.' || base === '..' ? 'file' : base;
}

/** Writes with backpressure: a slow disk makes the staging wait, never buffer rows in memory. */
async function write(out: WriteStream, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}

async function writeRows(out: WriteStream, input: BatchInput, format: Exclude<InputFormat, 'json'>, name: string): Promise<void> {
  let header: string[] | null = null;
  let index = 0;
  for await (const row of input.rows()) {
    index++;
    if (format === 'jsonl') await write(out, `${canonicalJson(row)}\n`);
    else if (format === 'smi') await write(out, smilesLine(row, index, name));
    else {
      if (!isRecord(row)) throw new ValidationError(`input ${name}: row ${index} is not an object; csv needs rows of named fields`, { code: 'COMMAND_INPUT_FORMAT' });
      if (header === null) {
        header = Object.keys(row);
        await write(out, `${header.map(csvField).join(',')}\n`);
      }
      await write(out, `${header.map((key) => csvField(csvValue(row[key]))).join(',')}\n`);
    }
  }
}

/** `smiles id`: the row's `smiles`, and its `id`, else its `name`, else its 1-based number. */
function smilesLine(row: JsonValue, index: number, name: string): string {
  const smiles = isRecord(row) ? row.smiles : undefined;
  if (typeof smiles !== 'string' || smiles === '' || /\s/.test(smiles))
    throw new ValidationError(`input ${name}: row ${index} has no "smiles" string (without spaces) to write as smi`, { code: 'COMMAND_INPUT_FORMAT' });
  const id = isRecord(row) ? (row.id ?? row.name) : undefined;
  const label = id === undefined || id === null ? String(index) : (typeof id === 'string' ? id : canonicalJson(id)).replace(/[\r\n]+/g, ' ');
  return `${smiles} ${label}\n`;
}

/** A cell: strings as they are, numbers and booleans as text, null as empty, lists and objects as JSON text. */
function csvValue(value: JsonValue | undefined): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return canonicalJson(value);
}

function csvField(text: string): string {
  return /[",\r\n]/.test(text) || /^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The payload as JSON: a whole payload at once (it is in memory already), a batch's rows streamed. */
async function writeJson(out: WriteStream, rows: BatchInput | undefined, payload: JsonValue | null): Promise<void> {
  if (payload !== null || rows === undefined) {
    await write(out, `${canonicalJson(payload)}\n`);
    return;
  }
  const writeList = async (): Promise<void> => {
    let first = true;
    await write(out, '[');
    for await (const row of rows.rows()) {
      await write(out, `${first ? '' : ','}${canonicalJson(row)}`);
      first = false;
    }
    await write(out, ']');
  };
  if (rows.rowsField === null) await writeList();
  else {
    // Canonical key order, the rows' field among the header's.
    const keys = [...Object.keys(rows.header), rows.rowsField].sort();
    await write(out, '{');
    for (const [i, key] of keys.entries()) {
      await write(out, `${i === 0 ? '' : ','}${JSON.stringify(key)}:`);
      if (key === rows.rowsField) await writeList();
      else await write(out, canonicalJson(rows.header[key]));
    }
    await write(out, '}');
  }
  await write(out, '\n');
}

function isRecord(value: unknown): value is Record<string, JsonValue> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
