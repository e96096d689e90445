// Command steps on every store that keeps files: the same fingerprints everywhere and on a rerun,
// exit codes as error classes with the logs' tails in the error row, timeouts and cancels that leave
// no process behind, a tampered file refused before any program reads it, and mapped command steps.
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFileArtifact } from '../../src/core/artifact.js';
import { defineFlow, type StepDefinition } from '../../src/core/definition.js';
import type { FlowInstance } from '../../src/core/flow-state.js';
import { cancelFlow } from '../../src/runtime/cancel.js';
import { commandStep } from '../../src/runtime/command/command-step.js';
import { FlowEngine } from '../../src/runtime/engine.js';
import { LeaseKeeper } from '../../src/runtime/lease-keeper.js';
import type { FlowStore } from '../../src/stores/flow-store.js';
import { MemoryFlowStore } from '../../src/stores/memory-store.js';
import { runAttempt } from '../../src/runtime/step-runner.js';
import { LeaseLostError } from '../../src/core/error-class.js';
import { collectGarbage } from '../../src/stores/collect-garbage.js';
import { tamperBlob } from '../helpers/tamper.js';
import { processAlive } from '../support/processes.js';
import { fileEngineStores, storeRunner } from '../support/stores.js';
import { waitUntil } from '../support/wait-until.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'chemflow-command-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const NO_RETRY = { maxRetries: 0, backoff: { kind: 'none' as const } };

/** Three command steps: a file, the file transformed into another, that one read back as CSV rows. */
function filesFlow() {
  return defineFlow('command-files', [
    commandStep({
      id: 'make',
      command: ['sh', '-c', 'printf "CCO ethanol\\nc1ccccc1 benzene\\n" > {out.smi}; echo made >&2'],
      outputs: { smi: { path: 'molecules.smi', kind: 'chem/smiles' } },
    }),
    commandStep({
      id: 'upper',
      command: ['sh', '-c', 'tr a-z A-Z < {in.smi} > {out.upper}; echo "read $(wc -l < {in.smi}) lines"'],
      outputs: { upper: { path: 'out/upper.smi', kind: 'chem/smiles' } },
    }),
    commandStep({
      id: 'table',
      command: ['sh', '-c', 'printf "smiles,name,n\\n" > {out.rows}; awk \'{{ print $1 "," $2 "," NR }}\' {in.upper} >> {out.rows}'],
      inputs: { upper: 'upper.upper' },
      outputs: { rows: { path: 'rows.csv', kind: 'chem/molecules', format: 'csv' } },
    }),
  ]);
}

async function runFlow(store: FlowStore, definition = filesFlow(), options: { workRoot?: string; leases?: LeaseKeeper } = {}): Promise<FlowInstance> {
  const engine = new FlowEngine({ store, workRoot: options.workRoot ?? join(root, 'work'), ...(options.leases ? { leases: options.leases } : {}) });
  const handle = await engine.start(definition);
  return engine.runToEnd(handle);
}

const fingerprints = (flow: FlowInstance) => ({ flow: flow.flowFingerprint, steps: flow.steps.map((s) => s.fingerprint) });

