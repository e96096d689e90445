import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FlowFileError, loadFlowFile } from '../../src/flowfile/index.js';
import type { StepModule } from '../../src/index.js';

const BUILTINS: Record<string, StepModule> = {
  'test/source': { kind: 'source', run: () => ({ outputs: [] }) },
  'test/transform': { kind: 'transform', run: () => ({ outputs: [] }) },
};

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chemflow-flowfile-graph-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function load(text: string) {
  const file = join(dir, 'flow.yaml');
  await writeFile(file, text);
  return loadFlowFile(file, { builtins: BUILTINS, cwd: dir });
}

async function issuesOf(text: string): Promise<[string, string][]> {
  const error = await load(text).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FlowFileError);
  return (error as FlowFileError).issues.map((i) => [i.path, i.message]);
}

describe('flow files with needs, inputs and when', () => {
  it('load a diamond with named inputs and a condition', async () => {
    const { definition } = await load(`
name: diamond
steps:
  - { id: a, uses: test/source }
  - { id: b, uses: test/transform, needs: [a] }
  - { id: c, uses: test/transform, needs: [a], when: { step: a, path: $.passed, op: '>', value: 0 } }
  - { id: d, uses: test/transform, inputs: { left: b, right: c.rows } }
`);
    expect(definition.graph.needs).toEqual([[], [0], [0], [1, 2]]);
    expect(definition.steps[3]?.inputs).toEqual({ left: { step: 'b', output: null }, right: { step: 'c', output: 'rows' } });
    expect(definition.steps[2]?.when).toEqual({ step: 'a', output: null, path: '$.passed', op: '>', value: 0 });
  });

  it('refuse a cycle, naming it', async () => {
    expect(
      await issuesOf(`
name: cycle
steps:
  - { id: s, uses: test/source }
  - { id: a, uses: test/transform, needs: [s, c] }
  - { id: b, uses: test/transform, needs: [a] }
  - { id: c, uses: test/transform, needs: [b] }
`),
    ).toEqual([['steps[1].needs', 'the steps form a cycle: a → b → c → a']]);
  });

  it('refuse unknown and duplicate needs, a source with needs, references to no step and a condition on a step not upstream', async () => {
    expect(
      await issuesOf(`
name: wrong
steps:
  - { id: s, uses: test/source }
  - { id: t, uses: test/source, needs: [s] }
  - { id: a, uses: test/transform, needs: [s, s, x] }
  - { id: b, uses: test/transform, inputs: { m: nowhere.rows } }
  - { id: c, uses: test/transform, needs: [t], when: { step: a, path: $.n, op: exists } }
`),
    ).toEqual([
      ['steps[3].inputs.m', 'input "m": "nowhere.rows" names no step of this flow: write STEP or STEP.OUTPUT'],
    ]);
    expect(
      await issuesOf(`
name: wrong
steps:
  - { id: s, uses: test/source }
  - { id: t, uses: test/source, needs: [s] }
  - { id: a, uses: test/transform, needs: [s, s, x] }
  - { id: c, uses: test/transform, needs: [t], when: { step: a, path: $.n, op: exists } }
`),
    ).toEqual([
      ['steps[1].needs', 'step "t" is a source: it reads no input, so it needs nothing'],
      ['steps[2].needs', 'step "a" needs "s" twice'],
      ['steps[2].needs', 'step "a" needs "x", which is not a step of this flow'],
      ['steps[3].when', 'step "c" has a condition on "a", which is not among its needs, direct or indirect'],
    ]);
  });

  it('refuse clashing input names, a bad path and an unknown operator', async () => {
    expect(
      await issuesOf(`
name: wrong
steps:
  - { id: s, uses: test/source }
  - { id: a, uses: test/transform, inputs: { Rows: s, rows: s } }
  - { id: b, uses: test/transform, when: { step: a, path: passed, op: exists } }
`),
    ).toEqual([
      ['steps[1].inputs', 'inputs "Rows" and "rows" of step "a" differ only in case: they would name the same input directory'],
      ['steps[2].when', 'step "b": path "passed": a path starts with "$" (the output\'s payload), not "p"'],
    ]);
    const [[path, message] = []] = await issuesOf(`
name: wrong
steps:
  - { id: s, uses: test/source }
  - { id: b, uses: test/transform, when: { step: s, path: $.n, op: '=~', value: 1 } }
`);
    expect(path).toBe('steps[1].when.op');
    expect(message).toMatch(/==/);
  });

  it('keep `{ from, format }` inputs for command steps', async () => {
    expect(
      await issuesOf(`
name: wrong
steps:
  - { id: s, uses: test/source }
  - { id: a, uses: test/transform, inputs: { m: { from: s, format: csv } } }
`),
    ).toEqual([['steps[1].inputs.m', '`{ from, format }` is for command steps: a step module reads its input as artifacts, so write STEP or STEP.OUTPUT']]);
  });
});
