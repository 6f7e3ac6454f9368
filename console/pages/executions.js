// Executions: the list (filters job and state, paged on the server with
// ?limit&before) and one execution (attempts, attributes, the log, kill,
// run again), refreshed through live.js while it runs.
import { api, apiBytes, can } from '../api.js';
import { h, fill, stateBadge, when, errorBox } from '../dom.js';
import { watch } from '../live.js';
import { resultView } from '../plugin_view.js';

const PAGE = 50;
const STATES = ['', 'pending', 'dispatched', 'running', 'succeeded', 'failed', 'killed', 'timed_out', 'lost'];
const FINAL = new Set(['succeeded', 'failed', 'killed', 'timed_out', 'lost']);

function renderList(view, ctx, search) {
  const job = h('input', { type: 'search', placeholder: 'job', value: search.get('job') || '', 'data-testid': 'filter-job' });
  const state = h('select', { 'data-testid': 'filter-state' },
    STATES.map((s) => h('option', { value: s, selected: s === (search.get('state') || '') }, s || 'any state')));
  const before = search.get('before');
  const table = h('div', { 'data-testid': 'executions' }, h('p', { class: 'muted' }, 'Loading…'));
  const go = (extra = {}) => {
    const q = new URLSearchParams();
    if (job.value.trim()) q.set('job', job.value.trim());
    if (state.value) q.set('state', state.value);
    for (const [k, v] of Object.entries(extra)) q.set(k, v);
    ctx.navigate(`/executions${q.toString() ? `?${q}` : ''}`);
  };
  const form = h('form', { class: 'toolbar' }, job, state,
    h('button', { type: 'submit' }, 'Filter'),
    before && h('a', { class: 'button', href: '/executions' }, 'Newest'));
  form.addEventListener('submit', (ev) => { ev.preventDefault(); go(); });
  state.addEventListener('change', () => go());
  fill(view, h('h1', null, 'Executions'), form, table);

  const q = new URLSearchParams({ limit: String(PAGE) });
  if (search.get('job')) q.set('job', search.get('job'));
  if (search.get('state')) q.set('state', search.get('state'));
  if (before) q.set('before', before);
  return watch(async () => {
    try {
      const r = await api('GET', `/api/v1/executions?${q}`);
      const rows = r.executions;
      fill(table, rows.length ? h('table', null,
        h('tr', null, ['id', 'job', 'state', 'attempt', 'worker', 'submitted', 'finished', 'error']
          .map((t) => h('th', null, t))),
        rows.map((e) => h('tr', { 'data-exec': e.id },
          h('td', null, h('a', { href: `/executions/${e.id}` }, `#${e.id}`)), h('td', null, e.job),
          h('td', null, stateBadge(e.state)), h('td', null, String(e.attempt ?? '')),
          h('td', null, e.worker_id || ''), h('td', null, when(e.submitted_at)),
          h('td', null, when(e.finished_at)), h('td', null, e.error || '')))) :
        h('p', { class: 'muted' }, 'No execution matches.'),
      rows.length === PAGE && h('p', null, h('button', { type: 'button', 'data-testid': 'older',
        onclick: () => go({ before: String(rows[rows.length - 1].id) }) }, 'Older')));
    } catch (e) {
      fill(table, errorBox(e));
      throw e;
    }
  }, before ? 60000 : 3000); // an older page changes little
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
  const stop = watch(async () => {
    if (done) return;
    try {
      const e = await api('GET', `/api/v1/executions/${id}`);
      // The log grows at its end: ask only for the bytes not seen yet.
      const more = await apiBytes(`/api/v1/executions/${id}/log?offset=${logBytes}`);
      if (more.length) {
        logBytes += more.length;
        log.append(decoder.decode(more, { stream: true }));
        log.scrollTop = log.scrollHeight;
      }
      const final = FINAL.has(e.state);
      fill(head, h('h1', null, `Execution #${e.id} `, stateBadge(e.state)),
        h('div', { class: 'toolbar' },
          h('a', { class: 'button', href: `/jobs/${encodeURIComponent(e.job)}` }, `Job ${e.job}`),
          !final && can(role, 'operator') && h('button', { type: 'button', class: 'danger', 'data-testid': 'kill', onclick: kill }, 'Kill'),
          final && can(role, 'operator') && h('button', { type: 'button', 'data-testid': 'run-again', onclick: () => again(e) }, 'Run again')));
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
      done = final; // the log is complete once the state is final and read after it
    } catch (e) {
      fill(msg, errorBox(e));
      throw e;
    }
  }, 1000);
  return () => { stop(); pluginResult.stop(); };
}

export function render(view, ctx, params, search) {
  if (params[0]) return renderDetail(view, ctx, params[0]);
  return renderList(view, ctx, search);
}
