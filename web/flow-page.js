import { ApiError, get, post, token } from './api.js';
import { badge, duration, fill, h, time } from './dom.js';
import { errorCounts } from './flows-page.js';
import { flowGraph } from './flow-graph.js';
import { toast } from './toast.js';

/** Events shown at first on a long log; the rest on demand. */
const EVENTS_SHOWN = 500;

/**
 * A flow's page: `status`, `errors` and `events` of the API drawn as its steps, error timeline, event
 * log and artifacts, with the actions (retry, cancel, resume) when the server takes them.
 */
export async function flowPage(main, flowId, config) {
  const id = encodeURIComponent(flowId);
  const head = h('section', { id: 'flow-head' });
  const actions = h('div', { class: 'actions', id: 'flow-actions' });
  const steps = h('tbody');
  const timeline = h('tbody');
  const events = h('tbody');
  const more = h('div', { class: 'pager' });
  const artifacts = h('div', { id: 'artifacts' });
  const preview = h('div', { id: 'artifact-preview' });
  const graph = flowGraph(flowId);
  let showAll = false;
  fill(
    main,
    head,
    actions,
    h('h2', {}, 'Steps'),
    h('table', { class: 'grid', id: 'steps' }, h('thead', {}, h('tr', {}, ...['Step', 'Status', 'Attempts', 'Retries', 'Duration', 'Cache', 'Shards', 'Errors', ''].map((t) => h('th', {}, t)))), steps),
    h('h2', {}, 'Graph'),
    graph.element,
    h('h2', {}, 'Error timeline'),
    h(
      'table',
      { class: 'grid', id: 'error-timeline' },
      h('thead', {}, h('tr', {}, ...['Time', 'Step', 'Shard', 'Attempt', 'Class', 'Code', 'Message', 'Led to'].map((t) => h('th', {}, t)))),
      timeline,
    ),
    h('h2', {}, 'Artifacts'),
    artifacts,
    preview,
    h('h2', {}, 'Event log'),
    h('table', { class: 'grid compact', id: 'events' }, h('thead', {}, h('tr', {}, ...['#', 'Time', 'Type', 'Step', 'Attempt', 'Detail'].map((t) => h('th', {}, t)))), events),
    more,
  );

  const act = async (label, path, body) => {
    try {
      await post(`/api/flows/${id}/${path}`, body);
      toast(label);
      await load();
      return true;
    } catch (error) {
      toast(error instanceof ApiError ? error.message : String(error), 'refused', error instanceof ApiError ? error.next : null);
      return false;
    }
  };
  const retry = async (stepId) => {
    if (!(await act(`Retry of step ${stepId} scheduled.`, 'retry', { stepId }))) return;
    // The embedded database is held by this server alone: nothing else would run the retry.
    if (config.store === 'pglite') await act('Running the flow here.', 'resume');
  };

  let lastVersion = -1;
  const load = async () => {
    let report;
    let log;
    let errors;
    try {
      [report, log, errors] = await Promise.all([get(`/api/flows/${id}`), get(`/api/flows/${id}/events`), get(`/api/flows/${id}/errors`)]);
    } catch (error) {
      fill(main, h('h1', {}, 'Flow not shown'), h('p', { class: 'error-text' }, error.message), error.next ? h('p', {}, `Next: ${error.next}`) : null);
      return;
    }
    lastVersion = log.length;
    const init = log[0];
    const ended = log.find((e) => e.type === 'FlowCompleted' || e.type === 'FlowCancelled');
    const last = log[log.length - 1];
    const open = report.status === 'pending' || report.status === 'running' || report.status === 'waiting';
    fill(
      head,
      h('h1', {}, h('span', { id: 'flow-name' }, init.flowName), ' ', badge(report.status)),
      h(
        'dl',
        { class: 'facts' },
        fact('Flow id', flowId),
        fact('Started', time(init.ts)),
        fact('Last event', `${time(last.ts)} (${last.type})`),
        fact('Duration', duration((ended !== undefined ? Date.parse(ended.ts) : open ? Date.now() : Date.parse(last.ts)) - Date.parse(init.ts))),
        fact('Flow fingerprint', report.flowFingerprint ?? '—'),
        fact('Definition hash', init.definitionHash),
        typeof init.metadata?.flowFile === 'string' ? fact('Flow file', init.metadata.flowFile) : null,
        fact('Errors', errorCounts(report.errors)),
      ),
    );
    const writable = !config.readOnly;
    fill(
      actions,
      writable && open ? h('button', { id: 'resume', onclick: () => void act('Running the flow here.', 'resume') }, 'Resume here') : null,
      writable && report.status !== 'completed' && report.status !== 'cancelled'
        ? h('button', { id: 'cancel', class: 'danger', onclick: () => void act('Flow cancelled: no step starts again.', 'cancel', { reason: 'cancelled from chemflow ui' }) }, 'Cancel flow')
        : null,
      config.readOnly ? h('span', { class: 'muted' }, 'Read-only server: no actions.') : null,
    );
    const timing = stepTimes(log);
    fill(
      steps,
      report.steps.map((s) =>
        h(
          'tr',
          { 'data-step': s.stepId, 'data-status': s.status },
          h('td', {}, s.stepId),
          h('td', {}, badge(s.status)),
          h('td', {}, String(s.attempts)),
          h('td', {}, String(s.retryCount)),
          h('td', {}, duration(timing.get(s.stepId))),
          h('td', {}, s.cached ? h('span', { title: `from flow ${s.cachedFrom?.flowId} step ${s.cachedFrom?.stepId}` }, 'cache hit') : ''),
          h('td', {}, s.shards === null ? '' : shardBar(s.shards)),
          h('td', {}, String(errors.filter((e) => e.stepId === s.stepId).length)),
          h('td', {}, writable && s.status === 'Failed' ? h('button', { class: 'retry', 'data-step': s.stepId, onclick: () => void retry(s.stepId) }, 'Retry') : ''),
        ),
      ),
    );
    const ledTo = retriesLedTo(log);
    const rows = [...errors].sort((a, b) => a.timestamp.localeCompare(b.timestamp));
    fill(
      timeline,
      rows.length === 0
        ? h('tr', {}, h('td', { colspan: 8, class: 'muted' }, 'No failed attempt.'))
        : rows.map((e) => {
            const retryIndex = ledTo.get(attemptKey(e.stepId, e.shard, e.attemptNumber));
            return h(
              'tr',
              { class: `error-row class-${e.errorClass.toLowerCase()}` },
              h('td', {}, time(e.timestamp)),
              h('td', {}, e.stepId),
              h('td', {}, e.shard === null ? '' : `${e.shard.index}/${e.shard.count}`),
              h('td', {}, String(e.attemptNumber)),
              h('td', {}, h('span', { class: `class class-${e.errorClass.toLowerCase()}` }, e.errorClass)),
              h('td', {}, typeof e.details.error_code === 'string' ? e.details.error_code : ''),
              h('td', { class: 'message' }, e.errorMessage),
              h('td', {}, retryIndex === undefined ? '' : `retry ${retryIndex}`),
            );
          }),
    );
    graph.show(log.length, report);
    renderArtifacts(log);
    renderEvents(log);
  };

  const renderEvents = (log) => {
    const shown = showAll ? log : log.slice(-EVENTS_SHOWN);
    fill(
      events,
      shown.map((e) =>
        h('tr', {}, h('td', {}, String(e.version)), h('td', {}, time(e.ts)), h('td', {}, e.type), h('td', {}, e.stepId ?? ''), h('td', {}, e.attempt === undefined ? '' : String(e.attempt)), h('td', { class: 'message' }, eventDetail(e))),
      ),
    );
    fill(
      more,
      shown.length < log.length
        ? h('button', { onclick: () => { showAll = true; renderEvents(log); } }, `Show all ${log.length} events (the last ${shown.length} are shown)`)
        : null,
    );
  };

  const renderArtifacts = (log) => {
    const finished = log.filter((e) => e.type === 'StepFinished' && e.shard === undefined);
    fill(
      artifacts,
      finished.length === 0
        ? h('p', { class: 'muted' }, 'No step has finished yet.')
        : h(
            'table',
            { class: 'grid compact' },
            h('thead', {}, h('tr', {}, h('th', {}, 'Step'), h('th', {}, 'Artifact'), h('th', {}, ''))),
            h(
              'tbody',
              {},
              finished.flatMap((e) =>
                e.outputs.map((hash) =>
                  h('tr', {}, h('td', {}, e.stepId), h('td', { class: 'hash' }, hash), h('td', {}, h('button', { class: 'preview', onclick: () => void showArtifact(hash) }, 'Preview'))),
                ),
              ),
            ),
          ),
    );
  };

  const showArtifact = async (hash) => {
    try {
      const artifact = await get(`/api/artifacts/${hash}`);
      fill(preview, artifactPreview(artifact));
    } catch (error) {
      fill(preview, h('p', { class: 'error-text' }, error.message));
    }
  };

  await load();
  return async (ids) => {
    if (ids.length === 0 || ids.includes(flowId) || lastVersion < 0) await load();
  };
}

