// The page's side of the JSON API. The token comes from the address the server printed
// (`/?token=…`), is kept for this tab (sessionStorage) and is taken out of the address bar.

const KEY = 'chemflow-ui-token';

function takeToken() {
  const url = new URL(location.href);
  const given = url.searchParams.get('token');
  if (given !== null) {
    sessionStorage.setItem(KEY, given);
    url.searchParams.delete('token');
    history.replaceState(null, '', url.pathname + url.search + url.hash);
  }
  return sessionStorage.getItem(KEY);
}

export const token = takeToken();

function headers(extra = {}) {
  return token === null ? extra : { ...extra, authorization: `Bearer ${token}` };
}

/** An API error: the server's `{error: {code, message, next}}` and its HTTP status. */
export class ApiError extends Error {
  constructor(status, error) {
    super(error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = error?.code ?? 'HTTP';
    this.next = error?.next ?? null;
  }
}

async function answer(response) {
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body?.error);
  return body;
}

export async function get(path) {
  return answer(await fetch(path, { headers: headers(), cache: 'no-store' }));
}

export async function post(path, body = {}) {
  return answer(await fetch(path, { method: 'POST', headers: headers({ 'content-type': 'application/json' }), body: JSON.stringify(body) }));
}

/** Calls `onChange(flowIds)` when flows change (server-sent events); `onState` gets 'live' or 'offline'. */
export function live(onChange, onState) {
  const source = new EventSource(token === null ? '/api/live' : `/api/live?token=${encodeURIComponent(token)}`);
  source.addEventListener('open', () => onState('live'));
  source.addEventListener('error', () => onState('offline'));
  source.addEventListener('change', (event) => {
    try {
      onChange(JSON.parse(event.data));
    } catch {
      onChange([]);
    }
  });
  return () => source.close();
}
