// Pagoda console — a plugin's own console view (docs/plugins.md "Console
// views"): an HTML file the plugin ships, served by the master under
// /api/v1/plugins/{type}/console/{view}.html with its own CSP, shown in an
// <iframe sandbox="allow-scripts"> — no allow-same-origin, so the view runs
// in an opaque origin: it cannot read this page, its cookie or its storage,
// and its CSP (connect-src 'none') stops it calling the API. It talks to
// the console only through postMessage:
//
//   console → view  {pagoda: 1, kind: "form",   type, schema, params}
//                   {pagoda: 1, kind: "result", type, execution}
//     (sent when the view loads and again when the data changes; only what
//      the page shows already)
//   view → console  {pagoda: 1, kind: "params", params: {...}}     (form views)
//                   {pagoda: 1, kind: "links",  links: [{label, url}]}
//                   {pagoda: 1, kind: "height", height: N}
//
// Links are drawn by the console, outside the frame (http and https only,
// opened in a new tab without referrer), so the sandbox needs no popups.
import { h, fill } from './dom.js';

const MAX_HEIGHT = 2000;

function safeUrl(u) {
  try {
    const url = new URL(String(u));
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch (e) { return null; }
}

/**
 * The frame for view `view` ("form" or "result") of job type `type`.
 * `data` is the message body sent to it (kind is added); `onParams(obj)`
 * receives a form view's params. Returns {el, update(data), stop()}: stop()
 * removes the message listener (call it when the page is left).
 */
export function pluginFrame(type, view, data, onParams) {
  const frame = h('iframe', {
    class: 'plugin-view', sandbox: 'allow-scripts', referrerpolicy: 'no-referrer',
    title: `${type} ${view} view (plugin)`, 'data-testid': `plugin-${view}-frame`,
    src: `/api/v1/plugins/${encodeURIComponent(type)}/console/${view}.html`,
  });
  const links = h('div', { class: 'toolbar', 'data-testid': `plugin-${view}-links` });
  let current = data;
  let loaded = false;
  // The frame's origin is opaque ("null"), so the target must be "*"; what
  // is sent is only what this page already shows its user.
  const send = () => { if (loaded && frame.contentWindow) frame.contentWindow.postMessage({ pagoda: 1, kind: view, ...current }, '*'); };
  frame.addEventListener('load', () => { loaded = true; send(); });
  const onMessage = (ev) => {
    if (ev.source !== frame.contentWindow) return; // only this frame's messages
    const m = ev.data;
    if (!m || typeof m !== 'object' || m.pagoda !== 1) return;
    if (m.kind === 'params' && onParams && m.params && typeof m.params === 'object' && !Array.isArray(m.params)) {
      onParams(JSON.parse(JSON.stringify(m.params))); // a plain copy: no functions, no prototypes
    } else if (m.kind === 'links' && Array.isArray(m.links)) {
      fill(links, m.links.slice(0, 20).map((l) => {
        const url = l && safeUrl(l.url);
        return url && h('a', { class: 'button', href: url, target: '_blank', rel: 'noopener noreferrer',
                               'data-testid': 'plugin-link' }, String(l.label || url).slice(0, 200));
      }));
    } else if (m.kind === 'height' && Number.isFinite(m.height)) {
      frame.style.height = `${Math.max(60, Math.min(MAX_HEIGHT, m.height))}px`;
    }
  };
  window.addEventListener('message', onMessage);
  return {
    el: h('div', { class: 'plugin-view-box' }, frame, links),
    update(next) { current = next; send(); },
    stop() { window.removeEventListener('message', onMessage); },
  };
}

/** What the result view of an execution is sent: the fields its page shows
 * (no definition: a secret_env's names stay out). */
function resultData(e) {
  const { id, job, type, state, attempt, worker_id: workerId, exit_code: exitCode, error, params,
          attributes, result, submitted_at: submittedAt, started_at: startedAt, finished_at: finishedAt } = e;
  return { type, execution: { id, job, type, state, attempt, worker_id: workerId, exit_code: exitCode, error, params,
                              attributes, result, submitted_at: submittedAt, started_at: startedAt, finished_at: finishedAt } };
}

/**
 * For the execution page: returns {el, show(execution), stop()}. show() is
 * called with each fresh copy of the execution; the first call looks up
 * whether its job type ships a "result" view, and if so draws it in `el`;
 * later calls send it the new copy.
 */
export function resultView(api) {
  const el = document.createElement('div');
  let frame = null;
  let asked = false;
  let last = null;
  return {
    el,
    show(e) {
      last = e;
      if (frame) { frame.update(resultData(e)); return; }
      if (asked) return;
      asked = true;
      api('GET', '/api/v1/plugins').then((r) => {
        const p = r.plugins.find((x) => x.status === 'loaded' && x.type === e.type);
        if (!p || !(p.console || []).includes('result')) return;
        frame = pluginFrame(e.type, 'result', resultData(last), null);
        fill(el, h('h2', null, `Result (${e.type} plugin)`), frame.el);
      }).catch(() => { /* no view: the page shows the execution as it is */ });
    },
    stop() { if (frame) frame.stop(); },
  };
}
