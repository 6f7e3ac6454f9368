// Workers: every worker the master has seen, with its slots, labels, job
// types, load and state; Drain and Undrain for operators (docs/api.md
// "Workers, balancers and plugins"). Refreshed through live.js.
import { api, can } from '../api.js';
import { h, fill, when, errorBox } from '../dom.js';
import { watch } from '../live.js';

function slots(w) {
  return w.slots_used !== undefined ? `${w.slots_used} / ${w.slots}` : String(w.slots ?? '');
}

function load(w) {
  if (!w.load) return '';
  const parts = [];
  if (w.load.load1 !== undefined) parts.push(`load1 ${w.load.load1}`);
  if (w.load.mem_free_mb !== undefined) parts.push(`${w.load.mem_free_mb} MB free`);
  return parts.join(', ');
}

export function render(view, ctx) {
  const role = ctx.me.role;
  const msg = h('div');
  const body = h('div', { 'data-testid': 'workers-page' }, h('p', { class: 'muted' }, 'Loading…'));
  let refresh = async () => {};
  const act = async (id, what) => {
    fill(msg);
    try {
      await api('POST', `/api/v1/workers/${encodeURIComponent(id)}/${what}`);
      await refresh();
    } catch (e) { fill(msg, errorBox(e, 'worker-error')); }
  };
  fill(view, h('h1', null, 'Workers'),
    h('p', { class: 'muted' }, 'A drained worker takes no new work and finishes what it runs.'),
    msg, body);
  refresh = async () => {
    try {
      const { workers } = await api('GET', '/api/v1/workers');
      if (!workers.length) {
        fill(body, h('p', { class: 'muted' }, 'No worker has connected.'));
        return;
      }
      fill(body, h('table', null,
        h('tr', null, ['worker', 'host', 'state', 'slots used', 'running', 'labels', 'types', 'load',
          'last heartbeat', ''].map((t) => h('th', null, t))),
        workers.map((w) => h('tr', { 'data-worker': w.id, 'data-worker-state': w.state },
          h('td', null, w.id), h('td', null, w.host || ''),
          h('td', { 'data-testid': 'worker-state' }, w.state || ''),
          h('td', null, slots(w)), h('td', null, String(w.running ?? '')),
          h('td', null, (w.labels || []).join(', ')), h('td', null, (w.types || []).join(', ')),
          h('td', null, load(w)), h('td', null, when(w.last_heartbeat)),
          h('td', null, can(role, 'operator') && w.state !== 'lost' && (w.draining
            ? h('button', { type: 'button', 'data-testid': 'undrain', onclick: () => act(w.id, 'undrain') }, 'Undrain')
            : h('button', { type: 'button', class: 'danger', 'data-testid': 'drain', onclick: () => act(w.id, 'drain') }, 'Drain')))))));
    } catch (e) {
      fill(body, errorBox(e));
      throw e;
    }
  };
  return watch(() => refresh(), 3000);
}
