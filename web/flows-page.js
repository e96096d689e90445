import { get } from './api.js';
import { badge, duration, fill, h, time } from './dom.js';

const STATUSES = ['pending', 'running', 'waiting', 'completed', 'failed', 'cancelled'];
const CLASSES = ['Transient', 'Permanent', 'Validation', 'Runtime'];
const OPEN = new Set(['pending', 'running', 'waiting']);
const PAGE = 50;

/**
 * The flows page: one page of `GET /api/flows` (status, name, paging by `after` on the server),
 * each row completed by `GET /api/flows/<id>` (steps done/total, errors by class). Time range,
 * error class and sort apply to the page shown.
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
    h('label', {}, 'Created from ', h('input', { name: 'since', type: 'date', value: state.since })),
    h('label', {}, 'to ', h('input', { name: 'until', type: 'date', value: state.until })),
    h('label', {}, 'Sort ', select('sort', state.sort, [['newest', 'newest first'], ['oldest', 'oldest first'], ['name', 'name'], ['duration', 'longest first']])),
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
    if (state.status !== '') query.set('status', state.status);
    if (state.name !== '') query.set('name', state.name);
    if (state.after !== '') query.set('after', state.after);
    flows = await get(`/api/flows?${query}`);
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
  const shown = () => {
    const since = state.since === '' ? -Infinity : Date.parse(state.since);
    const until = state.until === '' ? Infinity : Date.parse(state.until) + 86_400_000;
    const rows = flows.filter((f) => {
      const created = Date.parse(f.createdAt);
      if (created < since || created >= until) return false;
      if (state.errorClass === '') return true;
      return (details.get(f.flowId)?.report?.errors.byClass[state.errorClass] ?? 0) > 0;
    });
    const span = (f) => (OPEN.has(f.status) ? Date.now() : Date.parse(f.updatedAt)) - Date.parse(f.createdAt);
    if (state.sort === 'oldest') rows.reverse();
    else if (state.sort === 'name') rows.sort((a, b) => a.name.localeCompare(b.name));
    else if (state.sort === 'duration') rows.sort((a, b) => span(b) - span(a));
    return rows;
  };
  const render = () => {
    const rows = shown();
    fill(count, flows.length === 0 ? 'No flows match.' : `${rows.length} of the ${flows.length} flows of this page`);
    fill(
      body,
      rows.map((f) => {
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
