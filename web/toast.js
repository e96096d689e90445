import { fill, h } from './dom.js';

/** Says what an action did, or why it was refused (the server's message and what to do next). */
export function toast(message, kind = 'ok', next = null) {
  const box = document.getElementById('toast');
  fill(box, h('div', { class: `toast-body ${kind}` }, message, next === null ? null : h('div', { class: 'next' }, `Next: ${next}`)));
  box.classList.add('shown');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => box.classList.remove('shown'), kind === 'ok' ? 4000 : 12000);
}
