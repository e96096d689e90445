// Values PostgreSQL refuses (U+0000, lone surrogates) and signal data that is not JSON, on every store:
// the failure a step deserves is always recorded, never a store error that leaves the step Running.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  defineFlow,
  FlowEngine,
  InvalidDefinitionError,
  PermanentError,
  TransientError,
  type FlowDefinition,
  type FlowStore,
  type StepContext,
  type StepDefinition,
  type StepResult,
} from '../../src/index.js';
import { ManualClock, seedStep, sinkStep } from '../support/demo-flow.js';
import { engineStores } from '../support/stores.js';

function step(id: string, run: (ctx: StepContext) => StepResult): StepDefinition {
  return { id, kind: 'transform', baseParams: {}, retry: { maxRetries: 2, backoff: { kind: 'none' } }, run };
}

function flowWith(middle: StepDefinition): FlowDefinition {
  return defineFlow('unstorable', [seedStep(), middle, sinkStep()]);
}

/** Runs the flow to its end; the engine must never throw a store error here. */
async function run(store: FlowStore, def: FlowDefinition) {
  const engine = new FlowEngine({ store, clock: new ManualClock() });
  const flowId = await engine.startFlow(def);
  const flow = await engine.runToEnd(flowId, def);
  const errors = await store.getErrorTimeline(flowId, 'bad');
  const events = await store.list(flowId);
  return { flowId, flow, errors, events, engine };
}

