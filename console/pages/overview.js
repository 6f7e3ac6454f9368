// Overview: masters and the leader, workers, running/pending counts,
// recent failures — kept current by the event stream (live.js): execution
// events move the counts and add failures in place; worker events reload.
import { api } from '../api.js';
import { h, fill, stateBadge, when, errorBox } from '../dom.js';
import { subscribe, reloadOn } from '../live.js';

const COUNT_LIMIT = 10000; // the API's largest page

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

// Worker load and heartbeats are not events: the page reloads every 15 s
// besides reloading on worker events and resets.
const RELOAD_MS = 15000;

async function ids(state) {
  const r = await api('GET', `/api/v1/executions?state=${state}&limit=${COUNT_LIMIT}`);
  return { ids: new Set(r.executions.map((e) => e.id)), capped: r.executions.length >= COUNT_LIMIT };
}

export function render(view) {
  const body = h('div', { 'data-testid': 'overview' }, h('p', { class: 'muted' }, 'Loading…'));
  fill(view, h('h1', null, 'Overview'), body);
  // What is shown; execution events change the counts and failures in place.
  let data = null;
  const finals = new Set(); // ids seen final through events: never counted again
  let drawQueued = false;
  const draw = () => {
    drawQueued = false;
    if (!data) return;
    const n = (c) => `${c.ids.size}${c.capped ? '+' : ''}`;
    fill(body,
      h('div', { class: 'cards' },
        card('running', n(data.running), 'count-running'), card('pending', n(data.pending), 'count-pending'),
        card('workers', String(data.workers.length), 'count-workers'),
        card('this master', data.cluster.role, 'master-role')),
      h('h2', null, 'Masters'), mastersTable(data.cluster),
      h('h2', null, 'Workers'), workersTable(data.workers),
      h('h2', null, 'Recent failures'), failuresTable(data.failed));
  };
  const queueDraw = () => { if (!drawQueued) { drawQueued = true; requestAnimationFrame(draw); } };
  const load = async () => {
    try {
      const [cluster, workers, running, pending, failed] = await Promise.all([
        api('GET', '/api/v1/cluster'), api('GET', '/api/v1/workers'),
        ids('running'), ids('pending'),
        api('GET', '/api/v1/executions?state=failed&limit=10'),
      ]);
      for (const id of finals) { running.ids.delete(id); pending.ids.delete(id); }
      data = { cluster, workers: workers.workers, running, pending, failed: failed.executions };
      draw();
    } catch (e) {
      fill(body, errorBox(e));
      throw e;
    }
  };
  const onExecution = (kind, ev) => {
    if (kind !== 'execution' || !data) return;
    data.running.ids.delete(ev.id);
    data.pending.ids.delete(ev.id);
    if (ev.final) {
      finals.add(ev.id);
      if (ev.state === 'failed' && !data.failed.some((e) => e.id === ev.id)) {
        data.failed = [ev.execution, ...data.failed].slice(0, 10);
      }
    } else if (!finals.has(ev.id)) {
      if (ev.state === 'running') data.running.ids.add(ev.id);
      if (ev.state === 'pending') data.pending.ids.add(ev.id);
    }
    queueDraw();
  };
  const stopExec = subscribe(['execution'], onExecution);
  const stopReload = reloadOn(['worker'], load, { everyMs: RELOAD_MS });
  return () => { stopExec(); stopReload(); };
}
