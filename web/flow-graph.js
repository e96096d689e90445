import { token } from './api.js';
import { h } from './dom.js';

const WORDS = { Pending: 'pending', Running: 'running', FinishedOk: 'finished', Failed: 'failed', Skipped: 'skipped' };

/**
 * The flow's steps as a graph: the picture the server draws (`GET /api/flows/<flowId>/graph.svg`, the
 * HTML report's renderer) shown as an image, so nothing of it is ever markup in this page. `show` is
 * called at every load of the page; the picture is fetched again only when the flow's log grew.
 */
export function flowGraph(flowId) {
  const image = h('img', { id: 'flow-graph', class: 'flow-graph', alt: '' });
  const element = h('div', { class: 'graph-frame' }, image);
  let shown = null;
  const show = (version, report) => {
    const src = `/api/flows/${encodeURIComponent(flowId)}/graph.svg?v=${version}${token === null ? '' : `&token=${encodeURIComponent(token)}`}`;
    if (src !== shown) {
      image.setAttribute('src', src);
      shown = src;
    }
    image.setAttribute('alt', describe(report.steps));
  };
  return { element, show };
}

/** What the picture says, in words: each step, its status, attempts and retries, and what it needs. */
function describe(steps) {
  const sentences = steps.map(
    (s) => `${s.stepId}: ${WORDS[s.status] ?? s.status}, ${s.attempts} attempt(s), ${s.retryCount} retry(ies)${s.needs.length === 0 ? '' : `, needs ${s.needs.join(', ')}`}.`,
  );
  return `The flow's steps as a graph. ${sentences.join(' ')}`;
}
