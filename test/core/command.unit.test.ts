import { describe, expect, it } from 'vitest';
import { classifyError } from '../../src/core/error-class.js';
import { CommandFailedError, commandFailure } from '../../src/core/command-exit.js';
import { bindCommandInputs, outputNameOf, parseInputRef } from '../../src/core/command-inputs.js';
import { commandParamsOf } from '../../src/core/command-params.js';
import { NO_EXIT_CODES, outputPathProblem } from '../../src/core/command-spec.js';
import { parseArgument, placeholdersOf, substitute } from '../../src/core/command-template.js';

describe('command argument templates', () => {
  it('substitutes placeholders inside larger arguments and keeps escaped braces', () => {
    const argv = ['obabel', '{in.molecules}', '-O', '{out.sdf}', '--opt={{"a": 1}}', 'x{workdir}/y', '{script}'];
    expect(substitute(argv, { inputs: { molecules: '/w/in/m.smi' }, outputs: { sdf: '/w/out.sdf' }, script: '/w/.chemflow/s.py', workdir: '/w' })).toEqual([
      'obabel',
      '/w/in/m.smi',
      '-O',
      '/w/out.sdf',
      '--opt={"a": 1}',
      'x/w/y',
      '/w/.chemflow/s.py',
    ]);
  });

  it('lists placeholders with the index of their argument', () => {
    expect(placeholdersOf(['a', 'b{in.x}c{out.y}'])).toEqual([
      { index: 1, placeholder: { kind: 'in', name: 'x' } },
      { index: 1, placeholder: { kind: 'out', name: 'y' } },
    ]);
  });

  it.each([
    ['{inp.x}', 'unknown placeholder {inp.x}'],
    ['{in.}', 'expected {in.NAME}'],
    ['{in.a b}', 'expected {in.NAME}'],
    ['{out', 'never closed'],
    ['a}b', "lone '}'"],
    ['{}', 'unknown placeholder {}'],
  ])('refuses %s', (arg, message) => {
    expect(() => parseArgument(arg)).toThrow(message);
  });
});

describe('commandFailure: exit → class', () => {
  const none = NO_EXIT_CODES;
  it.each([
    [{ exitCode: 0, signal: null }, null, null],
    [{ exitCode: 75, signal: null }, 'Transient', 'COMMAND_EXIT'],
    [{ exitCode: null, signal: 'SIGKILL' }, 'Transient', 'COMMAND_KILLED'],
    [{ exitCode: 137, signal: null }, 'Transient', 'COMMAND_KILLED'],
    [{ exitCode: 127, signal: null }, 'Permanent', 'COMMAND_NOT_FOUND'],
    [{ exitCode: 126, signal: null }, 'Permanent', 'COMMAND_NOT_FOUND'],
    [{ spawnError: 'ENOENT' }, 'Permanent', 'COMMAND_NOT_FOUND'],
    [{ spawnError: 'EACCES' }, 'Permanent', 'COMMAND_NOT_FOUND'],
    [{ exitCode: 2, signal: null }, 'Validation', 'COMMAND_USAGE'],
    [{ exitCode: 1, signal: null }, 'Runtime', 'COMMAND_EXIT'],
    [{ exitCode: 3, signal: null }, 'Runtime', 'COMMAND_EXIT'],
  ] as const)('%j → %s %s', (exit, errorClass, code) => {
    const failure = commandFailure(exit, none);
    expect(failure === null ? null : failure.errorClass).toBe(errorClass);
    expect(failure === null ? null : failure.code).toBe(code);
  });

  it('lets a step override the class of listed codes; a signal counts as 128+N', () => {
    const codes = { transient: [1], permanent: [137], validation: [], runtime: [75] };
    expect(commandFailure({ exitCode: 1, signal: null }, codes)?.errorClass).toBe('Transient');
    expect(commandFailure({ exitCode: 75, signal: null }, codes)?.errorClass).toBe('Runtime');
    expect(commandFailure({ exitCode: null, signal: 'SIGKILL' }, codes)).toMatchObject({ errorClass: 'Permanent', code: 'COMMAND_KILLED' });
  });

  it('is kept by classifyError, details and all (one classification path)', () => {
    const failure = commandFailure({ exitCode: 75, signal: null }, NO_EXIT_CODES);
    if (failure === null) throw new Error('expected a failure');
    const classified = classifyError(new CommandFailedError(failure, 'obabel', { exitCode: 75, stderrTail: 'busy' }));
    expect(classified).toMatchObject({ errorClass: 'Transient', code: 'COMMAND_EXIT', details: { exitCode: 75, stderrTail: 'busy' } });
    expect(classified.message).toContain('obabel');
  });
});

