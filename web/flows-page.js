import { get } from './api.js';
import { badge, duration, fill, h, time } from './dom.js';

const STATUSES = ['pending', 'running', 'waiting', 'completed', 'failed', 'cancelled'];
const CLASSES = ['Transient', 'Permanent', 'Validation', 'Runtime'];
const OPEN = new Set(['pending', 'running', 'waiting']);
const PAGE = 50;

/**
 * The flows page: one page of `GET /api/flows`, filtered, sorted and paged by the server (status, name,
 * start date range, error class; newest, oldest or by name; `after` the last flow shown), each row
 * completed by `GET /api/flows/<id>` (steps done/total, errors by class).
 */
export async function flowsPage(main) {
  const params = new URLSearchParams(location.search);
  const state = {
    status: params.get('status') ?? '',
    name: params.get('name') ?? '',
    errorClass: params.get('class') ?? '',
    since: params.get('since') ?? '',
    until: params.get('until') ?? '',
    sort: params.get('sort') ?? 'newest',
    after: params.get('after') ?? '',
  };
  const details = new Map();
  let flows = [];

  const select = (name, value, options) =>
    h('select', { name, id: `filter-${name}` }, ...options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)));
  const form = h(
    'form',
    { class: 'filters', id: 'flow-filters' },
    h('label', {}, 'Status ', select('status', state.status, [['', 'any'], ...STATUSES.map((s) => [s, s])])),
    h('label', {}, 'Name ', h('input', { name: 'name', id: 'filter-name', value: state.name, placeholder: 'exact name' })),
    h('label', {}, 'Errors of class ', select('class', state.errorClass, [['', 'any'], ...CLASSES.map((c) => [c, c])])),
    h('label', {}, 'Started from ', h('input', { name: 'since', id: 'filter-since', type: 'date', value: state.since })),
    h('label', {}, 'to ', h('input', { name: 'until', id: 'filter-until', type: 'date', value: state.until })),
    h('label', {}, 'Sort ', select('sort', state.sort, [['newest', 'newest first'], ['oldest', 'oldest first'], ['name', 'by name']])),
    h('button', { type: 'submit' }, 'Apply'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const next = new URLSearchParams();
    for (const [key, value] of data) if (value !== '' && !(key === 'sort' && value === 'newest')) next.set(key, String(value));
    location.search = next.toString();
  });
  form.addEventListener('change', (event) => {
    if (event.target.tagName === 'SELECT') form.requestSubmit();
  });
  const body = h('tbody');
  const count = h('p', { class: 'muted', id: 'flows-count' });
  const pager = h('div', { class: 'pager' });
  fill(
    main,
    h('h1', {}, 'Flows'),
    form,
    count,
    h(
      'table',
      { class: 'grid', id: 'flows' },
      h('thead', {}, h('tr', {}, ...['Flow', 'Status', 'Started', 'Finished', 'Duration', 'Steps', 'Errors'].map((t) => h('th', {}, t)))),
      body,
    ),
    pager,
  );

  const load = async () => {
    const query = new URLSearchParams({ limit: String(PAGE) });
    for (const [key, value] of [['status', state.status], ['name', state.name], ['class', state.errorClass], ['after', state.after]])
      if (value !== '') query.set(key, value);
    if (state.since !== '') query.set('since', state.since);
    // The end date is included: the range stops at the next midnight.
    if (state.until !== '') query.set('until', new Date(Date.parse(state.until) + 86_400_000).toISOString());
    if (state.sort !== 'newest') query.set('sort', state.sort);
    try {
      flows = await get(`/api/flows?${query}`);
    } catch (error) {
      flows = [];
      fill(count, h('span', { class: 'error-text' }, error.message));
      fill(body);
      return;
    }
    await Promise.all(flows.map((f) => detail(f.flowId, f.version)));
    render();
  };
  const detail = async (flowId, version) => {
    const known = details.get(flowId);
    if (known !== undefined && known.version === version) return;
    try {
      details.set(flowId, { version, report: await get(`/api/flows/${encodeURIComponent(flowId)}`) });
    } catch {
      details.set(flowId, { version, report: null });
    }
  };
  const render = () => {
    fill(count, flows.length === 0 ? 'No flows match.' : `${flows.length} flow(s) on this page${flows.length === PAGE ? ', more on the next' : ''}`);
    fill(
      body,
      flows.map((f) => {
        const report = details.get(f.flowId)?.report;
        const done = report ? report.steps.filter((s) => s.status === 'FinishedOk').length : null;
        const ended = !OPEN.has(f.status);
        return h(
          'tr',
          { 'data-flow-id': f.flowId, 'data-status': f.status },
          h('td', {}, h('a', { class: 'flow-name', href: `/flows/${encodeURIComponent(f.flowId)}` }, f.name), h('div', { class: 'id' }, f.flowId)),
          h('td', {}, badge(f.status)),
          h('td', {}, time(f.createdAt)),
          h('td', {}, ended ? time(f.updatedAt) : ''),
          h('td', {}, duration((ended ? Date.parse(f.updatedAt) : Date.now()) - Date.parse(f.createdAt))),
          h('td', { class: 'steps' }, report ? `${done}/${report.steps.length}` : ''),
          h('td', { class: 'errors' }, report ? errorCounts(report.errors) : ''),
        );
      }),
    );
    fill(
      pager,
      state.after === '' ? null : h('a', { href: withParams({ after: null }) }, 'First page'),
      flows.length === PAGE ? h('a', { id: 'next-page', href: withParams({ after: flows[flows.length - 1].flowId }) }, 'Next page') : null,
    );
  };
  await load();
  return async () => load();
}

export function errorCounts(errors) {
  if (errors.total === 0) return h('span', { class: 'muted' }, '0');
  return Object.entries(errors.byClass)
    .filter(([, n]) => n > 0)
    .map(([cls, n]) => h('span', { class: `class class-${cls.toLowerCase()}`, title: cls }, `${n} ${cls}`));
}

function withParams(changes) {
  const params = new URLSearchParams(location.search);
  for (const [key, value] of Object.entries(changes)) {
    if (value === null) params.delete(key);
    else params.set(key, value);
  }
  const text = params.toString();
  return text === '' ? '/' : `/?${text}`;
}
