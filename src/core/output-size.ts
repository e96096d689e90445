import { PermanentError } from './error-class.js';

/**
 * The most one attempt's outputs may weigh as canonical JSON (the UTF-8 bytes of every payload and
 * metadata): 64 MiB. It holds for every store, so memory, PGlite and PostgreSQL accept and refuse the
 * same outputs. PostgreSQL is what sets it: the artifacts of an append travel as one `jsonb` value,
 * which cannot exceed 268435455 bytes (256 MiB) and is larger than its JSON text (about 1.2 times for
 * rows of molecules, up to 6 times for long arrays of one-digit numbers), and no field exceeds 1 GB.
 * Outputs the server still refuses for their size or content fail their attempt the same way (see
 * `storeRefusedOutputs`).
 */
export const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

/** An attempt's outputs are larger than any store keeps: the same input gives them again, so never retried. */
export class OutputTooLargeError extends PermanentError {
  constructor(
    readonly bytes: number,
    readonly limitBytes: number,
    sizes: readonly number[],
  ) {
    const largest = sizes.reduce((max, size, i) => (size > (sizes[max] ?? 0) ? i : max), 0);
    super(
      `The step's outputs are ${bytes} bytes as canonical JSON, over the limit of ${limitBytes} bytes (${mebibytes(limitBytes)}) ` +
        `that every store takes from one attempt; the largest is outputs[${largest}] (${sizes[largest] ?? 0} bytes). ` +
        'Keep large data outside the flow (a file) and output a reference to it, or reduce what the step returns.',
      { code: 'OUTPUT_TOO_LARGE', details: { bytes, limit_bytes: limitBytes, output_bytes: [...sizes] } },
    );
  }
}

/** The error when outputs of these canonical sizes are too large to store, else undefined. */
export function outputSizeProblem(sizes: readonly number[], limitBytes: number = MAX_OUTPUT_BYTES): OutputTooLargeError | undefined {
  const bytes = sizes.reduce((sum, size) => sum + size, 0);
  return bytes > limitBytes ? new OutputTooLargeError(bytes, limitBytes, sizes) : undefined;
}

function mebibytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(bytes % (1024 * 1024) === 0 ? 0 : 1)} MiB`;
}

/**
 * One row of a batch output is larger than a row may be (`MAX_ROW_BYTES`): it would be held whole by
 * every reader, like a whole output, so it is refused the same way (Permanent, `OUTPUT_TOO_LARGE`).
 */
export class RowTooLargeError extends PermanentError {
  constructor(
    readonly path: string,
    readonly bytes: number,
    readonly limitBytes: number,
  ) {
    super(
      `${path} of a batch output is ${bytes} bytes as canonical JSON, over the limit of ${limitBytes} bytes (${mebibytes(limitBytes)}) for one row. ` +
        'Keep large data outside the flow (a file output) and put a reference to it in the row.',
      { code: 'OUTPUT_TOO_LARGE', details: { bytes, limit_bytes: limitBytes, row: path } },
    );
  }
}
