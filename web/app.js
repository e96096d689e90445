import { get, live } from './api.js';
import { fill } from './dom.js';
import { errorsPage } from './errors-page.js';
import { flowPage } from './flow-page.js';
import { flowsPage } from './flows-page.js';

const main = document.getElementById('main');
const liveBadge = document.getElementById('live');
const path = location.pathname;

/** One page per address: `/`, `/flows/<flowId>`, `/errors`. Each returns `refresh(changedIds)`. */
async function start() {
  const config = await get('/api/config').catch(() => ({ readOnly: true, store: 'unknown' }));
  const flowMatch = /^\/flows\/([^/]+)$/.exec(path);
  let refresh;
  if (flowMatch !== null) refresh = await flowPage(main, decodeURIComponent(flowMatch[1]), config);
  else if (path === '/errors') {
    document.getElementById('nav-errors').classList.add('current');
    refresh = await errorsPage(main);
  } else {
    document.getElementById('nav-flows').classList.add('current');
    refresh = await flowsPage(main);
  }
  // Changes arrive in bursts while a flow runs: at most one refresh in flight, one more queued.
  let busy = false;
  let pending = null;
  const run = async (ids) => {
    if (busy) {
      pending = [...(pending ?? []), ...ids];
      return;
    }
    busy = true;
    try {
      await refresh(ids);
    } finally {
      busy = false;
      if (pending !== null) {
        const next = pending;
        pending = null;
        void run(next);
      }
    }
  };
  live(
    (ids) => void run(ids),
    (state) => {
      fill(liveBadge, state === 'live' ? 'live' : 'offline');
      liveBadge.className = `live ${state}`;
    },
  );
}

start().catch((error) => fill(main, String(error?.message ?? error)));
