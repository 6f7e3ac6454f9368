// Plugins: the job types the master loaded (or refused, with the reason),
// their versions and ABI, which workers offer each type, the params schema
// each declares, and the console views they ship (docs/plugins.md "Console
// views"). Reload (admin) rescans the plugins directory.
import { api, can } from '../api.js';
import { h, fill, errorBox } from '../dom.js';

function schemaTable(params) {
  if (!params || !params.length) return h('p', { class: 'muted' }, 'No params declared.');
  return h('table', { class: 'schema' },
    h('tr', null, ['key', 'type', 'required', 'default', 'description'].map((t) => h('th', null, t))),
    params.map((s) => h('tr', { 'data-param': s.key },
      h('td', null, h('code', null, s.key)), h('td', null, s.type), h('td', null, s.required ? 'yes' : ''),
      h('td', null, s.default ?? ''), h('td', null, s.description || ''))));
}

function pluginCard(p, workers) {
  if (p.status !== 'loaded') {
    return h('section', { class: 'plugin', 'data-plugin-file': p.file },
      h('h2', null, p.file, ' ', h('span', { class: 'state state-failed' }, p.status)),
      h('p', { class: 'error-text' }, p.reason || ''));
  }
  const on = workers.filter((w) => (w.types || []).includes(p.type) && w.state !== 'lost');
  return h('section', { class: 'plugin', 'data-plugin': p.type },
    h('h2', null, p.type, ' ', h('span', { class: 'muted' }, `version ${p.version}, ABI ${p.abi}`)),
    p.description && h('p', null, p.description),
    h('dl', { class: 'props' },
      h('dt', null, 'file'), h('dd', null, p.file || ''),
      h('dt', null, 'runs as'), h('dd', null, [p.executor, p.generator && 'with a generator'].filter(Boolean).join(', ')),
      h('dt', null, 'workers'), h('dd', { 'data-testid': 'plugin-workers' },
        on.length ? on.map((w) => `${w.id}${w.host ? ` (${w.host})` : ''}`).join(', ') : 'no connected worker offers it'),
      h('dt', null, 'console views'), h('dd', null, (p.console || []).join(', ') || 'none')),
    h('h3', null, 'Params'), schemaTable(p.params));
}

export function render(view, ctx) {
  const msg = h('div');
  const body = h('div', { 'data-testid': 'plugins' }, h('p', { class: 'muted' }, 'Loading…'));
  const load = async () => {
    try {
      const [{ plugins }, { workers }] = await Promise.all([api('GET', '/api/v1/plugins'), api('GET', '/api/v1/workers')]);
      fill(body, plugins.length ? plugins.map((p) => pluginCard(p, workers)) : h('p', { class: 'muted' }, 'No plugin loaded.'));
    } catch (e) { fill(body, errorBox(e)); }
  };
  const reload = async () => {
    fill(msg);
    try {
      const r = await api('POST', '/api/v1/plugins/reload');
      fill(msg, h('p', { 'data-testid': 'reloaded' }, `Rescanned: ${r.loaded} new, ${r.refused} refused.`));
      await load();
    } catch (e) { fill(msg, errorBox(e)); }
  };
  fill(view, h('h1', null, 'Plugins'),
    h('div', { class: 'toolbar' },
      can(ctx.me.role, 'admin') && h('button', { type: 'button', 'data-testid': 'reload', onclick: reload }, 'Rescan plugins')),
    msg, body);
  load();
}
