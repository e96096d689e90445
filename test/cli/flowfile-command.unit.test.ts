// Command steps in flow files: what they load into (canonical params, the script's content hash), and
// a clear error with its path and line for every bad input.
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FlowFileError, loadFlowFile } from '../../src/flowfile/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chemflow-flowfile-command-'));
  await writeFile(join(dir, 'score.py'), 'print("scored")\n');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function load(text: string) {
  await writeFile(join(dir, 'flow.yaml'), text);
  return loadFlowFile(join(dir, 'flow.yaml'), { cwd: dir });
}

async function issuesOf(text: string): Promise<string[]> {
  const error = await load(text).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof FlowFileError)) throw new Error(`expected a FlowFileError, got ${String(error)}`);
  return error.issues.map((i) => `${i.line ?? '?'} ${i.problem} ${i.path}: ${i.message}`);
}

describe('command steps in a flow file', () => {
  it('load into a `command` step whose params cover the command, inputs, outputs, exit codes, env and script content', async () => {
    const loaded = await load(`name: conformers
steps:
  - id: read
    command: ["sh", "-c", "echo 'CCO ethanol' > {out.molecules}"]
    outputs: { molecules: { path: mols.smi, kind: chem/smiles } }
  - id: score
    command: ["python3", "{script}", "{in.molecules}", "{out.scores}"]
    inputs: { molecules: read.molecules }
    outputs: { scores: { path: scores.csv, kind: chem/scores, format: csv } }
    exitCodes: { transient: [137, 75], permanent: [3] }
    script: score.py
    env: { OMP_NUM_THREADS: "1" }
    timeoutMs: 60000
`);
    const [read, score] = loaded.definition.steps;
    expect(read?.kind).toBe('source');
    expect(score).toMatchObject({ kind: 'transform', version: '1', timeoutMs: 60000, settlesOnAbort: true, cache: { stepType: 'command' } });
    expect(score?.origin).toBeUndefined(); // runs in the worker's main thread, never in a step thread
    expect(score?.baseParams).toEqual({
      command: ['python3', '{script}', '{in.molecules}', '{out.scores}'],
      inputs: { molecules: { step: 'read', output: 'molecules', format: null } },
      outputs: { scores: { path: 'scores.csv', kind: 'chem/scores', format: 'csv' } },
      exitCodes: { transient: [75, 137], permanent: [3], validation: [], runtime: [] },
      env: { OMP_NUM_THREADS: '1' },
      script: { name: 'score.py', sha256: createHash('sha256').update('print("scored")\n').digest('hex') },
    });
  });

  it('says where each problem is', async () => {
    const issues = await issuesOf(`name: bad
steps:
  - id: read
    command: ["cat", "{in.x}"]
  - id: both
    uses: chem/read-smiles
    command: ["true"]
  - id: neither
    retry: { maxRetries: 1 }
  - id: paths
    command: ["tool", "{out.a}", "{out.b}", "{inp.c}", "{script}"]
    outputs:
      a: { path: ../outside.txt, kind: text/plain }
      b: { path: /etc/passwd, kind: text/plain }
    exitCodes: { transient: [0], permanent: [2], validation: [2] }
  - id: script
    command: ["python3", "{script}"]
    script: missing.py
  - id: inputs
    command: ["cat", "{in.m}"]
    inputs: { m: read.molecules }
  - id: uses-only
    uses: ./x.mjs
    env: { A: "1" }
`);
    expect(issues).toEqual([
      expect.stringMatching(/^7 schema steps\[1\]\.command: a step has either `uses` or `command`, not both/),
      expect.stringMatching(/^8 schema steps\[2\]\.uses: is required \(expected a string\): a step type or module path, or give `command`/),
      expect.stringMatching(/^24 schema steps\[6\]\.env: `env` is for command steps/),
    ]);
    const semantic = await issuesOf(`name: bad
steps:
  - id: read
    command: ["cat", "{in.x}"]
  - id: paths
    command: ["tool", "{out.a}", "{out.b}", "{inp.c}", "{script}"]
    outputs:
      a: { path: ../outside.txt, kind: text/plain }
      b: { path: /etc/passwd, kind: text/plain }
    exitCodes: { transient: [0], permanent: [2], validation: [2] }
  - id: script
    command: ["python3", "{script}"]
    script: missing.py
  - id: inputs
    command: ["cat", "{in.m}"]
    inputs: { m: read.molecules }
  - id: other
    command: ["cat", "{in.m}"]
    inputs: { m: paths }
`);
    expect(semantic).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^4 invalid_command steps\[0\]\.command\[1\]: \{in\.x\}: the first step of a flow has no input/),
        expect.stringMatching(/^8 invalid_command steps\[1\]\.outputs\.a\.path: "..\/outside.txt" leaves the working directory/),
        expect.stringMatching(/^9 invalid_command steps\[1\]\.outputs\.b\.path: .*absolute/),
        expect.stringMatching(/^6 invalid_command steps\[1\]\.command\[3\]: unknown placeholder \{inp\.c\}/),
        expect.stringMatching(/^6 invalid_command steps\[1\]\.command\[4\]: \{script\} is used but the step has no `script`/),
        expect.stringMatching(/^10 invalid_command steps\[1\]\.exitCodes: transient: expected exit codes from 1 to 255/),
        expect.stringMatching(/^10 invalid_command steps\[1\]\.exitCodes: exit code 2 is listed both as permanent and as validation/),
        expect.stringMatching(/^13 invalid_command steps\[2\]\.script: script not found: .*missing\.py/),
        expect.stringMatching(/^16 invalid_command steps\[3\]\.inputs\.m: step script has no output named "molecules"|^16 invalid_command steps\[3\]\.inputs\.m: .*the one step it needs/),
        expect.stringMatching(/^19 invalid_command steps\[4\]\.inputs\.m: "paths": a command step reads the outputs of the one step it needs/),
      ]),
    );
  });

  it('refuses a mapped command step whose outputs cannot merge as rows', async () => {
    const issues = await issuesOf(`name: mapped
steps:
  - id: read
    command: ["sh", "-c", "true > {out.rows}"]
    outputs: { rows: { path: rows.jsonl, kind: test/rows, format: jsonl } }
  - id: each
    command: ["sh", "-c", "cp {in.rows} {out.sdf}"]
    map: { over: rows, shardSize: 10 }
    outputs: { sdf: { path: out.sdf, kind: chem/sdf } }
`);
    expect(issues).toEqual([expect.stringMatching(/^9 invalid_command steps\[1\]\.outputs\.sdf\.path: a mapped command step's outputs are merged as rows: give output sdf format: csv or jsonl/)]);
  });
});