function fact(label, value) {
  return [h('dt', {}, label), h('dd', {}, value)];
}

function shardBar(shards) {
  return h(
    'span',
    { class: 'shards' },
    h('progress', { max: shards.total, value: shards.finished }),
    ` ${shards.finished}/${shards.total}${shards.failed > 0 ? `, ${shards.failed} failed` : ''}${shards.running > 0 ? `, ${shards.running} running` : ''}`,
  );
}

/** Each step's time from its last start (not a shard's) to its end, or to now while it runs. */
function stepTimes(log) {
  const started = new Map();
  const spans = new Map();
  for (const e of log) {
    if (e.shard !== undefined) continue;
    if (e.type === 'StepStarted') {
      started.set(e.stepId, Date.parse(e.ts));
      spans.set(e.stepId, Date.now() - Date.parse(e.ts));
    } else if ((e.type === 'StepFinished' || e.type === 'StepFailed') && started.has(e.stepId)) spans.set(e.stepId, Date.parse(e.ts) - started.get(e.stepId));
  }
  return spans;
}

function attemptKey(stepId, shard, attempt) {
  return `${stepId}|${shard === null || shard === undefined ? '' : shard.index}|${attempt}`;
}

/** The retry each failed attempt led to: the next RetryScheduled of the same step (and shard). */
function retriesLedTo(log) {
  const led = new Map();
  const waiting = new Map();
  for (const e of log) {
    const unit = `${e.stepId}|${e.shard === undefined ? '' : e.shard.index}`;
    if (e.type === 'StepFailed') waiting.set(unit, attemptKey(e.stepId, e.shard, e.attempt));
    else if (e.type === 'RetryScheduled') {
      const key = waiting.get(unit) ?? waiting.get(`${e.stepId}|`);
      if (key !== undefined) led.set(key, e.retryIndex);
      waiting.delete(unit);
    }
  }
  return led;
}

