import type { FlowEvent } from '../../core/events.js';
import type { FlowInstance, StepSlot } from '../../core/flow-state.js';
import type { OutStream, Style } from '../io.js';
import { shardCounts } from '../flow-report.js';
import { printable } from './printable.js';
import { shardLabel, shardProgress } from './shards.js';
import { stepWindow } from './step-window.js';
import { oneLine } from './table.js';

export type ProgressMode = 'live' | 'lines' | 'off';

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * Shows a running flow: on a terminal, one line per step redrawn in place (status, attempt, retries,
 * shards done of a mapped step, time); elsewhere, one plain line per step event (a shard's outcome
 * included, not its start). Written to stderr so stdout keeps the result.
 */
export class ProgressDisplay {
  private flow: FlowInstance | undefined;
  private drawnLines = 0;
  private frame = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt = new Map<string, number>();
  private readonly tookMs = new Map<string, number>();
  /** `note` signals (`ctx.emit('note', text)`): what steps want the user to read once the run ends. */
  readonly notes: string[] = [];

  constructor(
    private readonly stream: OutStream,
    private readonly mode: ProgressMode,
    private readonly style: Style,
  ) {}

  /** Shows the flow as it is before this process drives it (e.g. on resume). */
  begin(flow: FlowInstance): void {
    this.flow = flow;
    if (this.mode === 'live') {
      this.draw();
      this.timer = setInterval(() => {
        this.frame += 1;
        this.draw();
      }, 100);
      this.timer.unref();
    }
  }

  readonly onEvent = (event: FlowEvent, flow: FlowInstance): void => {
    this.flow = flow;
    if (event.type === 'StepSignal' && event.name === 'note' && typeof event.data === 'string')
      this.notes.push(`${event.stepId}${event.shard === undefined ? '' : ` ${shardLabel(event.shard)}`}: ${oneLine(event.data, 300)}`);
    // The step's clock starts with the step, not again with each of its shards.
    if (event.type === 'StepStarted' && event.shard === undefined) this.startedAt.set(event.stepId, Date.now());
    if (event.type === 'StepFinished' || event.type === 'StepFailed') {
      const started = this.startedAt.get(event.stepId);
      if (started !== undefined) this.tookMs.set(event.stepId, Date.now() - started);
    }
    if (this.mode === 'live') this.draw();
    else if (this.mode === 'lines') this.line(event, flow);
  };

