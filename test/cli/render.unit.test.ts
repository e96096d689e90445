import { randomUUID } from 'node:crypto';
import type { Artifact } from '../../src/core/artifact.js';
import { describe, expect, it, vi } from 'vitest';
import type { FlowEvent } from '../../src/core/events.js';
import { replay } from '../../src/core/reducer.js';
import {
  flowInitialized,
  hashOf,
  shapeOf,
  shardFailed,
  shardFinished,
  shardRetryScheduled,
  shardStarted,
  shardedStepStarted,
  stepFailed,
  stepFinished,
  stepStarted,
} from '../helpers/events.js';
import { FlowEngine, MemoryFlowStore, PermanentError, RetryRejectedError, defineFlow, emptyErrorCounts } from '../../src/index.js';
import { failureHint } from '../../src/cli/commands/drive.js';
import { flowReport } from '../../src/cli/flow-report.js';
import { styleFor } from '../../src/cli/io.js';
import { explain } from '../../src/cli/main.js';
import { ProgressDisplay, progressMode } from '../../src/cli/render/progress.js';
import { renderErrorCounts } from '../../src/cli/render/summary.js';
import { printable, Rendered } from '../../src/cli/render/printable.js';
import { table } from '../../src/cli/render/table.js';

function gatedFlow() {
  return defineFlow('gated', [
    { id: 'seed', kind: 'source', baseParams: {}, run: () => ({ outputs: [{ kind: 'n', payload: 1 }] }) },
    {
      id: 'gate',
      kind: 'check',
      baseParams: {},
      run: () => {
        throw new PermanentError('closed');
      },
    },
  ]);
}

describe('CLI rendering', () => {
  it('aligns columns, ignoring ANSI escapes', () => {
    const style = styleFor({ write: () => true, isTTY: true }, {});
    const green = (text: string): string => style.green(text);
    expect(table(['A', 'LONG HEADER', 'C'], [[new Rendered(green('x')), 'y', 'z']])).toBe(`A  LONG HEADER  C\n${green('x')}  y            z\n`);
  });

  it('prints error counts for every class', () => {
    const counts = emptyErrorCounts();
    counts.total = 2;
    counts.byClass.Transient = 2;
    expect(renderErrorCounts(counts)).toBe('Errors: 2 (Transient 2, Permanent 0, Validation 0, Runtime 0)');
  });

  it('writes one plain line per step event off a terminal, and tells a failed flow what to do', async () => {
    const lines: string[] = [];
    const stream = { write: (text: string) => lines.push(text) };
    expect(progressMode(stream, { json: false, quiet: false }, {})).toBe('lines');
    expect(progressMode(stream, { json: true, quiet: false }, {})).toBe('off');
    expect(progressMode({ ...stream, isTTY: true }, { json: true, quiet: false }, {})).toBe('live');
    const display = new ProgressDisplay(stream, 'lines', styleFor(stream, {}));
    const definition = gatedFlow();
    const store = new MemoryFlowStore();
    const engine = new FlowEngine({ store, onEvent: display.onEvent });
    const flowId = await engine.startFlow(definition);
    display.begin((await engine.open(flowId, definition)).flow);
    const flow = await engine.runToEnd(flowId, definition);
    display.end();
    expect(lines.join('')).toMatch(
      /^\[1\/2\] seed: attempt 1 started\n\[1\/2\] seed: finished on attempt 1 \(\d+ ms\)\n\[2\/2\] gate: attempt 1 started\n\[2\/2\] gate: attempt 1 failed: Permanent PERMANENT: closed\n$/,
    );
    expect(flowReport(flow, await store.countErrorsByFlow(flowId))).toMatchObject({ status: 'failed', flowFingerprint: null });
    const hint = failureHint(flow);
    expect(hint).toContain(`chemflow retry ${flowId} gate\` and \`chemflow resume ${flowId}\``);
    expect(hint).toContain(`chemflow errors ${flowId} --step gate`);
  });

  it('names the failed shards of a sharded step in the failure hint, and counts their retries for --max-retries', async () => {
    const definition = defineFlow('sharded-gate', [
      { id: 'seed', kind: 'source', baseParams: {}, run: () => ({ outputs: [{ kind: 'n', payload: { items: [1, 2, 3, 4] } }] }) },
      {
        id: 'gate',
        kind: 'transform',
        baseParams: {},
        map: { over: 'items', shardSize: 2 },
        run: (ctx) => {
          if (ctx.shard?.index === 1) throw new PermanentError('closed');
          return { outputs: [{ kind: 'n', payload: (ctx.input[0] as Artifact | undefined)?.payload ?? null }] };
        },
      },
    ]);
    const engine = new FlowEngine({ store: new MemoryFlowStore(), concurrency: 1, retryPolicy: { maxRetries: 0, backoff: { kind: 'none' } } });
    const flow = await engine.runToEnd(await engine.startFlow(definition), definition);
    const hint = failureHint(flow);
    expect(hint).toContain('step gate (shard 1/2) failed on attempt 1 (Permanent PERMANENT: closed)');
    expect(hint).toContain(`chemflow retry ${flow.id} gate --max-retries 1\``);
    expect(hint).toContain('(The shard has used all 0 retries its policy allows, hence --max-retries.)');
  });

  it("collects a step's `note` signals for the end of the run and prints them as lines; other signals stay quiet", async () => {
    const lines: string[] = [];
    const stream = { write: (text: string) => lines.push(text) };
    const display = new ProgressDisplay(stream, 'lines', styleFor(stream, {}));
    const definition = defineFlow('noted', [
      {
        id: 'seed',
        kind: 'source',
        baseParams: {},
        run: (ctx) => {
          ctx.emit('progress', { done: 1 });
          ctx.emit('note', 'wrote out/report.html');
          return { outputs: [] };
        },
      },
    ]);
    const engine = new FlowEngine({ store: new MemoryFlowStore(), onEvent: display.onEvent });
    await engine.runToEnd(await engine.startFlow(definition), definition);
    expect(display.notes).toEqual(['seed: wrote out/report.html']);
    expect(lines.filter((l) => l.includes('wrote'))).toEqual(['[1/1] seed: wrote out/report.html\n']);
    expect(lines.some((l) => l.includes('done'))).toBe(false);
  });

  it('explains a rejected retry with its reason and the next command', () => {
    const text = explain(new RetryRejectedError('f1', 'gate', 'max_retries_exceeded', '3 of 3 retries already used'));
    expect(text).toBe(
      'Error: Retry of step gate in flow f1 rejected (max_retries_exceeded): 3 of 3 retries already used\n' +
        'Next: allow more with `chemflow retry f1 gate --max-retries <n>`.\n',
    );
  });
});

