// Pagoda console — the shell: who is logged in, the router, the nav.
// Plain ES modules, no build step (docs/architecture.md "Web console").
import { api, can, setCsrf, setOnUnauthorized } from './api.js';
import { h, fill } from './dom.js';
import * as login from './pages/login.js';
import * as overview from './pages/overview.js';
import * as jobs from './pages/jobs.js';
import * as executions from './pages/executions.js';
import * as flows from './pages/flows.js';
import * as flowExecution from './pages/flow_execution.js';
import * as schedules from './pages/schedules.js';
import { onStatus } from './live.js';
import * as workers from './pages/workers.js';
import * as balancers from './pages/balancers.js';
import * as plugins from './pages/plugins.js';
import * as resources from './pages/resources.js';
import * as audit from './pages/audit.js';
import { flowEditor, scheduleEditor } from './pages/editors.js';

// path pattern → page module; a page exports render(view, ctx) returning an
// optional cleanup function (stopping its polling).
const ROUTES = [
  [/^\/$/, overview, 'overview'],
  [/^\/jobs$/, jobs, 'jobs'],
  [/^\/jobs\/new$/, jobs, 'jobs'],
  [/^\/jobs\/([^/]+)$/, jobs, 'jobs'],
  [/^\/executions$/, executions, 'executions'],
  [/^\/executions\/(\d+)$/, executions, 'executions'],
  [/^\/flows$/, flows, 'flows'],
  [/^\/flows\/new$/, flowEditor, 'flows'],
  [/^\/flows\/([^/]+)$/, flows, 'flows'],
  [/^\/flows\/([^/]+)\/edit$/, flowEditor, 'flows'],
  [/^\/flow-executions\/(\d+)$/, flowExecution, 'flows'],
  [/^\/schedules$/, schedules, 'schedules'],
  [/^\/workers$/, workers, 'workers'],
  [/^\/balancers$/, balancers, 'balancers'],
  [/^\/plugins$/, plugins, 'plugins'],
  [/^\/resources$/, resources, 'resources'],
  [/^\/resources\/([^/]+)$/, resources, 'resources'],
  [/^\/audit$/, audit, 'audit'],
  [/^\/schedules\/new$/, scheduleEditor, 'schedules'],
  [/^\/schedules\/([^/]+)\/edit$/, scheduleEditor, 'schedules'],
];

const ctx = { me: null, navigate };
let cleanup = null;

/** Goes to `path` (same origin) and renders its page. */
export function navigate(path, replace = false) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  render();
}

async function whoami() {
  try {
    ctx.me = await api('GET', '/api/v1/whoami');
    setCsrf(ctx.me.csrf_token);
  } catch (e) {
    ctx.me = null;
  }
}

function showHeader() {
  const top = document.getElementById('top');
  top.hidden = !ctx.me;
  if (ctx.me) {
    fill(document.getElementById('who'),
      h('span', { 'data-testid': 'who' }, `${ctx.me.name} (${ctx.me.role})`));
    // Nav links a role cannot use (data-role="admin": the audit log) are hidden.
    for (const a of document.querySelectorAll('[data-nav][data-role]')) a.hidden = !can(ctx.me.role, a.dataset.role);
  }
}

async function render() {
  if (cleanup) { cleanup(); cleanup = null; }
  const view = document.getElementById('view');
  const url = new URL(location.href);
  if (!ctx.me && url.pathname !== '/login') await whoami();
  showHeader();
  if (!ctx.me || url.pathname === '/login') {
    if (ctx.me) return navigate('/', true);
    fill(view);
    cleanup = login.render(view, ctx, async () => { await whoami(); navigate(url.searchParams.get('next') || '/', true); });
    return;
  }
  for (const [re, page, nav] of ROUTES) {
    const m = url.pathname.match(re);
    if (!m) continue;
    for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', a.dataset.nav === nav);
    fill(view);
    cleanup = page.render(view, ctx, m.slice(1).map(decodeURIComponent), url.searchParams) || null;
    return;
  }
  fill(view, h('h1', null, 'Not found'), h('p', null, h('a', { href: '/' }, 'Overview')));
}

// Same-origin links are handled here (no page reload).
document.addEventListener('click', (ev) => {
  const a = ev.target.closest('a[href]');
  if (!a || a.target || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button !== 0) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/api/')) return;
  ev.preventDefault();
  navigate(url.pathname + url.search);
});
window.addEventListener('popstate', render);

setOnUnauthorized(() => {
  if (!ctx.me) return;
  ctx.me = null;
  setCsrf(null);
  navigate('/login', true);
});

document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('logout').addEventListener('click', async () => {
    try { await api('DELETE', '/api/v1/session'); } catch (e) { /* ended already */ }
    ctx.me = null;
    setCsrf(null);
    navigate('/login', true);
  });
  render();
});

// The event stream's state in the header (live.js): live, reconnecting, polling.
onStatus((status) => {
  const el = document.getElementById('live');
  if (!el) return;
  el.dataset.status = status;
  el.textContent = status === 'live' ? '● live' : status === 'polling' ? '○ polling' : `○ ${status}`;
  el.title = status === 'live' ? 'updates arrive through GET /api/v1/events'
    : 'the event stream is not connected: pages reload every few seconds';
});
