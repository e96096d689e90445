import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FlowFileError, loadFlowFile } from '../../src/flowfile/index.js';
import { BUILTIN_STEPS } from '../../src/steps/builtin.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chemflow-resources-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const flow = (resources: string): string => `name: sized
steps:
  - { id: read, uses: chem/read-smiles, params: { file: molecules.csv }${resources === '' ? '' : `, resources: ${resources}`} }
  - id: count
    command: ["wc", "-l", "{in.molecules}"]
    inputs: { molecules: read.molecules }
${resources === '' ? '' : `    resources: ${resources}\n`}`;

async function load(text: string) {
  await writeFile(join(dir, 'flow.yaml'), text);
  return loadFlowFile(join(dir, 'flow.yaml'), { builtins: BUILTIN_STEPS });
}

describe('resources in flow files', () => {
  it('reach the definitions of step-type and command steps, and never the definition hash or the command params', async () => {
    const sized = await load(flow('{ cpus: 2, memoryMb: 1500 }'));
    const plain = await load(flow(''));
    expect(sized.definition.steps.map((s) => s.resources)).toEqual([{ cpus: 2, memoryMb: 1500 }, { cpus: 2, memoryMb: 1500 }]);
    expect(plain.definition.steps.map((s) => s.resources)).toEqual([undefined, undefined]);
    expect(sized.definition.definitionHash).toBe(plain.definition.definitionHash);
    // What a command step's fingerprint covers (its params) does not mention them.
    expect(sized.definition.steps[1]?.baseParams).toEqual(plain.definition.steps[1]?.baseParams);
  });

  it('one key alone is enough', async () => {
    const loaded = await load(flow('{ memoryMb: 64 }'));
    expect(loaded.definition.steps[0]?.resources).toEqual({ memoryMb: 64 });
  });

  it('a bad value or key is a flow file error at its line, naming the keys it takes', async () => {
    const error = await load(flow('{ cpus: 0, gpus: 1 }')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FlowFileError);
    const issues = (error as FlowFileError).issues.map((i) => `${i.path}: ${i.message}`);
    expect(issues).toContain('steps[0].resources: unknown key "gpus"; expected only cpus, memoryMb');
    expect(issues.some((i) => i.startsWith('steps[0].resources.cpus: '))).toBe(true);
  });
});