describe('cached steps in the progress display', () => {
  it('says a step was taken from the cache, and from where', () => {
    const lines: string[] = [];
    const stream = { write: (text: string) => lines.push(text) };
    const display = new ProgressDisplay(stream, 'lines', styleFor(stream, {}));
    const flowId = randomUUID();
    const source = randomUUID();
    const events = [flowInitialized(), { ...stepFinished(0, [hashOf('x')]), cachedFrom: { flowId: source, stepId: 'load' } }].map(
      (e, i) => ({ ...e, flowId, version: i + 1, seq: i + 1, schemaVersion: 1 }),
    ) as FlowEvent[];
    const flow = replay(flowId, events, shapeOf());
    display.begin(flow);
    display.onEvent(events[1]!, flow);
    expect(lines.join('')).toBe(`[1/3] load: taken from the cache (flow ${source}, step load), not run\n`);
  });
});

describe('sharded steps in the progress display', () => {
  const of3 = (index: number) => ({ index, count: 3 });
  /** load, then score in 3 shards: shard 1 fails once and is retried alone, then the step merges them. */
  function shardedRun(): { flowId: string; events: FlowEvent[] } {
    const flowId = randomUUID();
    const events = [
      flowInitialized(),
      stepStarted(0),
      stepFinished(0, [hashOf('loaded')]),
      shardedStepStarted(1, 3),
      shardStarted(1, of3(0)),
      shardStarted(1, of3(1)),
      shardFinished(1, of3(0), [hashOf('shard 0')]),
      shardFailed(1, of3(1), { message: 'provider busy' }),
      shardRetryScheduled(1, of3(1), 1),
      shardStarted(1, of3(1), 2),
      shardStarted(1, of3(2)),
      shardFinished(1, of3(1), [hashOf('shard 1')], 2),
      shardFinished(1, of3(2), [hashOf('shard 2')]),
      stepFinished(1, [hashOf('merged')]),
    ].map((e, i) => ({ ...e, flowId, version: i + 1, seq: i + 1, schemaVersion: 1 })) as FlowEvent[];
    return { flowId, events };
  }

  /** `feed(n)` gives the display the events up to the nth, each with the state it leads to, as the engine's `onEvent` does. */
  function feeder(display: ProgressDisplay, flowId: string, events: readonly FlowEvent[]): (upTo?: number) => void {
    let fed = 1;
    display.begin(replay(flowId, events.slice(0, 1), shapeOf()));
    return (upTo = events.length) => {
      for (; fed < upTo; fed++) display.onEvent(events[fed]!, replay(flowId, events.slice(0, fed + 1), shapeOf()));
    };
  }

  it('writes a line per shard outcome naming the shard and how many are done; no line per shard start', () => {
    const lines: string[] = [];
    const stream = { write: (text: string) => lines.push(text) };
    const display = new ProgressDisplay(stream, 'lines', styleFor(stream, {}));
    const { flowId, events } = shardedRun();
    feeder(display, flowId, events)();
    display.end();
    const text = lines.join('').replace(/\(\d+ ms\)/g, '(t)');
    expect(text).toBe(
      [
        '[1/3] load: attempt 1 started',
        '[1/3] load: finished on attempt 1 (t)',
        '[2/3] score: attempt 1 started in 3 shard(s)',
        '[2/3] score shard 0/3: finished on attempt 1 (shards 1/3)',
        '[2/3] score shard 1/3: attempt 1 failed: Transient E_TEST: provider busy',
        '[2/3] score shard 1/3: retry 1 scheduled (flaky provider)',
        '[2/3] score shard 1/3: finished on attempt 2 (shards 2/3)',
        '[2/3] score shard 2/3: finished on attempt 1 (shards 3/3)',
        '[2/3] score: finished on attempt 1 (t)',
        '',
      ].join('\n'),
    );
  });

  it('shows shards done of all on the line of a mapped step while it runs or failed, not once it finished', () => {
    const writes: string[] = [];
    const stream = { write: (text: string) => writes.push(text), isTTY: true, columns: 200, rows: 40 };
    const display = new ProgressDisplay(stream, 'live', styleFor(stream, {}));
    const { flowId, events } = shardedRun();
    const scoreLine = (): string => writes.at(-1)?.split('\n').find((l) => l.includes('[2/3] score')) ?? '';
    const feed = feeder(display, flowId, events);
    try {
      feed(7);
      expect(scoreLine()).toMatch(/\[2\/3\] score\s+Running\s+attempt 1 {2}shards 1\/3 {2}\d+ ms$/);
      feed(8);
      expect(scoreLine()).toMatch(/\[2\/3\] score\s+Failed\s+attempt 1 {2}shards 1\/3, 1 failed {2}\d+ ms {2}Transient: provider busy$/);
      // As for a step that runs whole, the last error stays in view until the step finished.
      feed(13);
      expect(scoreLine()).toMatch(/\[2\/3\] score\s+Running\s+attempt 1 {2}shards 3\/3 {2}\d+ ms {2}Transient: provider busy$/);
      feed();
      expect(scoreLine()).toMatch(/\[2\/3\] score\s+FinishedOk\s+attempt 1 {2}\d+ ms$/);
    } finally {
      display.end();
    }
  });

  it("times the step from its own start, not from its latest shard's", () => {
    vi.useFakeTimers();
    const lines: string[] = [];
    const stream = { write: (text: string) => lines.push(text) };
    const display = new ProgressDisplay(stream, 'lines', styleFor(stream, {}));
    const { flowId, events } = shardedRun();
    const feed = feeder(display, flowId, events);
    try {
      feed(4); // score started in 3 shards
      vi.advanceTimersByTime(2000);
      feed(13); // its shards started, failed, retried and finished
      vi.advanceTimersByTime(500);
      feed();
      expect(lines.at(-1)).toBe('[2/3] score: finished on attempt 1 (2.5 s)\n');
    } finally {
      display.end();
      vi.useRealTimers();
    }
  });
});

