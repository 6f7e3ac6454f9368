// Schedules (docs/console.md "Schedules"): each schedule with its trigger,
// time zone, next fire times, latest runs and whether it is paused; Pause,
// Resume and Run now for operators. A row is read again when its schedule
// fires, is paused or resumed (`schedule` events) and when one of its
// executions changes (`execution` events naming the schedule).
import { api, can } from '../api.js';
import { h, fill, errorBox, stateBadge, when } from '../dom.js';
import { subscribe } from '../live.js';
import { takeFlash } from './editors.js';

const NEXT = 3;
const RUNS = 5;

function trigger(s) {
  if (s.cron) return h('span', null, 'cron ', h('code', null, s.cron));
  if (s.every) return `every ${s.every}`;
  if (s.delay) return `${s.delay} after each run ends`;
  if (s.at) return `once at ${when(s.at)}`;
  return '';
}

/** A fire time on the wall clock of the schedule's zone, as cron reads it. */
function zoned(t, tz) {
  try {
    return new Date(t).toLocaleString(undefined, { timeZone: tz || 'UTC', timeZoneName: 'short' });
  } catch (e) { // a zone this browser does not know
    return when(t);
  }
}

function target(s) {
  if (s.flow) return h('span', null, 'flow ', h('a', { href: `/flows/${encodeURIComponent(s.flow)}` }, s.flow));
  if (s.job) return h('span', null, 'job ', h('a', { href: `/jobs/${encodeURIComponent(s.job)}` }, s.job));
  return '';
}

function runLink(run) {
  if (run.flow_execution_id) return h('a', { href: `/flow-executions/${run.flow_execution_id}` }, `flow #${run.flow_execution_id}`);
  if (run.execution_id) return h('a', { href: `/executions/${run.execution_id}` }, `#${run.execution_id}`);
  return '';
}

function runsList(runs) {
  if (!runs || !runs.length) return h('span', { class: 'muted' }, 'none yet');
  return h('ul', { class: 'plain' }, runs.map((r) => h('li', { title: r.reason || r.error || '' },
    when(r.fire_at), ' ', runLink(r), ' ',
    r.state === 'started' ? stateBadge(r.execution_state || 'started') : stateBadge(r.state))));
}

export function render(view, ctx) {
  const role = ctx.me.role;
  const msg = h('div', { 'data-testid': 'schedule-message' });
  const table = h('div', { 'data-testid': 'schedules' }, h('p', { class: 'muted' }, 'Loading…'));
  const admin = can(role, 'admin');
  fill(view, h('h1', null, 'Schedules'), takeFlash(ctx),
    admin && h('div', { class: 'toolbar' }, h('a', { class: 'button', href: '/schedules/new', 'data-testid': 'new-schedule' }, 'New schedule')),
    h('p', { class: 'muted' }, 'Next fire times are shown on the wall clock of each schedule\'s time zone (as its cron fields are read); runs in this browser\'s.'),
    msg, table);
  let names = [];
  const views = new Map(); // name → the schedule view with next and runs
  let left = false;

  const act = async (name, what) => {
    fill(msg);
    try {
      const r = await api('POST', `/api/v1/schedules/${encodeURIComponent(name)}/${what}`);
      if (what === 'run') {
        fill(msg, h('p', { class: 'ok', 'data-testid': 'run-started' }, `Schedule ${name} started `,
          r.flow_execution_id ? h('a', { href: `/flow-executions/${r.flow_execution_id}` }, `flow execution #${r.flow_execution_id}`)
            : h('a', { href: `/executions/${r.execution_id}` }, `execution #${r.execution_id}`), '.'));
      }
      await loadOne(name);
    } catch (e) { fill(msg, errorBox(e)); }
  };

  const row = (name) => {
    const s = views.get(name);
    if (!s) return h('tr', { 'data-schedule': name }, h('td', null, name), h('td', { colspan: 8, class: 'muted' }, 'Loading…'));
    const operator = can(role, 'operator');
    return h('tr', { 'data-schedule': name, 'data-enabled': String(Boolean(s.enabled)) },
      h('td', null, name), h('td', null, target(s)), h('td', null, trigger(s)), h('td', null, s.timezone || 'UTC'),
      h('td', null, s.enabled ? h('span', { class: 'state state-running', 'data-testid': 'schedule-state' }, 'active')
        : h('span', { class: 'state state-pending', 'data-testid': 'schedule-state' }, 'paused')),
      // The API lists the times a paused schedule would have; it fires none.
      h('td', { 'data-testid': 'next' }, !s.enabled ? h('span', { class: 'muted' }, '(paused)')
        : s.next && s.next.length ? h('ul', { class: 'plain' }, s.next.map((t) => h('li', null, zoned(t, s.timezone))))
          : h('span', { class: 'muted' }, 'none')),
      h('td', { 'data-testid': 'runs' }, runsList(s.runs)),
      h('td', null, (s.running || []).length ? (s.running || []).map((id) => h('a', { href: `/executions/${id}` }, `#${id} `)) : ''),
      h('td', { class: 'actions' },
        operator && s.enabled && h('button', { type: 'button', 'data-testid': 'pause', onclick: () => act(name, 'pause') }, 'Pause'),
        operator && !s.enabled && h('button', { type: 'button', 'data-testid': 'resume', onclick: () => act(name, 'resume') }, 'Resume'),
        operator && h('button', { type: 'button', 'data-testid': 'run-now', onclick: () => act(name, 'run') }, 'Run now'),
        admin && h('a', { class: 'button', 'data-testid': 'edit-schedule', href: `/schedules/${encodeURIComponent(name)}/edit` }, 'Edit')));
  };

  const draw = () => {
    if (left) return;
    fill(table, names.length ? h('table', null,
      h('tr', null, ['name', 'target', 'trigger', 'time zone', 'state', `next ${NEXT}`, `last ${RUNS} runs`, 'running', '']
        .map((t) => h('th', null, t))),
      names.map(row)) : h('p', { class: 'muted' }, 'No schedule defined yet (POST /api/v1/schedules, docs/schedules.md).'));
  };

  async function loadOne(name) {
    const v = await api('GET', `/api/v1/schedules/${encodeURIComponent(name)}?next=${NEXT}&runs=${RUNS}`);
    views.set(name, v);
    draw();
  }

  const loadAll = async () => {
    try {
      // One request: the list with each schedule's next times and runs.
      const r = await api('GET', `/api/v1/schedules?next=${NEXT}&runs=${RUNS}`);
      names = r.schedules.map((s) => s.name);
      views.clear();
      for (const s of r.schedules) views.set(s.name, s);
      draw();
    } catch (e) {
      fill(table, errorBox(e));
    }
  };

  // Reads of one schedule after its events, at most one in flight per name.
  const busy = new Map();
  const refresh = (name) => {
    if (!names.includes(name)) { loadAll(); return; }
    if (busy.has(name)) { busy.set(name, true); return; }
    busy.set(name, false);
    loadOne(name).catch(() => {}).finally(() => {
      const again = busy.get(name);
      busy.delete(name);
      if (again && !left) refresh(name);
    });
  };
  const unsubscribe = subscribe(['schedule', 'execution'], (kind, ev) => {
    if (kind === 'reset') loadAll();
    else if (kind === 'schedule' && ev.schedule) refresh(ev.schedule);
    else if (kind === 'execution' && ev.execution && ev.execution.schedule && names.includes(ev.execution.schedule)) {
      refresh(ev.execution.schedule);
    }
  });
  loadAll();
  return () => { left = true; unsubscribe(); };
}
