// Overview: masters and the leader, workers, running/pending counts,
// recent failures — refreshed through live.js.
import { api } from '../api.js';
import { h, fill, stateBadge, when, errorBox } from '../dom.js';
import { watch } from '../live.js';

const COUNT_LIMIT = 10000; // the API's largest page

async function count(state) {
  const r = await api('GET', `/api/v1/executions?state=${state}&limit=${COUNT_LIMIT}`);
  const n = r.executions.length;
  return n >= COUNT_LIMIT ? `${n}+` : String(n);
}

function card(label, value, testid) {
  return h('div', { class: 'card' }, h('div', { class: 'muted' }, label),
           h('div', { class: 'n', 'data-testid': testid }, value));
}

function mastersTable(c) {
  if (!c.ha) {
    return h('p', { 'data-testid': 'masters' },
      'One master, no ZooKeeper: it is the leader', c.epoch ? ` (epoch ${c.epoch})` : '', '.');
  }
  return h('table', { 'data-testid': 'masters' },
    h('tr', null, h('th', null, 'master'), h('th', null, 'HTTP'), h('th', null, 'RPC'), h('th', null, 'role')),
    c.masters.map((m) => h('tr', null, h('td', null, m.id, m.self ? ' (this one)' : ''),
      h('td', null, m.http), h('td', null, m.rpc), h('td', null, m.leader ? 'leader' : 'standby'))));
}

function workersTable(workers) {
  if (!workers.length) return h('p', { class: 'muted', 'data-testid': 'workers' }, 'No worker has connected.');
  return h('table', { 'data-testid': 'workers' },
    h('tr', null, ['worker', 'host', 'state', 'slots used', 'labels', 'types', 'load', 'last heartbeat']
      .map((t) => h('th', null, t))),
    workers.map((w) => h('tr', { 'data-worker': w.id },
      h('td', null, w.id), h('td', null, w.host || ''), h('td', null, w.state || ''),
      h('td', null, w.slots_used !== undefined ? `${w.slots_used} / ${w.slots}` : String(w.slots ?? '')),
      h('td', null, (w.labels || []).join(', ')), h('td', null, (w.types || []).join(', ')),
      h('td', null, w.load && w.load.load1 !== undefined ? String(w.load.load1) : ''),
      h('td', null, when(w.last_heartbeat || w.last_seen_us)))));
}

function failuresTable(execs) {
  if (!execs.length) return h('p', { class: 'muted', 'data-testid': 'failures' }, 'No failures.');
  return h('table', { 'data-testid': 'failures' },
    h('tr', null, ['id', 'job', 'state', 'error', 'finished'].map((t) => h('th', null, t))),
    execs.map((e) => h('tr', null, h('td', null, h('a', { href: `/executions/${e.id}` }, `#${e.id}`)),
      h('td', null, e.job), h('td', null, stateBadge(e.state)), h('td', null, e.error || ''),
      h('td', null, when(e.finished_at)))));
}

export function render(view) {
  const body = h('div', { 'data-testid': 'overview' }, h('p', { class: 'muted' }, 'Loading…'));
  fill(view, h('h1', null, 'Overview'), body);
  return watch(async () => {
    try {
      const [cluster, workers, running, pending, failed] = await Promise.all([
        api('GET', '/api/v1/cluster'), api('GET', '/api/v1/workers'),
        count('running'), count('pending'),
        api('GET', '/api/v1/executions?state=failed&limit=10'),
      ]);
      fill(body,
        h('div', { class: 'cards' },
          card('running', running, 'count-running'), card('pending', pending, 'count-pending'),
          card('workers', String(workers.workers.length), 'count-workers'),
          card('this master', cluster.role, 'master-role')),
        h('h2', null, 'Masters'), mastersTable(cluster),
        h('h2', null, 'Workers'), workersTable(workers.workers),
        h('h2', null, 'Recent failures'), failuresTable(failed.executions));
    } catch (e) {
      fill(body, errorBox(e));
      throw e;
    }
  }, 3000);
}