describe('printable', () => {
  it('writes C0, DEL, C1, line separators and bidi controls as visible escapes, and nothing else', () => {
    expect(printable('a\x1b[2J\r\n\t\x00\x7f\u009b\u0085b')).toBe('a\\x1b[2J\\r\\n\\t\\x00\\x7f\\x9b\\x85b');
    expect(printable('\u202e\u202a\u2066\u2069\u200e\u200f\u061c\u2028')).toBe('\\u202e\\u202a\\u2066\\u2069\\u200e\\u200f\\u061c\\u2028');
    expect(printable('Ünïcödé → C1=CC=CC=C1 \\x1b 🧪')).toBe('Ünïcödé → C1=CC=CC=C1 \\x1b 🧪');
  });

  it('keeps a step error out of the live progress display`s own escape sequences', () => {
    const writes: string[] = [];
    const stream = { write: (text: string) => writes.push(text), isTTY: true, columns: 200, rows: 40 };
    const display = new ProgressDisplay(stream, 'live', styleFor(stream, { NO_COLOR: '1' }));
    const flowId = randomUUID();
    const events = [flowInitialized(), stepStarted(0), stepFailed(0, { message: 'x\x1b]0;title\x07\x1b[2J\rfake\u202e' })].map(
      (e, i) => ({ ...e, flowId, version: i + 1, seq: i + 1, schemaVersion: 1 }),
    ) as FlowEvent[];
    display.begin(replay(flowId, events.slice(0, 2), shapeOf()));
    display.onEvent(events[2]!, replay(flowId, events, shapeOf()));
    display.end();
    const frame = writes.at(-1) ?? '';
    expect(frame).toContain('x\\x1b]0;title\\x07\\x1b[2J fake\\u202e'); // CR and LF are a space on one line
    // What is left are the display's own sequences: go up, clear a line, clear below.
    // eslint-disable-next-line no-control-regex
    expect(frame.replace(/\x1b\[(\d+F|2K|J)/g, '')).not.toMatch(/[\x00-\x09\x0b-\x1f\u202e]/);
  });

  it('is applied to every table cell but the ones the CLI styled itself', () => {
    const style = styleFor({ write: () => true, isTTY: true }, {});
    const out = table(['A', 'B'], [['x\ny', new Rendered(style.green('ok'))]]);
    expect(out).toBe(`A     B\nx\\ny  ${style.green('ok')}\n`);
  });
});
