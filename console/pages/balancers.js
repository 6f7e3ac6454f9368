// Balancers: the Lua balancer scripts the master loaded (or the built-in
// ones), their calls, errors and last error; Reload (admin) rescans the
// scripts (docs/balancers.md, docs/api.md "Workers, balancers and plugins").
import { api, can } from '../api.js';
import { h, fill, when, errorBox } from '../dom.js';
import { watch } from '../live.js';

function table(list) {
  if (!list.length) return h('p', { class: 'muted' }, 'No balancer.');
  return h('table', null,
    h('tr', null, ['name', 'kind', 'file', 'loaded', 'calls', 'errors', 'last error', 'at']
      .map((t) => h('th', null, t))),
    list.map((b) => h('tr', { 'data-balancer': b.name },
      h('td', null, b.name, b.default ? ' (default)' : ''), h('td', null, b.builtin ? 'built-in' : 'script'),
      h('td', null, b.file || ''), h('td', null, b.loaded ? 'yes' : 'no'),
      h('td', null, String(b.calls ?? 0)), h('td', { 'data-testid': 'balancer-errors' }, String(b.errors ?? 0)),
      h('td', { class: b.last_error ? 'error-text' : '' }, b.last_error || ''),
      h('td', null, when(b.last_error_at)))));
}

export function render(view, ctx) {
  const msg = h('div');
  const body = h('div', { 'data-testid': 'balancers' }, h('p', { class: 'muted' }, 'Loading…'));
  const reload = async () => {
    fill(msg);
    try {
      const r = await api('POST', '/api/v1/balancers/reload');
      fill(msg, h('p', { 'data-testid': 'reloaded' }, `Reloaded: ${r.balancers.length} balancers.`));
      fill(body, table(r.balancers));
    } catch (e) { fill(msg, errorBox(e)); }
  };
  fill(view, h('h1', null, 'Balancers'),
    h('div', { class: 'toolbar' },
      can(ctx.me.role, 'admin') && h('button', { type: 'button', 'data-testid': 'reload', onclick: reload }, 'Reload scripts')),
    msg, body);
  return watch(async () => {
    try {
      fill(body, table((await api('GET', '/api/v1/balancers')).balancers));
    } catch (e) {
      fill(body, errorBox(e));
      throw e;
    }
  }, 5000);
}
