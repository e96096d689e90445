// The fingerprints of every flow of the examples and of the tests' own fixtures, as this release
// computes them, kept in fingerprints.golden.json: a flow recorded by an earlier release replays,
// resumes, retries and hits the step cache only while its definition hash, step fingerprints,
// artifact hashes and flow fingerprint stay exactly these. A change to how a flow is read or hashed
// that moves any of them fails here, whatever else it keeps.
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlowEngine, type FlowDefinition, type FlowInstance, type RetryPolicyOptions } from '../../src/index.js';
import { loadFlowFile } from '../../src/flowfile/index.js';
import { MemoryFlowStore } from '../../src/stores/memory-store.js';
import { BUILTIN_STEPS } from '../../src/steps/builtin.js';
import { demoFlow } from '../support/demo-flow.js';

const ROOT = join(import.meta.dirname, '..', '..');
/** Rows of examples/screening/molecules.csv the screening flows read: enough for several chunks of every step. */
const SCREENING_ROWS = 2_000;

interface Recorded {
  definitionHash: string;
  flowFingerprint: string | null;
  steps: { stepId: string; status: string; fingerprint: string | null; outputs: string[] }[];
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chemflow-golden-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function run(definition: FlowDefinition, options: { retryPolicy?: RetryPolicyOptions; baseDir?: string } = {}): Promise<Recorded> {
  const store = new MemoryFlowStore();
  const engine = new FlowEngine({ store, workRoot: join(dir, 'work'), ...options });
  const flowId = await engine.startFlow(definition);
  const flow: FlowInstance = await engine.runToEnd(flowId, definition);
  return {
    definitionHash: definition.definitionHash,
    flowFingerprint: flow.flowFingerprint ?? null,
    steps: flow.steps.map((s) => ({ stepId: s.stepId, status: s.status, fingerprint: s.fingerprint ?? null, outputs: [...s.outputs] })),
  };
}

/** A copy of `files` (relative to ROOT) in a directory of its own; `edit` may then change them there. */
async function copyOf(name: string, files: readonly string[], edit?: (copy: string) => Promise<void>): Promise<string> {
  const copy = join(dir, name);
  for (const file of files) await cp(join(ROOT, file), join(copy, file.split('/').pop() as string), { recursive: true });
  await edit?.(copy);
  return copy;
}

async function runFile(file: string): Promise<Recorded> {
  const loaded = await loadFlowFile(file, { builtins: BUILTIN_STEPS });
  return run(loaded.definition, { retryPolicy: loaded.retryPolicy, baseDir: loaded.baseDir });
}

const firstRows = async (copy: string, file: string): Promise<void> => {
  const lines = (await readFile(join(ROOT, 'examples', 'screening', 'molecules.csv'), 'utf8')).split('\n');
  await writeFile(join(copy, file), `${lines.slice(0, SCREENING_ROWS + 1).join('\n')}\n`);
};

const FLOWS: Record<string, () => Promise<Recorded>> = {
  'examples/lipinski/flow.yaml': async () =>
    runFile(join(await copyOf('lipinski', ['examples/lipinski/flow.yaml', 'examples/lipinski/molecules.csv']), 'flow.yaml')),
  [`examples/screening/flow.yaml (its first ${SCREENING_ROWS} molecules)`]: async () =>
    runFile(join(await copyOf('screening', ['examples/screening/flow.yaml'], (copy) => firstRows(copy, 'molecules.csv')), 'flow.yaml')),
  'examples/native-scores/flow.yaml': async () =>
    runFile(
      join(
        await copyOf('native-scores', ['examples/native-scores/flow.yaml', 'examples/native-scores/molecules.csv', 'examples/native-scores/scores.py', 'examples/native-scores/shortlist.mjs']),
        'flow.yaml',
      ),
    ),
  [`bench/native/flow.yaml (the first ${SCREENING_ROWS} molecules of the screening library)`]: async () => {
    const copy = await copyOf('bench-native', ['bench/native/flow.yaml', 'bench/native/screen.py', 'bench/native/write-screen.mjs'], async (at) => {
      await firstRows(at, 'molecules.csv');
      const flow = await readFile(join(at, 'flow.yaml'), 'utf8');
      await writeFile(join(at, 'flow.yaml'), flow.replace(/file: \S+,/, 'file: molecules.csv,').replace(/shardSize: \d+/, 'shardSize: 1000'));
    });
    return runFile(join(copy, 'flow.yaml'));
  },
  ...Object.fromEntries(
    ['short', 'gated', 'held', 'waiting'].map((name) => [
      `test/fixtures/pre-queue/project/${name}.yaml`,
      async () => {
        const copy = join(dir, `pre-queue-${name}`);
        await cp(join(ROOT, 'test', 'fixtures', 'pre-queue', 'project'), copy, { recursive: true });
        await writeFile(join(copy, 'release.marker'), ''); // `hold` waits for it
        const loaded = await loadFlowFile(join(copy, `${name}.yaml`), { builtins: BUILTIN_STEPS });
        // The same retries without waiting out `waiting`'s 90 s backoff: attempts never enter a fingerprint.
        return run(loaded.definition, { retryPolicy: { ...loaded.retryPolicy, backoff: { kind: 'none' } }, baseDir: loaded.baseDir });
      },
    ]),
  ),
  'the tests\' demo flow': () => run(demoFlow()),
  'the tests\' demo flow with a Transient failure retried': () => run(demoFlow(['Transient']), { retryPolicy: { maxRetries: 2, backoff: { kind: 'none' } } }),
};

describe('fingerprints of every example and fixture flow', () => {
  it('are the recorded ones', { timeout: 600_000 }, async () => {
    // The command steps' outputs are Debian RDKit's: recorded beside them, so that another version shows as the cause.
    const rdkit = spawnSync('/usr/bin/python3', ['-c', 'import rdkit; print(rdkit.__version__)'], { encoding: 'utf8' });
    const recorded: Record<string, Recorded | string> = { 'RDKit of /usr/bin/python3': rdkit.stdout.trim() };
    for (const [name, flow] of Object.entries(FLOWS)) recorded[name] = await flow();
    await expect(`${JSON.stringify(recorded, null, 2)}\n`).toMatchFileSnapshot('fingerprints.golden.json');
  });
});
