// Audit (admin): every request that could change something, accepted or
// refused, newest first, filtered by token, route, method and time, paged
// on the server (?limit&before, docs/api.md "Audit").
import { api } from '../api.js';
import { h, fill, when, errorBox } from '../dom.js';

const PAGE = 50;
const METHODS = ['', 'POST', 'PUT', 'DELETE', 'PATCH'];

export function render(view, ctx, params, search) {
  const token = h('input', { type: 'search', placeholder: 'token name', value: search.get('token') || '', 'data-testid': 'audit-token' });
  const route = h('input', { type: 'search', placeholder: 'route, e.g. /api/v1/jobs/{name}/run', size: 34,
                             value: search.get('route') || '', 'data-testid': 'audit-route' });
  const method = h('select', { 'data-testid': 'audit-method' },
    METHODS.map((m) => h('option', { value: m, selected: m === (search.get('method') || '') }, m || 'any method')));
  const sinceUs = search.get('since');
  const since = h('input', { type: 'datetime-local', 'data-testid': 'audit-since',
    value: sinceUs ? new Date(Number(sinceUs) / 1000 - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 16) : '' });
  const table = h('div', { 'data-testid': 'audit' }, h('p', { class: 'muted' }, 'Loading…'));
  const go = (extra = {}) => {
    const q = new URLSearchParams();
    if (token.value.trim()) q.set('token', token.value.trim());
    if (route.value.trim()) q.set('route', route.value.trim());
    if (method.value) q.set('method', method.value);
    if (since.value) q.set('since', String(new Date(since.value).getTime() * 1000));
    for (const [k, v] of Object.entries(extra)) q.set(k, v);
    ctx.navigate(`/audit${q.toString() ? `?${q}` : ''}`);
  };
  const form = h('form', { class: 'toolbar' }, token, route, method, h('label', null, 'since ', since),
    h('button', { type: 'submit', 'data-testid': 'audit-filter' }, 'Filter'),
    search.get('before') && h('a', { class: 'button', href: '/audit' }, 'Newest'));
  form.addEventListener('submit', (ev) => { ev.preventDefault(); go(); });
  fill(view, h('h1', null, 'Audit log'),
    h('p', { class: 'muted' }, 'Every request that could change something, accepted or refused (docs/security.md "Audit log").'),
    form, table);

  const q = new URLSearchParams({ limit: String(PAGE) });
  for (const k of ['token', 'route', 'method', 'since', 'before']) if (search.get(k)) q.set(k, search.get(k));
  api('GET', `/api/v1/audit?${q}`).then((r) => {
    const rows = r.audit;
    fill(table, rows.length ? h('table', null,
      h('tr', null, ['time', 'token', 'method', 'target', 'name', 'status', 'peer'].map((t) => h('th', null, t))),
      rows.map((a) => h('tr', { 'data-audit': String(a.id) },
        h('td', null, when(a.time_at)), h('td', null, a.token || '(none)'), h('td', null, a.method),
        h('td', { title: a.route }, h('code', null, a.target)), h('td', null, a.name || ''),
        h('td', { class: a.status >= 400 ? 'error-text' : '' }, String(a.status)), h('td', null, a.peer || '')))) :
      h('p', { class: 'muted' }, 'No audit record matches.'),
    r.next_before && h('p', null, h('button', { type: 'button', 'data-testid': 'older',
      onclick: () => go({ before: String(r.next_before) }) }, 'Older')));
  }).catch((e) => fill(table, errorBox(e)));
}
