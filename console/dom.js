// Pagoda console — building DOM without innerHTML: every value from the API
// becomes a text node, so no job name or log line can inject markup.

/** h('a', {href: '/x', class: 'y', onclick: fn}, 'text', child, [more]) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** The state of an execution, coloured. */
export function stateBadge(state) {
  return h('span', { class: `state state-${state}`, 'data-state': state }, state);
}

// One formatter for every time shown (what toLocaleString() gives): building
// one per call costs more than the rest of a table row.
const TIME_FORMAT = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'numeric', day: 'numeric',
  hour: 'numeric', minute: 'numeric', second: 'numeric' });

/** An API time ("2026-12-06T14:01:03.267Z" or µs) for people. */
export function when(v) {
  if (v === null || v === undefined || v === '') return '';
  const d = typeof v === 'number' ? new Date(v / 1000) : new Date(v);
  return isNaN(d) ? String(v) : TIME_FORMAT.format(d);
}

/** Replaces the children of `el` (false, null and undefined are left out,
 * so `cond && node` can be passed as it is). */
export function fill(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== undefined && c !== null && c !== false));
}

/** An error box for an ApiError or any Error. */
export function errorBox(e, testid = 'error') {
  let text = e.message;
  if (e.body && e.body.field) text += ` (field: ${e.body.field})`;
  return h('div', { class: 'error', 'data-testid': testid, role: 'alert' }, text);
}