describe('command steps on every store that keeps files', () => {
  it('give the same fingerprints on every store and on a rerun; a later step reads the earlier one’s file', async () => {
    const seen = new Map<string, ReturnType<typeof fingerprints>>();
    for (const factory of fileEngineStores) {
      await storeRunner(factory.create)(async (store) => {
        const first = await runFlow(store);
        expect(first.status, factory.name).toBe('completed');
        const again = await runFlow(store);
        expect(fingerprints(again)).toEqual(fingerprints(first));
        seen.set(factory.name, fingerprints(first));
        const [file] = await store.getArtifacts(first.steps[1]?.outputs ?? []);
        if (file === undefined || !isFileArtifact(file)) throw new Error('expected a file artifact');
        expect(file).toMatchObject({ kind: 'chem/smiles', name: 'upper.smi', size: 29, metadata: { name: 'upper' } });
        expect(new TextDecoder().decode(await store.blobs.get(file.hash))).toBe('CCO ETHANOL\nC1CCCCC1 BENZENE\n');
        const [rows] = await store.getArtifacts(first.steps[2]?.outputs ?? []);
        expect(rows).toMatchObject({
          kind: 'chem/molecules',
          payload: { rows: [{ smiles: 'CCO', name: 'ETHANOL', n: 1 }, { smiles: 'C1CCCCC1', name: 'BENZENE', n: 2 }] },
        });
      });
    }
    expect(new Set([...seen.values()].map((f) => JSON.stringify(f))).size).toBe(1);
  });

  it('refuses to run a script edited after the flow was defined (Permanent COMMAND_SCRIPT_CHANGED)', async () => {
    const script = join(root, 'edited.sh');
    await writeFile(script, 'echo one\n');
    const definition = defineFlow('edited', [commandStep({ id: 'run', command: ['sh', '{script}'], script, baseDir: root })]);
    await writeFile(script, 'echo two\n');
    const store = new MemoryFlowStore();
    const flow = await runFlow(store, definition);
    expect(flow.status).toBe('failed');
    const [error] = await store.listErrors(flow.id);
    expect(error).toMatchObject({ errorClass: 'Permanent', details: { error_code: 'COMMAND_SCRIPT_CHANGED' } });
    expect(error?.errorMessage).toContain('submit the flow again');
  });

  it('says a missing program is Permanent COMMAND_NOT_FOUND, with no retry', async () => {
    const store = new MemoryFlowStore();
    const flow = await runFlow(store, defineFlow('missing', [commandStep({ id: 'run', command: ['no-such-program-chemflow'] })]));
    expect(flow.status).toBe('failed');
    const errors = await store.listErrors(flow.id);
    expect(errors).toMatchObject([{ errorClass: 'Permanent', details: { error_code: 'COMMAND_NOT_FOUND', spawnError: 'ENOENT' } }]);
  });

  it('kills the command when its process loses the flow’s lease (Transient LEASE_LOST), after the grace at most', async () => {
    const store = new MemoryFlowStore();
    const step = commandStep({ id: 'held', command: ['sh', '-c', 'echo $$ > pid; exec sleep 60'] });
    const stop = new AbortController();
    const workRoot = await mkdtemp(join(root, 'lease-'));
    const attempt = runAttempt(step, { input: [], attempt: 1, flowId: 'f-lease', stepId: 'held', baseDir: root, errorHistory: [], workRoot }, { stop: stop.signal, timeoutMs: null }, { blobs: store.blobs });
    const stepDir = join(workRoot, 'f-lease', 'held');
    let pid = 0;
    await waitUntil(async () => {
      const dirs = await readdir(stepDir).catch(() => []);
      pid = dirs[0] === undefined ? 0 : Number((await readFile(join(stepDir, dirs[0], 'pid'), 'utf8').catch(() => '')).trim());
      return pid > 0;
    }, 'the command to start');
    stop.abort(new LeaseLostError('this test'));
    const result = await attempt;
    expect(result).toMatchObject({ ok: false, error: { errorClass: 'Transient', code: 'LEASE_LOST', details: { signal: 'SIGTERM' } } });
    expect(processAlive(pid)).toBe(false);
  });

  describe.each(fileEngineStores)('on $name', ({ create }) => {
    const withStore = storeRunner(create);

    it('retries exit 75 as Transient and records the stderr tail and the logs in the error row', async () => {
      await withStore(async (store) => {
        const flow = await runFlow(
          store,
          defineFlow('tempfail', [
            commandStep({
              id: 'flaky',
              command: ['sh', '-c', 'if [ "$CHEMFLOW_ATTEMPT" = 1 ]; then echo "database busy, try later" >&2; exit 75; fi; echo fine > {out.f}'],
              outputs: { f: { path: 'f.txt', kind: 'text/plain' } },
              retry: { maxRetries: 2, backoff: { kind: 'none' } },
            }),
          ]),
        );
        expect(flow.status).toBe('completed');
        const errors = await store.listErrors(flow.id);
        expect(errors).toHaveLength(1);
        const [error] = errors;
        expect(error).toMatchObject({ attemptNumber: 1, errorClass: 'Transient', details: { error_code: 'COMMAND_EXIT', exitCode: 75, signal: null } });
        expect(error?.details.stderrTail).toBe('database busy, try later\n');
        const logs = error?.details.logs as { stderr: string };
        expect(new TextDecoder().decode(await store.blobs.get(logs.stderr))).toBe('database busy, try later\n');
        // The failed attempt's directory is kept for inspection; the successful one's is gone.
        const workDir = error?.details.workDir as string;
        expect(existsSync(join(workDir, '.chemflow', 'stderr.log'))).toBe(true);
        expect(await readdir(join(workDir, '..'))).toEqual([workDir.split('/').pop()]);
        // gc keeps the logs (no artifact names them: the log does) and removes the ended flow's kept directory.
        const report = await collectGarbage(store, { minAgeMs: 0, workRoot: join(root, 'work') });
        expect(report.workDirs).toEqual([join(root, 'work', flow.id)]);
        expect(existsSync(workDir)).toBe(false);
        expect(new TextDecoder().decode(await store.blobs.get(logs.stderr))).toBe('database busy, try later\n');
        expect(report.blobs).not.toContain(logs.stderr);
      });
    });

    it('kills a command that ignores SIGTERM when its timeout passes: no process of it is left', async () => {
      await withStore(async (store) => {
        const started = Date.now();
        const flow = await runFlow(
          store,
          defineFlow('stubborn', [
            commandStep({
              id: 'stubborn',
              command: ['sh', '-c', 'trap "" TERM; sleep 60 & echo $$ $! > pids; echo waiting; wait'],
              timeoutMs: 500,
              retry: NO_RETRY,
            }),
          ]),
        );
        expect(flow.status).toBe('failed');
        const [error] = await store.listErrors(flow.id);
        expect(error).toMatchObject({ errorClass: 'Transient', details: { error_code: 'TIMEOUT', stdoutTail: 'waiting\n' } });
        const pids = (await readFile(join(error?.details.workDir as string, 'pids'), 'utf8')).trim().split(' ').map(Number);
        expect(pids).toHaveLength(2);
        for (const pid of pids) expect(processAlive(pid), `pid ${pid}`).toBe(false);
        // SIGTERM was ignored: the group went at SIGKILL, after the grace.
        expect(Date.now() - started).toBeGreaterThan(4_000);
      });
    }, 60_000);

    it('kills a running command when the flow is cancelled', async () => {
      await withStore(async (store) => {
        const workRoot = await mkdtemp(join(root, 'cancel-'));
        const engine = new FlowEngine({ store, workRoot, leases: new LeaseKeeper({ store, leaseMs: 2_000, heartbeatMs: 100 }) });
        const handle = await engine.start(
          defineFlow('cancelled', [commandStep({ id: 'long', command: ['sh', '-c', 'echo $$ > pid; exec sleep 60'], retry: NO_RETRY })]),
        );
        const running = engine.runToEnd(handle);
        const pidFile = join(workRoot, handle.flowId, 'long');
        let pid = 0;
        await waitUntil(async () => {
          const dirs = await readdir(pidFile).catch(() => []);
          const text = dirs[0] === undefined ? '' : await readFile(join(pidFile, dirs[0], 'pid'), 'utf8').catch(() => '');
          pid = Number(text.trim());
          return pid > 0;
        }, 'the command to start');
        expect(processAlive(pid)).toBe(true);
        await cancelFlow(store, handle.flowId, 'no longer needed');
        const flow = await running;
        expect(flow.status).toBe('cancelled');
        expect(processAlive(pid)).toBe(false);
        const [error] = await store.listErrors(flow.id);
        expect(error).toMatchObject({ errorClass: 'Permanent', details: { error_code: 'FLOW_CANCELLED', signal: 'SIGTERM' } });
      });
    }, 60_000);

    it('refuses a tampered file before the next command reads it (ARTIFACT_INTEGRITY)', async () => {
      await withStore(async (store) => {
        const engine = new FlowEngine({ store, workRoot: join(root, 'work') });
        const handle = await engine.start(filesFlow());
        await engine.next(handle);
        const hash = handle.flow.steps[0]?.outputs[0];
        if (hash === undefined) throw new Error('the first step has no output');
        await tamperBlob(store, hash, new TextEncoder().encode('C1=CC=CC=C1 tampered\n'));
        const flow = await engine.runToEnd(handle);
        expect(flow.status).toBe('failed');
        const [error] = await store.listErrors(flow.id);
        expect(error).toMatchObject({ stepId: 'upper', details: { error_code: 'ARTIFACT_INTEGRITY' } });
      });
    });

    it('takes a command step from the step cache; a changed env or script content misses it', async () => {
      await withStore(async (store) => {
        const script = join(root, `shout-${Math.random().toString(16).slice(2)}.sh`);
        await writeFile(script, 'tr a-z A-Z < "$1" > "$2"\n');
        const flowWith = (env: Record<string, string>) =>
          defineFlow('cached-command', [
            commandStep({ id: 'make', command: ['sh', '-c', 'echo ethanol > {out.name}'], outputs: { name: { path: 'name.txt', kind: 'text/plain' } }, cache: true }),
            commandStep({
              id: 'shout',
              command: ['sh', '{script}', '{in.name}', '{out.loud}'],
              script,
              baseDir: root,
              env,
              outputs: { loud: { path: 'loud.txt', kind: 'text/plain' } },
              cache: true,
            }),
          ]);
        const first = await runFlow(store, flowWith({}));
        const second = await runFlow(store, flowWith({}));
        expect(second.steps.map((s) => s.cachedFrom?.flowId ?? null)).toEqual([first.id, first.id]);
        expect(second.steps[1]?.outputs).toEqual(first.steps[1]?.outputs);
        const otherEnv = await runFlow(store, flowWith({ LC_ALL: 'C' }));
        expect(otherEnv.steps[1]?.cachedFrom ?? null).toBeNull();
        await writeFile(script, 'tr a-z A-Z < "$1" > "$2"\n# changed\n');
        const otherScript = await runFlow(store, flowWith({}));
        expect(otherScript.steps[1]?.cachedFrom ?? null).toBeNull();
        expect(otherScript.steps[1]?.fingerprint).not.toBe(first.steps[1]?.fingerprint);
      });
    });

    it('runs a mapped command step on shards written as files, merging its rows as the unmapped step does', async () => {
      await withStore(async (store) => {
        const source: StepDefinition = {
          id: 'rows',
          kind: 'source',
          baseParams: {},
          run: () => ({ outputs: [{ kind: 'test/rows', payload: { rows: Array.from({ length: 7 }, (_, i) => ({ i, smiles: 'C'.repeat(i + 1) })) } }] }),
        };
        const flowWith = (map: boolean) =>
          defineFlow('mapped-command', [
            source,
            commandStep({
              id: 'count',
              command: ['sh', '-c', 'printf "smiles,atoms\\n" > {out.rows}; while read -r s id; do printf "%s,%s\\n" "$s" "${{#s}}" >> {out.rows}; done < {in.rows}'],
              inputs: { rows: { from: 'rows', format: 'smi' } },
              outputs: { rows: { path: 'atoms.csv', kind: 'test/atoms', format: 'csv' } },
              ...(map ? { map: { over: 'rows', shardSize: 3 } } : {}),
            }),
          ]);
        const whole = await runFlow(store, flowWith(false));
        const mapped = await runFlow(store, flowWith(true));
        expect([whole.status, mapped.status]).toEqual(['completed', 'completed']);
        expect(mapped.steps[1]?.shards).toHaveLength(3);
        expect(mapped.steps[1]?.outputs).toEqual(whole.steps[1]?.outputs);
        const [rows] = await store.getArtifacts(whole.steps[1]?.outputs ?? []);
        expect(rows).toMatchObject({ payload: { rows: expect.arrayContaining([{ smiles: 'CCCCCCC', atoms: 7 }]) } });
      });
    });
  });
});
