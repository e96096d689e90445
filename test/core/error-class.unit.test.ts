import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { classifyError, FlowCancelledError, LeaseLostError, PermanentError, StepTimeoutError, TransientError, ValidationError, WorkerLostError } from '../../src/index.js';

describe('classifyError', () => {
  it('keeps the class of chemflow step errors, with code and details', () => {
    expect(classifyError(new TransientError('busy', { code: 'RATE_LIMITED', retryAfterMs: 250, details: { provider: 'x' } }))).toMatchObject({
      errorClass: 'Transient',
      code: 'RATE_LIMITED',
      message: 'busy',
      details: { provider: 'x' },
      retryAfterMs: 250,
    });
    expect(classifyError(new PermanentError('gone')).errorClass).toBe('Permanent');
    expect(classifyError(new ValidationError('bad')).errorClass).toBe('Validation');
  });

  it('honours an errorClass property on foreign errors (modules that do not import chemflow)', () => {
    const foreign = Object.assign(new Error('nope'), { errorClass: 'Permanent', details: { why: 'x' } });
    expect(classifyError(foreign)).toMatchObject({ errorClass: 'Permanent', details: { why: 'x' } });
    expect(classifyError(Object.assign(new Error('?'), { errorClass: 'Weird' })).errorClass).toBe('Runtime');
  });

  it('treats timeouts, lost connections and lost workers as Transient', () => {
    expect(classifyError(new StepTimeoutError(10))).toMatchObject({ errorClass: 'Transient', code: 'TIMEOUT' });
    expect(classifyError(new WorkerLostError(2))).toMatchObject({ errorClass: 'Transient', code: 'WORKER_LOST' });
    expect(classifyError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })).errorClass).toBe('Transient');
    expect(classifyError(new DOMException('timed out', 'TimeoutError')).errorClass).toBe('Transient');
  });

  it("keeps the stack of what a step threw, and none of the engine's own failures", () => {
    expect(classifyError(new PermanentError('gone')).stack).toMatch(/error-class\.unit\.test\.ts/);
    for (const own of [new StepTimeoutError(10), new WorkerLostError(1), new FlowCancelledError(null), new LeaseLostError('w1')])
      expect(classifyError(own)).toMatchObject({ code: own.code, stack: undefined });
  });

  it('classifies failed schema validation as Validation and anything else as Runtime', () => {
    const zodError = (() => {
      try {
        z.object({ n: z.number() }).parse({ n: 'x' });
      } catch (e) {
        return e;
      }
    })();
    expect(classifyError(zodError).errorClass).toBe('Validation');
    expect(classifyError(new TypeError('x is undefined')).errorClass).toBe('Runtime');
  });

  it('wraps thrown non-errors instead of losing them', () => {
    expect(classifyError('plain string')).toMatchObject({ errorClass: 'Runtime', code: 'NON_ERROR_THROWN', message: expect.stringContaining('plain string') });
    expect(classifyError(undefined).message).toContain('undefined');
  });
});
