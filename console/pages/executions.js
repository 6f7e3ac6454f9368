// Executions: the list (filters job, state and submitted time, paged on the
// server with ?limit&before) and one execution (attempts, attributes, the log, kill,
// run again), refreshed through live.js while it runs.
import { api, apiBytes, can } from '../api.js';
import { h, fill, stateBadge, when, errorBox } from '../dom.js';
import { subscribe, reloadOn } from '../live.js';
import { resultView } from '../plugin_view.js';

const PAGE = 50;
const STATES = ['', 'pending', 'dispatched', 'running', 'succeeded', 'failed', 'killed', 'timed_out', 'lost'];
const FINAL = new Set(['succeeded', 'failed', 'killed', 'timed_out', 'lost']);

// The time filter: the page's address keeps `since` / `until` as RFC 3339
// UTC (what the API takes, and the same instant in every browser); the
// inputs show the browser's local time.
const pad = (n) => String(n).padStart(2, '0');
/** RFC 3339 (or '') → the value of a datetime-local input. */
function toLocalInput(iso) {
  const d = new Date(iso || '');
  if (isNaN(d)) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T` +
         `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
/** A datetime-local value (local time) → RFC 3339 UTC, or '' when empty. */
function fromLocalInput(v) {
  const d = new Date(v || '');
  return isNaN(d) ? '' : d.toISOString();
}

function renderList(view, ctx, search) {
  const job = h('input', { type: 'search', placeholder: 'job', value: search.get('job') || '', 'data-testid': 'filter-job' });
  const state = h('select', { 'data-testid': 'filter-state' },
    STATES.map((s) => h('option', { value: s, selected: s === (search.get('state') || '') }, s || 'any state')));
  const since = search.get('since') || '';
  const until = search.get('until') || '';
  const from = h('input', { type: 'datetime-local', step: '1', value: toLocalInput(since),
    title: 'submitted at or after', 'aria-label': 'from', 'data-testid': 'filter-from' });
  const to = h('input', { type: 'datetime-local', step: '1', value: toLocalInput(until),
    title: 'submitted before', 'aria-label': 'to', 'data-testid': 'filter-to' });
  const before = search.get('before');
  const table = h('div', { 'data-testid': 'executions' }, h('p', { class: 'muted' }, 'Loading…'));
  const go = (extra = {}) => {
    const q = new URLSearchParams();
    if (job.value.trim()) q.set('job', job.value.trim());
    if (state.value) q.set('state', state.value);
    // An input left as shown keeps the address's exact time (the input
    // shows whole seconds).
    const bound = (input, old) => (input.value === toLocalInput(old) ? old : fromLocalInput(input.value));
    if (bound(from, since)) q.set('since', bound(from, since));
    if (bound(to, until)) q.set('until', bound(to, until));
    for (const [k, v] of Object.entries(extra)) q.set(k, v);
    ctx.navigate(`/executions${q.toString() ? `?${q}` : ''}`);
  };
  const form = h('form', { class: 'toolbar' }, job, state,
    h('label', null, 'from ', from), h('label', null, 'to ', to),
    h('button', { type: 'submit' }, 'Filter'),
    before && h('button', { type: 'button', 'data-testid': 'newest', onclick: () => go() }, 'Newest'));
  form.addEventListener('submit', (ev) => { ev.preventDefault(); go(); });
  state.addEventListener('change', () => go());
  fill(view, h('h1', null, 'Executions'), form, table);

  const q = new URLSearchParams({ limit: String(PAGE) });
  if (search.get('job')) q.set('job', search.get('job'));
  if (search.get('state')) q.set('state', search.get('state'));
  if (since) q.set('since', since);
  if (until) q.set('until', until);
  if (before) q.set('before', before);
  let rows = null;
  const rowEl = (e) => h('tr', { 'data-exec': e.id },
    h('td', null, h('a', { href: `/executions/${e.id}` }, `#${e.id}`)), h('td', null, e.job),
    h('td', null, stateBadge(e.state)), h('td', null, String(e.attempt ?? '')),
    h('td', null, e.worker_id || ''), h('td', null, when(e.submitted_at)),
    h('td', null, when(e.finished_at)), h('td', null, e.error || ''));
  let trs = new Map(); // id → its <tr>, while a table is shown
  const draw = () => {
    trs = new Map();
    fill(table, rows.length ? h('table', null,
      h('tr', null, ['id', 'job', 'state', 'attempt', 'worker', 'submitted', 'finished', 'error']
        .map((t) => h('th', null, t))),
      rows.map((e) => { const tr = rowEl(e); trs.set(e.id, tr); return tr; })) :
      h('p', { class: 'muted' }, 'No execution matches.'),
    rows.length === PAGE && h('p', null, h('button', { type: 'button', 'data-testid': 'older',
      onclick: () => go({ before: String(rows[rows.length - 1].id) }) }, 'Older')));
  };
  const load = async () => {
    try {
      rows = (await api('GET', `/api/v1/executions?${q}`)).executions;
      draw();
    } catch (e) {
      fill(table, errorBox(e));
      throw e;
    }
  };
  // An execution event updates its row in place; on the newest page a new
  // execution that matches the filters is added at the top. Only the rows
  // that changed are rebuilt, once per frame. A reset (or the fallback to
  // polling) reloads the page through REST.
  const sinceUs = since ? Date.parse(since) * 1000 : null;
  const untilUs = until ? Date.parse(until) * 1000 : null;
  const matches = (e) => (!search.get('job') || e.job === search.get('job')) &&
                         (!search.get('state') || e.state === search.get('state')) &&
                         (sinceUs === null || e.submitted_us >= sinceUs) &&
                         (untilUs === null || e.submitted_us < untilUs);
  const changed = new Set();
  let full = false;
  let frameQueued = false;
  const frame = () => {
    frameQueued = false;
    if (full || !trs.size) { full = false; changed.clear(); draw(); return; }
    const header = table.querySelector('tr');
    for (const id of changed) {
      const e = rows.find((x) => x.id === id);
      const old = trs.get(id);
      if (!e) { if (old) { old.remove(); trs.delete(id); } continue; }
      const tr = rowEl(e);
      if (old) old.replaceWith(tr);
      else header.parentNode.insertBefore(tr, trs.get(rows[rows.indexOf(e) + 1]?.id) || null);
      trs.set(id, tr);
    }
    changed.clear();
  };
  const onEvent = (kind, ev) => {
    if (kind === 'reset') { load(); return; }
    if (!rows || !ev.execution) return;
    const i = rows.findIndex((e) => e.id === ev.id);
    if (i >= 0) {
      rows[i] = ev.execution;
      changed.add(ev.id);
    } else if (!before && matches(ev.execution) && (!rows.length || ev.id > rows[0].id)) {
      if (rows.length === PAGE - 1) full = true; // the Older button appears
      rows = [ev.execution, ...rows];
      changed.add(ev.id);
      if (rows.length > PAGE) changed.add(rows.pop().id); // it leaves the page
    } else return;
    if (!frameQueued) { frameQueued = true; requestAnimationFrame(frame); }
  };
  const unsubscribe = subscribe(['execution'], onEvent);
  load();
  return unsubscribe;
}

function props(pairs) {
  return h('dl', { class: 'props' }, pairs.filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => [h('dt', null, k), h('dd', { 'data-prop': k }, v)]));
}

