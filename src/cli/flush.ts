/**
 * Resolves once everything written to `stream` so far has left the process. A pipe takes 64 KiB at a
 * time and Node queues the rest; `process.exit()` drops that queue, so the CLI waits here first.
 */
export function flushed(stream: NodeJS.WritableStream): Promise<void> {
  // Writes complete in order, so the callback of an empty write runs after every earlier one (with
  // an error instead when the reader went away: then there is nothing left to wait for either).
  return new Promise((resolve) => stream.write('', () => resolve()));
}

/**
 * A reader that goes away (`chemflow flows | head -1`) makes the next write fail with EPIPE; without a
 * listener that is an uncaught 'error' event and a crash. The output is simply no longer wanted.
 */
export function tolerateClosedReaders(): void {
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
}

/** Waits until stdout and stderr are flushed. */
export async function flushStdio(): Promise<void> {
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
}
