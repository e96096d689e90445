import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { FlowEvent, NewFlowEvent } from '../../src/core/events.js';
import { replay } from '../../src/core/reducer.js';
import { MemoryFlowStore } from '../../src/index.js';
import type { CommandContext } from '../../src/cli/context.js';
import { eventsCommand } from '../../src/cli/commands/events.js';
import { styleFor } from '../../src/cli/io.js';
import { ProgressDisplay } from '../../src/cli/render/progress.js';
import { flowInitialized, hashOf, shapeOf, stepFinished, stepStarted } from '../helpers/events.js';

/** load, then score and report side by side (both need load): two branches running at once. */
function branches(): { flowId: string; written: NewFlowEvent[]; events: FlowEvent[] } {
  const flowId = randomUUID();
  const initialized = flowInitialized();
  const written: NewFlowEvent[] = [
    initialized.type === 'FlowInitialized' ? { ...initialized, needs: [[], [0], [0]] } : initialized,
    stepStarted(0),
    stepFinished(0, [hashOf('loaded')]),
    stepStarted(1),
    stepStarted(2),
    stepFinished(2, [hashOf('reported')]),
    stepFinished(1, [hashOf('scored')]),
  ];
  return { flowId, written, events: stored(flowId, written) };
}

function stored(flowId: string, written: readonly NewFlowEvent[]): FlowEvent[] {
  return written.map((e, i) => ({ ...e, flowId, version: i + 1, seq: i + 1, schemaVersion: 1 }));
}

function feed(display: ProgressDisplay, flowId: string, events: readonly FlowEvent[], upTo = events.length): void {
  display.begin(replay(flowId, events.slice(0, 1), shapeOf()));
  for (let i = 1; i < upTo; i++) display.onEvent(events[i]!, replay(flowId, events.slice(0, i + 1), shapeOf()));
}

describe('the branches of a graph in the progress display and the event log', () => {
  it('off a terminal, a start names the steps running now when branches run side by side', () => {
    const lines: string[] = [];
    const stream = { write: (text: string) => lines.push(text) };
    const display = new ProgressDisplay(stream, 'lines', styleFor(stream, {}));
    const { flowId, events } = branches();
    feed(display, flowId, events);
    display.end();
    expect(lines.filter((l) => l.includes('started'))).toEqual([
      '[1/3] load: attempt 1 started\n',
      '[2/3] score: attempt 1 started\n',
      '[3/3] report: attempt 1 started (running now: score, report)\n',
    ]);
  });

  it('on a short terminal, names a running step the window leaves out, and marks a skipped step apart from a pending one', () => {
    const writes: string[] = [];
    const stream = { write: (text: string) => writes.push(text), isTTY: true, columns: 120, rows: 3 };
    const display = new ProgressDisplay(stream, 'live', styleFor(stream, { NO_COLOR: '1' }));
    const { flowId, events } = branches();
    feed(display, flowId, events, 5);
    display.end();
    const frame = writes.at(-1)?.split('\n') ?? [];
    expect(frame.some((l) => l.includes('[2/3] score') && l.includes('Running'))).toBe(true);
    expect(frame.find((l) => l.includes('more step(s)'))).toContain('running: report');

    const skip: NewFlowEvent = { type: 'StepSkipped', ts: events[3]!.ts, stepIndex: 1, stepId: 'score', reason: 'condition', fingerprint: hashOf('skipped') };
    const skipped = replay(flowId, stored(flowId, [...branches().written.slice(0, 3), skip]), shapeOf());
    const lines: string[] = [];
    const tall = { write: (text: string) => lines.push(text), isTTY: true, columns: 120, rows: 20 };
    const view = new ProgressDisplay(tall, 'live', styleFor(tall, { NO_COLOR: '1' }));
    view.begin(skipped);
    view.end();
    const drawn = lines.at(-1)?.split('\n') ?? [];
    // Each line starts with the escape that clears it (4 characters), then the step's mark.
    const icon = (id: string): string => drawn.find((l) => l.includes(` ${id} `))?.slice(4, 5) ?? '';
    expect(skipped.steps[1]?.status).toBe('Skipped');
    expect(icon('score')).toBe('–');
    expect(icon('report')).toBe('·');
  });

  it('`events` gives each event its step, and the first one the graph, not a chain', async () => {
    const store = new MemoryFlowStore();
    const { flowId, written } = branches();
    await store.append(flowId, 0, written);
    const out: string[] = [];
    const ctx: CommandContext = { io: { stdout: { write: (t: string) => out.push(t) }, stderr: { write: () => true }, env: {}, cwd: process.cwd() }, db: '(memory)', store };
    expect(await eventsCommand(ctx, flowId, {})).toBe(0);
    const rows = out.join('').split('\n').slice(1, -1);
    expect(rows[0]).toMatch(/FlowInitialized\s+contract-flow: load; score ← load; report ← load$/);
    expect(rows.slice(1).map((r) => /Step\w+\s+(\w+)\s+1/.exec(r)?.[1])).toEqual(['load', 'load', 'score', 'report', 'report', 'score']);
  });
});