function renderDetail(view, ctx, id) {
  const role = ctx.me.role;
  const head = h('div');
  const msg = h('div');
  const info = h('div', { 'data-testid': 'execution' }, h('p', { class: 'muted' }, 'Loading…'));
  const log = h('pre', { class: 'log', 'data-testid': 'log' });
  // The log is read by byte offset; a character split between two reads is
  // completed by the streaming decoder.
  let logBytes = 0;
  const decoder = new TextDecoder();
  let done = false;
  const kill = async () => {
    try { await api('POST', `/api/v1/executions/${id}/kill`); } catch (e) { fill(msg, errorBox(e)); }
  };
  const again = async (e) => {
    try {
      const r = await api('POST', `/api/v1/jobs/${encodeURIComponent(e.job)}/run`, { params: e.params || {} });
      ctx.navigate(`/executions/${r.execution_id}`);
    } catch (err) { fill(msg, errorBox(err)); }
  };
  const pluginResult = resultView(api); // a plugin's own view of the result, if it ships one
  fill(view, head, msg, info, pluginResult.el, h('h2', null, 'Log'), log);
  let left = false;
  const drawExecution = (e) => {
    const final = FINAL.has(e.state);
    fill(head, h('h1', null, `Execution #${e.id} `, stateBadge(e.state)),
      h('div', { class: 'toolbar' },
        h('a', { class: 'button', href: `/jobs/${encodeURIComponent(e.job)}` }, `Job ${e.job}`),
        e.flow_execution_id && h('a', { class: 'button', 'data-testid': 'flow-execution-link',
          href: `/flow-executions/${e.flow_execution_id}` }, `Flow execution #${e.flow_execution_id} (node ${e.flow_node})`),
        !final && can(role, 'operator') && h('button', { type: 'button', class: 'danger', 'data-testid': 'kill', onclick: kill }, 'Kill'),
        // A flow's node is run again from its flow execution (a re-run).
        final && !e.flow_execution_id && can(role, 'operator') &&
          h('button', { type: 'button', 'data-testid': 'run-again', onclick: () => again(e) }, 'Run again')));
    fill(info, props([
      ['job', e.job], ['type', e.type], ['state', stateBadge(e.state)], ['trigger', e.trigger],
      ['worker', e.worker_id], ['exit code', e.exit_code === null ? '' : String(e.exit_code)],
      ['error', e.error], ['pending reason', e.pending_reason], ['submitted', when(e.submitted_at)],
      ['started', when(e.started_at)], ['finished', when(e.finished_at)],
      ['params', JSON.stringify(e.params)], ['attributes', e.attributes && JSON.stringify(e.attributes)],
      ['result', e.result !== null && e.result !== undefined ? JSON.stringify(e.result) : ''],
    ]),
    h('h2', null, 'Attempts'),
    h('table', { 'data-testid': 'attempts' },
      h('tr', null, ['attempt', 'worker', 'state', 'exit code', 'pid', 'started', 'finished', 'error'].map((t) => h('th', null, t))),
      (e.attempts || []).map((a) => h('tr', null, h('td', null, String(a.attempt)), h('td', null, a.worker_id || ''),
        h('td', null, stateBadge(a.state)), h('td', null, a.exit_code ?? ''), h('td', null, a.pid ?? ''),
        h('td', null, when(a.started_at)), h('td', null, when(a.finished_at)), h('td', null, a.error || '')))));
    pluginResult.show(e);
    done = final;
  };
  // The execution (with its attempts) is read again after each of its
  // events: the event carries the list form, without attempts.
  const load = async () => {
    try {
      drawExecution(await api('GET', `/api/v1/executions/${id}`));
      fill(msg);
    } catch (e) {
      fill(msg, errorBox(e));
      throw e;
    }
  };
  const stopEvents = reloadOn(['execution'], load, { filter: (kind, ev) => String(ev.id) === String(id) });
  // The log follows live: GET .../log?offset=N&follow=1 streams the bytes
  // as the worker ships them and ends when the execution ends. A stream cut
  // short (network, master restart) is asked again from the last offset.
  let reader = null;
  const follow = async () => {
    let backoff = 500;
    while (!left) {
      let ended = false;
      try {
        const res = await fetch(`/api/v1/executions/${id}/log?offset=${logBytes}&follow=1`, { credentials: 'same-origin' });
        if (!res.ok || !res.body) throw new Error(`log: HTTP ${res.status}`);
        reader = res.body.getReader();
        for (;;) {
          const { value, done: streamEnded } = await reader.read();
          if (streamEnded) { ended = true; break; }
          if (value && value.length) {
            logBytes += value.length;
            const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
            log.append(decoder.decode(value, { stream: true }));
            if (atEnd) log.scrollTop = log.scrollHeight;
            backoff = 500;
          }
        }
      } catch (e) {
        if (left) return;
      }
      reader = null;
      // The server ends the stream when the execution ends: then the log is
      // complete once the page has seen the final state.
      if (ended && done) return;
      if (ended) await load().catch(() => {});
      if (ended && done) return;
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(backoff * 2, 10000);
    }
  };
  follow();
  return () => {
    left = true;
    stopEvents();
    pluginResult.stop();
    if (reader) reader.cancel().catch(() => {});
  };
}

export function render(view, ctx, params, search) {
  if (params[0]) return renderDetail(view, ctx, params[0]);
  return renderList(view, ctx, search);
}
