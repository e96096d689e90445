import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveWorkDirOption, workRootOf } from '../../src/cli/work-root.js';
import type { CliIo } from '../../src/cli/io.js';

const io = { cwd: '/home/me/project' } as CliIo;

describe('the work root of command steps', () => {
  it('is --work-dir, else CHEMFLOW_WORK_DIR', () => {
    expect(resolveWorkDirOption('/scratch/a', { CHEMFLOW_WORK_DIR: '/scratch/b' })).toBe('/scratch/a');
    expect(resolveWorkDirOption(undefined, { CHEMFLOW_WORK_DIR: '/scratch/b' })).toBe('/scratch/b');
    expect(resolveWorkDirOption(undefined, {})).toBeUndefined();
    expect(workRootOf({ io, db: 'postgres://u@h/db', workDir: 'work' })).toBe('/home/me/project/work');
  });

  it('defaults to the embedded database’s work/, else the system temporary directory', () => {
    expect(workRootOf({ io, db: '.chemflow', workDir: undefined })).toBe('/home/me/project/.chemflow/work');
    expect(workRootOf({ io, db: 'postgres://u@h/db', workDir: undefined })).toBe(join(tmpdir(), 'chemflow-work'));
    expect(workRootOf({ io, db: 'memory', workDir: undefined })).toBe(join(tmpdir(), 'chemflow-work'));
  });
});
