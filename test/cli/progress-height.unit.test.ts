import { chainNeeds } from '../../src/core/step-graph.js';
import { describe, expect, it } from 'vitest';
import type { FlowInstance, StepSlot, StepStatus } from '../../src/core/flow-state.js';
import { styleFor } from '../../src/cli/io.js';
import { ProgressDisplay } from '../../src/cli/render/progress.js';
import { stepWindow } from '../../src/cli/render/step-window.js';

function slot(stepId: string, status: StepStatus): StepSlot {
  return {
    stepId,
    status,
    fingerprint: null,
    outputs: [],
    startedAt: null,
    finishedAt: null,
    attempts: status === 'Pending' ? 0 : 1,
    retryCount: 0,
    notBefore: null,
    errors: [],
    cachedFrom: null,
  shards: null,
  };
}

/** A flow of `total` steps whose first `done` finished and whose next one is running. */
function flowAt(total: number, done: number): FlowInstance {
  const steps = Array.from({ length: total }, (_, i) => slot(`step-${i + 1}`, i < done ? 'FinishedOk' : i === done ? 'Running' : 'Pending'));
  return { id: 'f', name: 'tall', definitionHash: '0'.repeat(64), cursor: done, steps, status: 'running', needs: chainNeeds(total), order: steps.map((_, i) => i),
    flowFingerprint: null, onFailure: 'stop',
    policies: null, version: 1 + 2 * done };
}

const ESC = String.fromCharCode(0x1b);

/** What each write draws: its lines, and how far up it moved the cursor first. */
function frames(writes: readonly string[]): { up: number; lines: string[] }[] {
  return writes.map((w) => ({
    up: Number(new RegExp(`^${ESC}\\[(\\d+)F`).exec(w)?.[1] ?? 0),
    lines: w.split('\n').slice(0, -1),
  }));
}

describe('the live progress view on a short terminal', () => {
  it('never draws more lines than the terminal has, and keeps the running step in view', () => {
    const writes: string[] = [];
    const stream = { write: (text: string) => writes.push(text), isTTY: true, columns: 80, rows: 8 };
    const display = new ProgressDisplay(stream, 'live', styleFor(stream, { NO_COLOR: '1' }));
    display.begin(flowAt(30, 0));
    for (let done = 1; done < 30; done++) display.onEvent({ type: 'StepStarted' } as never, flowAt(30, done));
    display.end();
    const drawn = frames(writes);
    expect(drawn.length).toBeGreaterThan(30);
    for (const [i, frame] of drawn.entries()) {
      expect(frame.lines.length, `frame ${i}`).toBeLessThanOrEqual(7);
      expect(frame.up, `frame ${i}`).toBe(i === 0 ? 0 : drawn[i - 1]?.lines.length);
    }
    const last = drawn.at(-1)?.lines ?? [];
    expect(last.some((l) => l.includes('step-30') && l.includes('Running'))).toBe(true);
    expect(last.at(-1)).toContain('… 24 more step(s): 24 above, 0 below; 24 finished');
    const middle = drawn[15]?.lines ?? []; // 15 steps done, the 16th running
    expect(middle.some((l) => l.includes('[16/30] step-16') && l.includes('Running'))).toBe(true);
    expect(middle.some((l) => l.includes('[15/30] step-15') && l.includes('FinishedOk'))).toBe(true);
  });

  it('draws every step when they fit, or when the height is unknown', () => {
    for (const rows of [undefined, 40]) {
      const writes: string[] = [];
      const stream = { write: (text: string) => writes.push(text), isTTY: true, columns: 80, ...(rows === undefined ? {} : { rows }) };
      const display = new ProgressDisplay(stream, 'live', styleFor(stream, { NO_COLOR: '1' }));
      display.begin(flowAt(30, 3));
      display.end();
      expect(frames(writes).every((f) => f.lines.length === 30)).toBe(true);
    }
  });

  it('fits a window of steps around the focus', () => {
    expect(stepWindow(5, 0, 24)).toEqual({ start: 0, end: 5, summary: false });
    expect(stepWindow(30, 0, 8)).toEqual({ start: 0, end: 6, summary: true });
    expect(stepWindow(30, 10, 8)).toEqual({ start: 9, end: 15, summary: true });
    expect(stepWindow(30, 29, 8)).toEqual({ start: 24, end: 30, summary: true });
    expect(stepWindow(30, 10, 2)).toEqual({ start: 10, end: 11, summary: false });
    expect(stepWindow(30, 10, 1)).toEqual({ start: 10, end: 11, summary: false });
  });
});