describe('input names', () => {
  it('names an output by its metadata name, else the last segment of its kind', () => {
    expect(outputNameOf({ kind: 'chem/sdf', metadata: { name: 'protonated' } })).toBe('protonated');
    expect(outputNameOf({ kind: 'chem/molecules' })).toBe('molecules');
    expect(outputNameOf({ kind: 'report' })).toBe('report');
  });

  it('reads STEP and STEP.OUTPUT against a dotted previous step id', () => {
    expect(parseInputRef('read.v2', 'read.v2')).toEqual({ step: 'read.v2', output: null });
    expect(parseInputRef('read.v2.molecules', 'read.v2')).toEqual({ step: 'read.v2', output: 'molecules' });
    expect(parseInputRef('other', 'read')).toBeUndefined();
  });

  const outputs = [{ kind: 'chem/molecules' }, { kind: 'chem/sdf', metadata: { name: 'conformers' } }, { kind: 'x/dup' }, { kind: 'y/dup' }];

  it('binds every uniquely named output when no inputs are declared', () => {
    expect(bindCommandInputs(null, outputs, ['molecules'])).toEqual({ ok: true, bound: { molecules: 0, conformers: 1 } });
  });

  it('says when a placeholder is ambiguous or unknown', () => {
    expect(bindCommandInputs(null, outputs, ['dup'])).toMatchObject({ ok: false, problem: expect.stringContaining('ambiguous') });
    expect(bindCommandInputs(null, outputs, ['nope'])).toMatchObject({ ok: false, problem: expect.stringContaining('no output named "nope"') });
  });

  it('binds declared inputs to a named output, or to the only one', () => {
    expect(bindCommandInputs({ m: { step: 'read', output: 'conformers', format: null } }, outputs, ['m'])).toEqual({ ok: true, bound: { m: 1 } });
    expect(bindCommandInputs({ m: { step: 'read', output: null, format: null } }, [{ kind: 'a/b' }], ['m'])).toEqual({ ok: true, bound: { m: 0 } });
    expect(bindCommandInputs({ m: { step: 'read', output: null, format: null } }, outputs, [])).toMatchObject({ ok: false, problem: expect.stringContaining('name one') });
  });
});

describe('commandParamsOf', () => {
  const context = { previousStep: 'read', previousOutputs: null, script: null, mapped: false };

  it('builds canonical params: exit codes sorted, inputs resolved, formats defaulted to null', () => {
    const { params, problems } = commandParamsOf(
      {
        command: ['obabel', '{in.molecules}', '-O', '{out.sdf}'],
        inputs: { molecules: { from: 'read.molecules', format: 'smi' } },
        outputs: { sdf: { path: 'out/protonated.sdf', kind: 'chem/sdf' } },
        exitCodes: { transient: [137, 75, 75] },
        env: { OMP_NUM_THREADS: '1' },
      },
      context,
    );
    expect(problems).toEqual([]);
    expect(params).toEqual({
      command: ['obabel', '{in.molecules}', '-O', '{out.sdf}'],
      inputs: { molecules: { step: 'read', output: 'molecules', format: 'smi' } },
      outputs: { sdf: { path: 'out/protonated.sdf', kind: 'chem/sdf', format: null } },
      exitCodes: { transient: [75, 137], permanent: [], validation: [], runtime: [] },
      env: { OMP_NUM_THREADS: '1' },
      script: null,
    });
  });

  it('reports every problem with its path', () => {
    const { problems } = commandParamsOf(
      {
        command: ['tool', '{in.x}', '{out.missing}', '{script}', '{bad}'],
        inputs: { y: 'elsewhere' },
        outputs: { a: { path: '../escape.txt', kind: 'k' }, b: { path: '/abs', kind: 'k' }, c: { path: 'in/x', kind: 'k' } },
        exitCodes: { transient: [0, 300], permanent: [75], runtime: [75] },
        env: { CHEMFLOW_FLOW_ID: 'x', 'BAD-NAME': 'y' },
      },
      context,
    );
    const text = problems.map((p) => `${p.path.join('.')}: ${p.message}`);
    expect(text).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^inputs\.y: .*the one step it needs \(read\)/),
        expect.stringMatching(/^outputs\.a\.path: .*leaves the working directory/),
        expect.stringMatching(/^outputs\.b\.path: .*absolute/),
        expect.stringMatching(/^outputs\.c\.path: .*reserved/),
        expect.stringMatching(/^command\.1: \{in\.x\} names no declared input/),
        expect.stringMatching(/^command\.2: \{out\.missing\} names no declared output/),
        expect.stringMatching(/^command\.3: \{script\} is used but the step has no `script`/),
        expect.stringMatching(/^command\.4: unknown placeholder \{bad\}/),
        expect.stringMatching(/^exitCodes: transient: expected exit codes from 1 to 255 .* got 0/),
        expect.stringMatching(/^exitCodes: exit code 75 is listed both as permanent and as runtime/),
        expect.stringMatching(/^env\.CHEMFLOW_FLOW_ID: /),
        expect.stringMatching(/^env\.BAD-NAME: /),
      ]),
    );
  });

  it('refuses {in.NAME} in a first step, and outputs without rows in a mapped step', () => {
    expect(commandParamsOf({ command: ['cat', '{in.x}'] }, { ...context, previousStep: null }).problems[0]?.message).toContain('first step');
    const mapped = commandParamsOf({ command: ['t', '{out.f}', '{out.j}', '{out.r}'], outputs: { f: { path: 'f', kind: 'k' }, j: { path: 'j', kind: 'k', format: 'json' }, r: { path: 'r', kind: 'k', format: 'csv' } } }, { ...context, mapped: true });
    expect(mapped.problems.map((p) => p.path.join('.'))).toEqual(['outputs.f.path', 'outputs.j.format']);
  });

  it('checks {in.NAME} against a previous command step’s outputs when known', () => {
    const { problems } = commandParamsOf({ command: ['cat', '{in.sdff}'] }, { ...context, previousOutputs: ['sdf'] });
    expect(problems[0]?.message).toContain('step read has no output named "sdff" (it has sdf)');
  });
});

describe('outputPathProblem', () => {
  it.each(['out.sdf', 'results/out.csv', 'a.b/c'])('accepts %s', (path) => expect(outputPathProblem(path)).toBeUndefined());
  it.each(['', '/etc/passwd', '../x', 'a/../../x', './x', 'a//b', 'tmp/x', '.chemflow/x', 'in'])('refuses %j', (path) => expect(outputPathProblem(path)).toBeDefined());
});