function eventDetail(e) {
  switch (e.type) {
    case 'FlowInitialized':
      // A list as its chain, a graph as each step with what it needs, as `chemflow events` prints it.
      return `${e.flowName}: ${e.needs === undefined ? e.stepIds.join(' → ') : e.stepIds.map((id, i) => ((e.needs[i] ?? []).length === 0 ? id : `${id} ← ${e.needs[i].map((n) => e.stepIds[n]).join(', ')}`)).join('; ')}`;
    case 'StepSkipped':
      return e.reason === 'condition' ? 'its condition is false' : 'every step it needs was skipped';
    case 'StepStarted':
      return e.shardCount !== undefined && e.shard === undefined ? `split into ${e.shardCount} shard(s)` : e.shard ? `shard ${e.shard.index}/${e.shard.count}` : '';
    case 'StepSignal':
      return `${e.name} ${JSON.stringify(e.data)}`;
    case 'StepFinished':
      return `${e.outputs.length} output(s)${e.cachedFrom ? `, cached from flow ${e.cachedFrom.flowId}` : ''}`;
    case 'StepFailed':
      return `${e.errorClass} ${e.error.code}: ${e.error.message}`;
    case 'RetryScheduled':
      return `retry ${e.retryIndex}${e.reason === null ? '' : ` (${e.reason})`}`;
    case 'FlowCompleted':
      return `flow fingerprint ${e.flowFingerprint}`;
    case 'FlowCancelled':
      return e.reason ?? '';
    default:
      return '';
  }
}

/** An artifact's preview: rows of objects as a table, any other JSON as text; batches and files described. */
function artifactPreview(a) {
  if (a === null) return h('p', {}, 'No such artifact.');
  const title = h('h3', {}, `${a.kind} `, h('span', { class: 'hash' }, a.hash));
  if (a.form === 'file') {
    const href = `/api/artifacts/${a.hash}/download${token === null ? '' : `?token=${encodeURIComponent(token)}`}`;
    return [title, h('p', {}, `File ${a.name}, ${a.size} bytes, sha256 ${a.hash} `, h('a', { href, download: a.name, class: 'download' }, 'Download'))];
  }
  if (a.form === 'batch') return [title, h('p', {}, `Batch of ${a.rowCount} rows in ${a.chunks} chunk(s).`)];
  const rows = Array.isArray(a.payload) ? a.payload : null;
  if (rows !== null && rows.length > 0 && rows.every((r) => r !== null && typeof r === 'object' && !Array.isArray(r))) {
    const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
    return [
      title,
      h('p', { class: 'muted' }, `${rows.length}${a.rows > rows.length ? ` of ${a.rows}` : ''} row(s)`),
      h(
        'table',
        { class: 'grid compact' },
        h('thead', {}, h('tr', {}, columns.map((c) => h('th', {}, c)))),
        h('tbody', {}, rows.map((r) => h('tr', {}, columns.map((c) => h('td', {}, cell(r[c])))))),
      ),
    ];
  }
  return [title, h('pre', { class: 'json' }, JSON.stringify(a.payload, null, 2))];
}

function cell(value) {
  if (value === undefined || value === null) return '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}
