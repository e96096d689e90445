// How many commits a run costs, and that chaining never lets work start before its StepStarted is stored.
import { describe, expect, it } from 'vitest';
import {
  defineFlow,
  FlowEngine,
  MemoryFlowStore,
  TransientError,
  type FlowEvent,
  type RetryPolicyOptions,
  type StepDefinition,
} from '../../src/index.js';

/** A memory store that records the event types of every append (one append = one commit). */
class RecordingStore extends MemoryFlowStore {
  readonly commits: string[][] = [];
  override append(...args: Parameters<MemoryFlowStore['append']>): ReturnType<MemoryFlowStore['append']> {
    this.commits.push(args[2].map((e) => e.type));
    return super.append(...args);
  }
}

/** Two steps; the second fails its first attempt, and checks its StepStarted is stored before it runs. */
function failOnceFlow(store: MemoryFlowStore, seen: FlowEvent[][]) {
  const step = (id: string, failFirst: boolean): StepDefinition => ({
    id,
    kind: id === 'a' ? 'source' : 'transform',
    baseParams: {},
    run: async (ctx) => {
      seen.push(await store.list(ctx.flowId));
      if (failFirst && ctx.attempt === 1) throw new TransientError('flaky');
      return { outputs: [] };
    },
  });
  return defineFlow('commits', [step('a', false), step('b', true)]);
}

const atOnce: RetryPolicyOptions = { maxRetries: 2, backoff: { kind: 'none' } };
const later: RetryPolicyOptions = { maxRetries: 2, backoff: { kind: 'exponential', baseMs: 5 } };

describe('commits per run', () => {
  it('a retry due at once starts its attempt in the failure commit, and the attempt runs only after it', async () => {
    const store = new RecordingStore();
    const seen: FlowEvent[][] = [];
    const flow = failOnceFlow(store, seen);
    const engine = new FlowEngine({ store, retryPolicy: atOnce });
    const flowId = await engine.startFlow(flow);
    const state = await engine.runToEnd(flowId, flow);
    expect(state.status).toBe('completed');
    expect(store.commits).toEqual([
      ['FlowInitialized'],
      ['StepStarted'],
      ['StepFinished', 'StepStarted'],
      ['StepFailed', 'RetryScheduled', 'StepStarted'],
      ['StepFinished', 'FlowCompleted'],
    ]);
    // Every attempt saw its own StepStarted already committed.
    const started = (events: FlowEvent[]) => events.filter((e) => e.type === 'StepStarted').map((e) => e.type === 'StepStarted' && `${e.stepId}#${e.attempt}`);
    expect(seen.map(started)).toEqual([['a#1'], ['a#1', 'b#1'], ['a#1', 'b#1', 'b#2']]);
  });

  it('a retry with a backoff waits uncommitted: its StepStarted is a commit of its own once due', async () => {
    const store = new RecordingStore();
    const flow = failOnceFlow(store, []);
    const engine = new FlowEngine({ store, retryPolicy: later });
    const state = await engine.runToEnd(await engine.startFlow(flow), flow);
    expect(state.status).toBe('completed');
    expect(store.commits.slice(3)).toEqual([['StepFailed', 'RetryScheduled'], ['StepStarted'], ['StepFinished', 'FlowCompleted']]);
  });

  it('next() runs one attempt and never starts another', async () => {
    const store = new RecordingStore();
    const flow = failOnceFlow(store, []);
    const engine = new FlowEngine({ store, retryPolicy: atOnce });
    const flowId = await engine.startFlow(flow);
    await engine.next(flowId, flow);
    const { outcome } = await engine.next(flowId, flow);
    expect(outcome).toMatchObject({ kind: 'failed', stepId: 'b' });
    expect(store.commits.at(-1)).toEqual(['StepFailed', 'RetryScheduled']);
  });

  it('a graph run one step at a time chains each start into the outcome before it, as a list does', async () => {
    const store = new RecordingStore();
    const seen: FlowEvent[][] = [];
    const step = (id: string, needs?: string[]): StepDefinition => ({
      id,
      kind: needs === undefined ? 'source' : 'transform',
      baseParams: {},
      ...(needs === undefined ? {} : { needs }),
      run: async (ctx) => {
        seen.push(await store.list(ctx.flowId));
        return { outputs: [{ kind: 'id', payload: { id } }] };
      },
    });
    // Each step needs the source and the step before it: a graph (not the list default) with one order.
    const flow = defineFlow('line-graph', [step('s'), step('a', ['s']), step('b', ['s', 'a']), step('c', ['s', 'b'])]);
    const engine = new FlowEngine({ store, concurrency: 1 });
    const state = await engine.runToEnd(await engine.startFlow(flow), flow);
    expect(state.status).toBe('completed');
    expect(store.commits).toEqual([
      ['FlowInitialized'],
      ['StepStarted'],
      ['StepFinished', 'StepStarted'],
      ['StepFinished', 'StepStarted'],
      ['StepFinished', 'StepStarted'],
      ['StepFinished', 'FlowCompleted'],
    ]);
    const started = (events: FlowEvent[]) => events.filter((e) => e.type === 'StepStarted').length;
    expect(seen.map(started)).toEqual([1, 2, 3, 4]);
  });

  it('a graph with two branches in flight starts each step once, whichever outcome chains the next start', async () => {
    const store = new RecordingStore();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const step = (id: string, needs: string[] | undefined, wait: boolean): StepDefinition => ({
      id,
      kind: needs === undefined ? 'source' : 'transform',
      baseParams: {},
      ...(needs === undefined ? {} : { needs }),
      run: async () => {
        if (wait) await gate;
        else release();
        return { outputs: [{ kind: 'id', payload: { id } }] };
      },
    });
    // b waits until c runs: both are in flight together.
    const flow = defineFlow('fork', [step('a', undefined, false), step('b', ['a'], true), step('c', ['a'], false), step('d', ['b', 'c'], false)]);
    const engine = new FlowEngine({ store, concurrency: 2 });
    const state = await engine.runToEnd(await engine.startFlow(flow), flow);
    expect(state.status).toBe('completed');
    expect(state.steps.map((s) => s.attempts)).toEqual([1, 1, 1, 1]);
    expect(store.commits.flat().filter((t) => t === 'StepStarted')).toHaveLength(4);
    expect(store.commits.flat()).not.toContain('StepFailed');
    // a finished alone: its outcome started b in the same commit.
    expect(store.commits[2]).toEqual(['StepFinished', 'StepStarted']);
  });
});
