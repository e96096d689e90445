// Builds the DOM from values: text always goes in as text nodes (textContent), never as HTML, so a
// flow name, a message or a SMILES string from the database can never become markup or script.

/**
 * `h('td', { class: 'x', onclick: fn }, 'text', child)`: an element. Attributes are set with
 * setAttribute (`on*` keys take functions and become listeners); children are nodes or strings
 * (strings become text nodes); null, undefined and false are skipped.
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') element.addEventListener(key.slice(2), value);
    else if (key === 'href' && !isSafeHref(String(value))) continue;
    else element.setAttribute(key, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Links stay on this server: a path, never a `javascript:` or another site's URL. */
function isSafeHref(href) {
  return href.startsWith('/') && !href.startsWith('//');
}

/** Replaces an element's children. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/** `2026-01-01T12:00:00.123Z` → `2026-01-01 12:00:00`. */
export function time(iso) {
  if (typeof iso !== 'string' || iso === '') return '';
  return iso.replace('T', ' ').replace(/\.\d+Z$/, '').replace(/Z$/, '');
}

/** A duration in ms as `850 ms`, `12.3 s`, `4 min 05 s`, `2 h 03 min`. */
export function duration(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

export function badge(status) {
  return h('span', { class: `badge status-${String(status).toLowerCase()}` }, String(status));
}
