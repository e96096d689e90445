// The engine as it was before the flow queue, built from this repository's own history so that
// its workers can be measured in the same run, on the same machine, as today's: the baseline the benchmark
// names ("the queue costs no throughput against today's numbers"). Built once into node_modules/.cache.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The last commit before the flow queue: FlowWorker then read every flow's summary on every pass. */
export const PREQUEUE_COMMIT = '94622822485bf9fe70a528a80997f7909f3f718d';

/** The parts of the pre-queue build the benchmark drives (its public API of the time, loosely typed). */
export interface PrequeueEngine {
  commit: string;
  index: {
    defineFlow(name: string, steps: readonly object[]): object;
    FlowEngine: new (options: { store: object; retryPolicy?: object }) => {
      startFlow(definition: object): Promise<string>;
      runToEnd(flowId: string, definition: object): Promise<{ completed: boolean }>;
    };
    FlowWorker: new (options: {
      store: object;
      resolve: () => Promise<{ definition: object; retryPolicy?: object }>;
      onEvent?: (event: { type: string }) => void;
    }) => { run(options: { signal?: AbortSignal; untilIdle?: boolean }): Promise<unknown[]> };
  };
  stores: {
    openPostgresStore(options: { connectionString: string; schema: string; applicationName?: string; max?: number }): Promise<{
      /** Where its statements go (bench/worker-anatomy.ts times them there). */
      executor: { query(text: string, values?: readonly unknown[]): Promise<unknown[]> };
      close(): Promise<void>;
    }>;
  };
}

/** The pre-queue commit is not in this clone (a shallow clone, or a source tarball): the section cannot run. */
export class PrequeueUnavailableError extends Error {}

function runOrThrow(what: string, command: string, args: readonly string[], cwd: string): void {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.status !== 0)
    throw new Error(`${what} failed (${command} ${args.join(' ')}): ${(result.stderr || result.stdout || String(result.error)).trim()}`);
}

/**
 * Extracts the pre-queue commit's sources with `git archive` and compiles them with this checkout's
 * TypeScript; its imports (`pg`, `zod`, ...) resolve to this checkout's node_modules, which holds every
 * package it needs. Needs the git history: a shallow clone says so (`git fetch --unshallow`).
 */
export function buildPrequeueEngine(root: URL, log: (line: string) => void): Promise<PrequeueEngine> {
  const rootDir = fileURLToPath(root);
  const dir = fileURLToPath(new URL(`node_modules/.cache/chemflow-prequeue-${PREQUEUE_COMMIT.slice(0, 7)}/`, root));
  const built = `${dir}built.ok`;
  if (!existsSync(built)) {
    const found = spawnSync('git', ['cat-file', '-e', `${PREQUEUE_COMMIT}^{commit}`], { cwd: rootDir });
    if (found.status !== 0)
      throw new PrequeueUnavailableError(
        `the pre-queue commit ${PREQUEUE_COMMIT.slice(0, 7)} is not in this clone's history (a shallow clone? run \`git fetch --unshallow\`)`,
      );
    log(`prequeue: building ${PREQUEUE_COMMIT.slice(0, 7)} (the engine before the flow queue) into ${dir}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const tar = `${dir}source.tar`;
    runOrThrow('git archive', 'git', ['archive', '--format=tar', '-o', tar, PREQUEUE_COMMIT, 'src', 'migrations', 'package.json', 'tsconfig.json', 'tsconfig.build.json'], rootDir);
    runOrThrow('tar', 'tar', ['-xf', tar], dir);
    rmSync(tar);
    runOrThrow('tsc', process.execPath, [fileURLToPath(new URL('node_modules/typescript/bin/tsc', root)), '-p', 'tsconfig.build.json'], dir);
    writeFileSync(built, `${PREQUEUE_COMMIT}\n`);
  }
  const load = async (): Promise<PrequeueEngine> => ({
    commit: PREQUEUE_COMMIT,
    index: (await import(pathToFileURL(`${dir}dist/index.js`).href)) as PrequeueEngine['index'],
    stores: (await import(pathToFileURL(`${dir}dist/stores/open-store.js`).href)) as PrequeueEngine['stores'],
  });
  return load();
}
