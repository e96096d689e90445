import { get } from './api.js';
import { fill, h, time } from './dom.js';

const CLASSES = ['Transient', 'Permanent', 'Validation', 'Runtime'];
const PAGE = 100;

/** The errors page: `GET /api/errors` (every flow's failed attempts, newest first) with its filters and paging. */
export async function errorsPage(main) {
  const params = new URLSearchParams(location.search);
  const value = (key) => params.get(key) ?? '';
  const form = h(
    'form',
    { class: 'filters', id: 'error-filters' },
    h('label', {}, 'Class ', h('select', { name: 'class' }, h('option', { value: '' }, 'any'), CLASSES.map((c) => h('option', { value: c, selected: c === value('class') }, c)))),
    h('label', {}, 'Code ', h('input', { name: 'code', value: value('code'), placeholder: 'e.g. WORKER_LOST' })),
    h('label', {}, 'Step ', h('input', { name: 'step', value: value('step') })),
    h('label', {}, 'Flow name ', h('input', { name: 'flow', value: value('flow') })),
    h('label', {}, 'From ', h('input', { name: 'since', type: 'date', value: value('since') })),
    h('label', {}, 'to ', h('input', { name: 'until', type: 'date', value: value('until') })),
    h('button', { type: 'submit' }, 'Apply'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const [key, v] of new FormData(form)) if (v !== '') next.set(key, String(v));
    location.search = next.toString();
  });
  const body = h('tbody');
  const note = h('p', { class: 'muted' });
  const pager = h('div', { class: 'pager' });
  fill(
    main,
    h('h1', {}, 'Errors'),
    form,
    note,
    h(
      'table',
      { class: 'grid', id: 'errors' },
      h('thead', {}, h('tr', {}, ...['Time', 'Flow', 'Step', 'Shard', 'Attempt', 'Class', 'Code', 'Retries', 'Message'].map((t) => h('th', {}, t)))),
      body,
    ),
    pager,
  );
  const load = async () => {
    const query = new URLSearchParams({ limit: String(PAGE) });
    for (const key of ['class', 'code', 'step', 'flow', 'before']) if (value(key) !== '') query.set(key, value(key));
    if (value('since') !== '') query.set('since', value('since'));
    if (value('until') !== '') query.set('until', new Date(Date.parse(value('until')) + 86_400_000).toISOString());
    let rows;
    try {
      rows = await get(`/api/errors?${query}`);
    } catch (error) {
      fill(note, error.message);
      return;
    }
    fill(note, rows.length === 0 ? 'No failed attempt matches.' : `${rows.length} failed attempt(s), newest first`);
    fill(
      body,
      rows.map((e) =>
        h(
          'tr',
          { class: `error-row class-${e.errorClass.toLowerCase()}` },
          h('td', {}, time(e.timestamp)),
          h('td', {}, h('a', { href: `/flows/${encodeURIComponent(e.flowId)}` }, e.flowName === '' ? e.flowId : e.flowName)),
          h('td', {}, e.stepId),
          h('td', {}, e.details.shard && typeof e.details.shard === 'object' ? `${e.details.shard.index}/${e.details.shard.count}` : ''),
          h('td', {}, String(e.attemptNumber)),
          h('td', {}, h('span', { class: `class class-${e.errorClass.toLowerCase()}` }, e.errorClass)),
          h('td', {}, typeof e.details.error_code === 'string' ? e.details.error_code : ''),
          h('td', {}, `${e.retryCount}/${e.maxRetries}`),
          h('td', { class: 'message' }, e.errorMessage),
        ),
      ),
    );
    fill(
      pager,
      value('before') === '' ? null : h('a', { href: pageHref({ before: null }) }, 'Newest'),
      rows.length === PAGE ? h('a', { href: pageHref({ before: String(rows[rows.length - 1].id) }) }, 'Older') : null,
    );
  };
  await load();
  return async () => load();
}

function pageHref(changes) {
  const params = new URLSearchParams(location.search);
  for (const [key, v] of Object.entries(changes)) {
    if (v === null) params.delete(key);
    else params.set(key, v);
  }
  const text = params.toString();
  return text === '' ? '/errors' : `/errors?${text}`;
}
