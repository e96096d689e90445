import { ApiError, get, post, token } from './api.js';
import { badge, duration, fill, h, time } from './dom.js';
import { errorCounts } from './flows-page.js';
import { flowGraph } from './flow-graph.js';
import { drawing } from './svg.js';
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
  const reportLink = h('p', { id: 'report-link' });
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
    reportLink,
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
          // A Pending step that needs a failed one says which: it starts only after a retry of them.
          h('td', {}, badge(s.status), s.blockedBy === undefined ? null : h('div', { class: 'blocked muted' }, `blocked by ${s.blockedBy.join(', ')}`)),
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
    renderReportLink(log);
    renderArtifacts(log);
    renderEvents(log);
  };

  // The report step records where it wrote its HTML page (a `report-written` signal); the server
  // serves that page after checking it is still the one written.
  const renderReportLink = (log) => {
    const written = log.filter((e) => e.type === 'StepSignal' && e.name === 'report-written' && typeof e.data?.html === 'string').pop();
    const href = `/api/flows/${id}/report${token === null ? '' : `?token=${encodeURIComponent(token)}`}`;
    fill(
      reportLink,
      written === undefined
        ? null
        : [h('a', { href, target: '_blank', rel: 'noopener', class: 'report' }, 'Open the HTML report'), ' ', h('span', { class: 'muted' }, `written by step ${written.stepId} to ${written.data.html}`)],
    );
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

/**
 * An artifact's preview: its molecules drawn (the server's RDKit drawings), rows of objects as a
 * table, any other JSON as text; a file's name, size and hash with a link that downloads it.
 */
function artifactPreview(a) {
  if (a === null) return h('p', {}, 'No such artifact.');
  const title = h('h3', {}, `${a.kind} `, h('span', { class: 'hash' }, a.hash));
  if (a.form === 'file') {
    const href = `/api/artifacts/${a.hash}/download${token === null ? '' : `?token=${encodeURIComponent(token)}`}`;
    return [
      title,
      h('dl', { class: 'facts file-facts' }, fact('File', a.name), fact('Size', `${bytes(a.size)} (${a.size} bytes)`), fact('SHA-256', a.hash)),
      h('p', {}, h('a', { href, download: a.name, class: 'download' }, `Download ${a.name}`)),
    ];
  }
  if (a.payload === undefined) return [title, header];
  const { rowsField, rows } = rowsOf(a.payload);
  const total = typeof a.rows === 'number' ? a.rows : rows?.length;
  const header =
    a.form === 'batch'
      ? [h('p', { class: 'muted' }, `Batch of ${a.rowCount} row(s) in ${a.chunks} chunk(s).`), a.problem ? h('p', { class: 'error-text' }, `Its rows cannot be shown: ${a.problem}`) : null]
      : null;
  const molecules = molecularDrawings(a.depictions ?? [], rows ?? [], total);
  if (rows !== null && rows.length > 0 && rows.every((r) => r !== null && typeof r === 'object' && !Array.isArray(r))) {
    const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
    const fields = rowsField === null ? null : Object.entries(a.payload).filter(([key]) => key !== rowsField);
    return [
      title,
      header,
      fields === null || fields.length === 0 ? null : h('dl', { class: 'facts' }, fields.map(([key, value]) => fact(key, cell(value)))),
      molecules,
      h('p', { class: 'muted' }, `${rows.length}${total > rows.length ? ` of ${total}` : ''} row(s)${rowsField === null ? '' : ` of ${rowsField}`}`),
      h(
        'table',
        { class: 'grid compact' },
        h('thead', {}, h('tr', {}, columns.map((c) => h('th', {}, c)))),
        h('tbody', {}, rows.map((r) => h('tr', {}, columns.map((c) => h('td', {}, cell(r[c])))))),
      ),
    ];
  }
  return [title, header, molecules, h('pre', { class: 'json' }, JSON.stringify(a.payload, null, 2))];
}

/** The list of rows of a payload: the payload itself, or its one array-valued field. */
function rowsOf(payload) {
  if (Array.isArray(payload)) return { rowsField: null, rows: payload };
  if (payload === null || typeof payload !== 'object') return { rowsField: null, rows: null };
  const lists = Object.keys(payload).filter((key) => Array.isArray(payload[key]));
  return lists.length === 1 ? { rowsField: lists[0], rows: payload[lists[0]] } : { rowsField: null, rows: null };
}

function molecularDrawings(depictions, rows, total) {
  if (depictions.length === 0) return null;
  return h(
    'div',
    { class: 'molecules' },
    h('p', { class: 'muted' }, `Structures of the first ${depictions.length} molecule(s)${total > depictions.length ? ` of ${total}` : ''}, drawn by RDKit`),
    h(
      'div',
      { class: 'molecule-grid' },
      depictions.map((d) => {
        const row = rows[d.row];
        const name = row !== null && typeof row === 'object' && typeof row.name === 'string' ? row.name : '';
        return h('figure', { class: 'molecule' }, drawing(d.svg), h('figcaption', {}, name === '' ? null : h('div', { class: 'molecule-name' }, name), h('div', { class: 'smiles' }, d.smiles)));
      }),
    ),
  );
}

/** A byte count as `512 B`, `12.3 kB`, `4.5 MB`. */
function bytes(n) {
  if (typeof n !== 'number') return '';
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(1)} GB`;
}

function cell(value) {
  if (value === undefined || value === null) return '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}