describe.each(engineStores)('values the database cannot store, on $name', ({ create }) => {
  // One store for the file (a fresh PGlite costs seconds on a busy machine); every flow has its own id.
  let shared: FlowStore;
  beforeAll(async () => {
    shared = await create();
  });
  afterAll(async () => {
    await shared?.close();
  });
  const withStore = <T>(fn: (store: FlowStore) => Promise<T>): Promise<T> => fn(shared);

  it('a Permanent error with U+0000 and lone surrogates is recorded once, as Permanent, made storable', async () => {
    await withStore(async (store) => {
      const def = flowWith(
        step('bad', () => {
          throw new PermanentError('molecule \u0000 rejected', { code: 'BAD\ud800', details: { smiles: 'C\udc00C', ok: 'é😀' } });
        }),
      );
      const { flow, errors, events } = await run(store, def);
      expect(flow.status).toBe('failed');
      expect(flow.steps[1]).toMatchObject({ status: 'Failed', attempts: 1 });
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({
        attemptNumber: 1,
        errorClass: 'Permanent',
        errorMessage: 'molecule \ufffd rejected',
        details: {
          error_code: 'BAD\ufffd',
          smiles: 'C\ufffdC',
          ok: 'é😀',
          unstorable_text: {
            message: '"molecule \\u0000 rejected"',
            code: '"BAD\\ud800"',
            'details.smiles': '"C\\udc00C"',
          },
        },
      });
      expect(events.filter((e) => e.type === 'StepFailed')).toHaveLength(1);
      expect(events.some((e) => e.type === 'RetryScheduled')).toBe(false);
    });
  });

  it('a Transient error with U+0000 keeps its class and is retried by the policy', async () => {
    await withStore(async (store) => {
      const def = flowWith(
        step('bad', (ctx) => {
          if (ctx.attempt === 1) throw new TransientError('provider said \u0000', { code: 'E\u0000' });
          return { outputs: [{ kind: 'number', payload: { n: 2 } }] };
        }),
      );
      const { flow, errors } = await run(store, def);
      expect(flow.status).toBe('completed');
      expect(errors.map((e) => [e.errorClass, e.errorMessage, e.details.error_code])).toEqual([['Transient', 'provider said \ufffd', 'E\ufffd']]);
    });
  });

  it('a plain Error thrown with U+0000 is recorded as Runtime', async () => {
    await withStore(async (store) => {
      const { flow, errors } = await run(store, flowWith(step('bad', () => {
        throw new Error('\u0000');
      })));
      expect(flow.status).toBe('failed');
      expect(errors.map((e) => [e.errorClass, e.errorMessage])).toEqual([['Runtime', '\ufffd']]);
    });
  });

  it.each([
    ['U+0000 in a payload', { kind: 'text', payload: { name: 'a\u0000' } }, /outputs\[0\]: Value at \$\.payload\.name cannot be stored: it contains U\+0000/],
    ['a lone surrogate in metadata', { kind: 'text', payload: 1, metadata: { note: '\ud800' } }, /\$\.metadata\.note cannot be stored: it contains a lone UTF-16 surrogate/],
    ['a lone surrogate in a payload key', { kind: 'text', payload: { ['\udfff']: 1 } }, /its key contains a lone UTF-16 surrogate/],
    ['U+0000 in the kind', { kind: 'te\u0000xt', payload: 1 }, /\$\.kind cannot be stored/],
  ])('an output with %s fails the attempt: Runtime INVALID_OUTPUT, nothing stored', async (_name, output, message) => {
    await withStore(async (store) => {
      const { flow, errors, events } = await run(store, flowWith(step('bad', () => ({ outputs: [output] }))));
      expect(flow.status).toBe('failed');
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ errorClass: 'Runtime', details: { error_code: 'INVALID_OUTPUT' } });
      expect(errors[0]?.errorMessage).toMatch(message);
      expect(events.filter((e) => e.type === 'StepFinished')).toHaveLength(1); // the seed only
    });
  });

  it.each([
    ['a BigInt', 10n, /data Value at \$ cannot be hashed as canonical JSON: bigint/],
    ['a function inside an object', { done: 1, cb: () => 1 }, /\$\.cb cannot be hashed as canonical JSON: function/],
    ['U+0000 in a string', { note: 'x\u0000' }, /\$\.note cannot be stored: it contains U\+0000/],
  ])('ctx.emit with %s fails the attempt: Runtime INVALID_SIGNAL; earlier signals are kept', async (_name, data, message) => {
    await withStore(async (store) => {
      const def = flowWith(
        step('bad', (ctx) => {
          ctx.emit('progress', { done: 0 });
          ctx.emit('progress', data as never);
          return { outputs: [{ kind: 'number', payload: 1 }] };
        }),
      );
      const { flow, errors, events } = await run(store, def);
      expect(flow.status).toBe('failed');
      expect(errors.map((e) => [e.errorClass, e.details.error_code])).toEqual([['Runtime', 'INVALID_SIGNAL']]);
      expect(errors[0]?.errorMessage).toMatch(message);
      expect(events.filter((e) => e.type === 'StepSignal' && e.stepId === 'bad').map((e) => e.type === 'StepSignal' && e.data)).toEqual([{ done: 0 }]);
    });
  });

  it('a step that catches the emit error still fails with INVALID_SIGNAL', async () => {
    await withStore(async (store) => {
      const def = flowWith(
        step('bad', (ctx) => {
          try {
            ctx.emit('\u0000');
          } catch {
            // ignored on purpose
          }
          return { outputs: [{ kind: 'number', payload: 1 }] };
        }),
      );
      const { errors } = await run(store, def);
      expect(errors.map((e) => [e.details.error_code, e.errorMessage])).toEqual([
        ['INVALID_SIGNAL', 'ctx.emit("\ufffd"): the signal name contains U+0000, which PostgreSQL cannot store'],
      ]);
    });
  });
});

describe('definitions with values the database cannot store are refused before anything is written', () => {
  it.each([
    ['a flow name with U+0000', () => defineFlow('a\u0000', [seedStep()]), /Flow name "a\\u0000" cannot be stored: it contains U\+0000/],
    ['params with a lone surrogate', () => defineFlow('p', [{ ...seedStep(), baseParams: { n: 1, s: '\ud800' } }]), /Step "seed" has params that are not plain storable JSON: Value at \$\.s cannot be stored/],
    ['params with a BigInt', () => defineFlow('p', [{ ...seedStep(), baseParams: { n: 1n } as never }]), /Step "seed" has params that are not plain storable JSON: .*bigint/],
  ])('%s: InvalidDefinitionError', (_name, define, message) => {
    expect(define).toThrow(InvalidDefinitionError);
    expect(define).toThrow(message);
  });
});
