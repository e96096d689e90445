import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { COMMAND_LOGS_SIGNAL } from '../core/command-spec.js';
import type { FlowEvent } from '../core/events.js';
import { isEnded } from '../core/flow-state.js';
import type { FlowStore, FlowSummary } from './flow-store.js';


/**
 * The blobs of command logs the log names: the `command.logs` signals of every attempt and the
 * `details.logs` of failed ones. They are file blobs no artifact row names (logs are not outputs), so
 * `gc` keeps them by this list. Reads every flow's log: `gc` is rare, and the log is the only place
 * that knows them.
 */
export async function logBlobsAndFlows(store: FlowStore): Promise<{ logs: Set<string>; flows: Map<string, FlowSummary> }> {
  const logs = new Set<string>();
  const flows = new Map<string, FlowSummary>();
  for (let after: string | undefined; ; ) {
    const page = await store.listFlows({ limit: 500, ...(after === undefined ? {} : { after }) });
    for (const flow of page) {
      flows.set(flow.flowId, flow);
      for (const event of await store.list(flow.flowId)) for (const hash of logHashes(event)) logs.add(hash);
    }
    if (page.length < 500) break;
    after = page[page.length - 1]?.flowId;
  }
  return { logs, flows };
}

function logHashes(event: FlowEvent): string[] {
  let logs: unknown;
  if (event.type === 'StepSignal' && event.name === COMMAND_LOGS_SIGNAL) logs = event.data;
  else if (event.type === 'StepFailed') logs = event.details.logs;
  else return [];
  if (typeof logs !== 'object' || logs === null) return [];
  const { stdout, stderr } = logs as { stdout?: unknown; stderr?: unknown };
  return [stdout, stderr].filter((h): h is string => typeof h === 'string');
}

/**
 * The kept working directories (`<workRoot>/<flowId>/`) of flows of this store that ended (completed,
 * failed, cancelled) and were last written before `cutoff`. A directory of a flow this store does not
 * know is left alone: a work root (the default under /tmp) may be shared by several databases.
 */
export async function endedWorkDirs(workRoot: string, flows: ReadonlyMap<string, FlowSummary>, cutoff: number): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(workRoot);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const ended: string[] = [];
  for (const name of names.sort()) {
    const flow = flows.get(name);
    // Only an ended flow's kept working directories may go: no attempt of it runs any more.
    if (flow === undefined || !isEnded(flow.status)) continue;
    const dir = join(workRoot, name);
    const info = await stat(dir).catch(() => null);
    if (info?.isDirectory() === true && info.mtimeMs < cutoff) ended.push(dir);
  }
  return ended;
}

/** Removes a kept directory; its read-only inputs need no write bit to be unlinked (their directory has it). */
export async function removeWorkDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
