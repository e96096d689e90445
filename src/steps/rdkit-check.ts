import { createRequire } from 'node:module';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';

/** A SMILES (a molecule) or a SMARTS (a substructure query) to check. */
export interface Structure {
  readonly language: 'smiles' | 'smarts';
  readonly text: string;
}

/** Longest wait for the checking thread, which loads its own RDKit first (about a second, more on a loaded machine). */
const CHECK_TIMEOUT_MS = 60_000;

/** Verdicts already known in this process, by language and text: `undefined` for a structure RDKit reads. */
const known = new Map<string, string | undefined>();

/**
 * Why RDKit cannot read each structure (`undefined`: it can), decided **synchronously**, so that a
 * step's `parseParams` can refuse a SMILES or SMARTS when the flow file is loaded. RDKit's
 * WebAssembly module only loads asynchronously, so a short-lived thread loads its own RDKit, parses
 * the structures and posts the verdicts, while this thread blocks on a shared flag
 * (`Atomics.wait`). Verdicts are remembered for the process: a structure is checked once.
 *
 * Returns `undefined` when RDKit could not be loaded at all (nothing is known): the step then finds
 * the unreadable structure when it runs, and fails with the same reason.
 */
export function unreadableStructures(structures: readonly Structure[]): (string | undefined)[] | undefined {
  const keyOf = (s: Structure): string => `${s.language}\u0000${s.text}`;
  const unknown = [...new Map(structures.filter((s) => !known.has(keyOf(s))).map((s) => [keyOf(s), s])).values()];
  if (unknown.length > 0) {
    const verdicts = checkInThread(unknown);
    if (verdicts === undefined) return undefined;
    unknown.forEach((s, i) => known.set(keyOf(s), verdicts[i] ?? undefined));
  }
  return structures.map((s) => known.get(keyOf(s)));
}

/** The checking thread's code (CommonJS, run with `eval`): RDKit's own error line for each structure it cannot read. */
const THREAD_CODE = `
const { workerData } = require('node:worker_threads');
const { rdkitPath, structures, flag, port } = workerData;
const done = (message) => { port.postMessage(message); Atomics.store(flag, 0, 1); Atomics.notify(flag, 0); };
(async () => require(rdkitPath)())().then((rdkit) => {
  const log = rdkit.set_log_capture('rdApp.error');
  const verdicts = structures.map(({ language, text }) => {
    if (text.trim() === '') return 'empty';
    log.clear_buffer();
    const parsed = language === 'smiles' ? rdkit.get_mol(text) : rdkit.get_qmol(text);
    try {
      if (parsed !== null && parsed.is_valid() && parsed.get_num_atoms() > 0) return null;
      const line = log.get_buffer().split('\\n').map((l) => l.replace(/^\\[\\d{2}:\\d{2}:\\d{2}\\]\\s*/, '').replace(/\\s+/g, ' ').trim()).find((l) => l !== '');
      return line || (language === 'smiles' ? 'RDKit could not read this SMILES' : 'RDKit could not read this SMARTS');
    } finally {
      if (parsed !== null) parsed.delete();
    }
  });
  done({ verdicts });
}, (error) => done({ error: String(error) }));
`;

function checkInThread(structures: readonly Structure[]): (string | null)[] | undefined {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  let worker: Worker;
  try {
    worker = new Worker(THREAD_CODE, {
      eval: true,
      workerData: { rdkitPath: createRequire(import.meta.url).resolve('@rdkit/rdkit'), structures, flag, port: port2 },
      transferList: [port2],
    });
  } catch {
    return undefined;
  }
  try {
    Atomics.wait(flag, 0, 0, CHECK_TIMEOUT_MS);
    const received = receiveMessageOnPort(port1)?.message as { verdicts?: (string | null)[] } | undefined;
    return received?.verdicts?.length === structures.length ? received.verdicts : undefined;
  } finally {
    port1.close();
    void worker.terminate();
  }
}