  /** Stops redrawing; the last frame stays on screen. */
  end(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.mode === 'live') this.draw();
  }

  private draw(): void {
    const flow = this.flow;
    if (flow === undefined) return;
    // A line as wide as the terminal would wrap onto a second one that the next redraw does not clear.
    const width = Math.max(4, (this.stream.columns ?? 100) - 1);
    const total = flow.steps.length;
    const { start, end, summary } = stepWindow(total, Math.min(flow.cursor, total - 1), this.stream.rows);
    // Plain text is cut, never a styled line: a cut must not fall inside an escape sequence.
    const lines = flow.steps.slice(start, end).map((slot, i) => `${this.icon(slot)} ${printable(this.stepText(slot, start + i, total)).slice(0, width - 2)}`);
    if (summary) lines.push(this.style.dim(hiddenSteps(flow.steps, start, end).slice(0, width)));
    const up = this.drawnLines > 0 ? `\x1b[${this.drawnLines}F` : '';
    // \x1b[J clears what a taller earlier frame left below this one (the terminal was made shorter).
    this.stream.write(`${up}${lines.map((l) => `\x1b[2K${l}\n`).join('')}\x1b[J`);
    this.drawnLines = lines.length;
  }

  private icon(slot: StepSlot): string {
    const s = this.style;
    if (slot.status === 'FinishedOk') return s.green('✔');
    if (slot.status === 'Failed') return s.red('✖');
    if (slot.status === 'Running') return s.yellow(SPINNER[this.frame % SPINNER.length] ?? '*');
    if (slot.status === 'Skipped') return s.dim('–');
    return slot.notBefore !== null ? s.yellow('↻') : s.dim('·');
  }

  /** Plain text, so it can be escaped and cut to the terminal's width without breaking an escape sequence. */
  private stepText(slot: StepSlot, index: number, total: number): string {
    const parts = [`[${index + 1}/${total}] ${slot.stepId.padEnd(16)} ${slot.status.padEnd(10)}`];
    if (slot.cachedFrom !== null) parts.push(`cached from flow ${slot.cachedFrom.flowId.slice(0, 8)} (${slot.cachedFrom.stepId})`);
    else if (slot.attempts > 0) parts.push(`attempt ${slot.attempts}`);
    if (slot.retryCount > 0) parts.push(`retries ${slot.retryCount}`);
    // A finished step's shards are all done: the count only tells something while the step is open.
    const shards = shardCounts(slot);
    if (shards !== null && slot.status !== 'FinishedOk') parts.push(shardProgress(shards));
    const started = this.startedAt.get(slot.stepId);
    const took = this.tookMs.get(slot.stepId);
    if (slot.status === 'Running' && started !== undefined) parts.push(seconds(Date.now() - started));
    else if (slot.status !== 'Pending' && took !== undefined) parts.push(seconds(took));
    if (slot.status === 'Pending' && slot.notBefore !== null) {
      const wait = Date.parse(slot.notBefore) - Date.now();
      parts.push(wait > 0 ? `retry in ${seconds(wait)}` : 'retry due');
    }
    const lastError = slot.errors[slot.errors.length - 1];
    if (lastError !== undefined && slot.status !== 'FinishedOk') parts.push(oneLine(`${lastError.errorClass}: ${lastError.message}`, 60));
    return parts.join('  ');
  }

  private line(event: FlowEvent, flow: FlowInstance): void {
    if (!('stepId' in event) || (event.type === 'StepSignal' && event.name !== 'note')) return;
    const index = flow.steps.findIndex((s) => s.stepId === event.stepId);
    const shard = 'shard' in event ? event.shard : undefined;
    // A sharded step's start already says how many shards there are; a line per shard start would only
    // double the output of a big map step.
    if (event.type === 'StepStarted' && shard !== undefined) return;
    const where = `[${index + 1}/${flow.steps.length}] ${event.stepId}${shard === undefined ? '' : ` ${shardLabel(shard)}`}:`;
    const took = this.tookMs.get(event.stepId);
    let text: string;
    switch (event.type) {
      case 'StepStarted': {
        // Branches of a graph run at the same time: a start says which steps run now (a list runs one).
        const running = flow.steps.filter((s) => s.status === 'Running').map((s) => s.stepId);
        text = `attempt ${event.attempt} started${event.shardCount === undefined ? '' : ` in ${event.shardCount} shard(s)`}${running.length > 1 ? ` (running now: ${running.join(', ')})` : ''}`;
        break;
      }
      case 'StepFinished': {
        const slot = flow.steps[index];
        const counts = shard === undefined || slot === undefined ? null : shardCounts(slot);
        text =
          event.cachedFrom != null
            ? `taken from the cache (flow ${event.cachedFrom.flowId}, step ${event.cachedFrom.stepId}), not run`
            : counts !== null
              ? `finished on attempt ${event.attempt} (${shardProgress(counts)})`
              : `finished on attempt ${event.attempt}${took === undefined ? '' : ` (${seconds(took)})`}`;
        break;
      }
      case 'StepFailed':
        text = `attempt ${event.attempt} failed: ${event.errorClass} ${event.error.code}: ${oneLine(event.error.message, 160)}`;
        break;
      case 'StepSignal':
        text = oneLine(typeof event.data === 'string' ? event.data : JSON.stringify(event.data), 300);
        break;
      case 'RetryScheduled':
        text = `retry ${event.retryIndex} scheduled${event.delayMs > 0 ? ` in ${seconds(event.delayMs)}` : ''}${event.reason ? ` (${event.reason})` : ''}`;
        break;
      case 'StepSkipped':
        text = event.reason === 'condition' ? 'skipped: its condition is false' : 'skipped: every step it needs was skipped';
        break;
    }
    this.stream.write(`${printable(`${where} ${text}`)}\n`);
  }
}

/** One line for the steps outside the window: how many above and below, how many finished, which run. */
function hiddenSteps(steps: readonly StepSlot[], start: number, end: number): string {
  const hidden = [...steps.slice(0, start), ...steps.slice(end)];
  const finished = hidden.filter((s) => s.status === 'FinishedOk').length;
  const failed = hidden.filter((s) => s.status === 'Failed').length;
  const parts = [`… ${hidden.length} more step(s): ${start} above, ${steps.length - end} below; ${finished} finished`];
  if (failed > 0) parts.push(`${failed} failed`);
  // Branches of a graph run side by side: one running out of view is still named.
  const running = hidden.filter((s) => s.status === 'Running').map((s) => s.stepId);
  if (running.length > 0) parts.push(`running: ${running.join(', ')}`);
  return parts.join(', ');
}

function seconds(ms: number): string {
  return ms < 1000 ? `${Math.max(0, Math.round(ms))} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** Live redraws on a terminal, plain lines elsewhere, nothing for `--json` off a terminal or `--quiet`. */
export function progressMode(stream: OutStream, options: { json: boolean; quiet: boolean }, env: NodeJS.ProcessEnv): ProgressMode {
  if (options.quiet) return 'off';
  if (stream.isTTY === true && env.TERM !== 'dumb') return 'live';
  return options.json ? 'off' : 'lines';
}
