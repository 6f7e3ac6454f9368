// Flows (docs/console.md "Flows"): the list of flows with the latest flow
// executions; a flow's page (its DAG, run with params, its executions,
// refreshed on `flow` events). A flow execution's page is
// flow_execution.js. Buttons appear only for roles that may use them.
import { api, can } from '../api.js';
import { h, fill, errorBox, when } from '../dom.js';
import { reloadOn } from '../live.js';
import { drawFlowGraph } from '../flow_graph.js';
import { takeFlash } from './editors.js';

const PAGE = 50;

/** A flow execution's or node's state, coloured like the graph. */
export function flowState(state) {
  return h('span', { class: `state fstate-${state}`, 'data-state': state }, state);
}

/** µs since the epoch (0 = not yet) → local time. */
export function whenUs(us) { return us ? when(us) : ''; }

function fexecTable(rows, testid, withFlow) {
  if (!rows.length) return h('p', { class: 'muted', 'data-testid': testid }, 'No flow execution yet.');
  return h('table', { 'data-testid': testid },
    h('tr', null, ['id', withFlow && 'flow', 'state', 'nodes', 'trigger', 'started', 'finished', 're-run of']
      .filter(Boolean).map((t) => h('th', null, t))),
    rows.map((f) => {
      const nodes = Object.values(f.nodes || {});
      const ok = nodes.filter((n) => n.state === 'succeeded').length;
      return h('tr', { 'data-fexec': f.id },
        h('td', null, h('a', { href: `/flow-executions/${f.id}` }, `#${f.id}`)),
        withFlow && h('td', null, h('a', { href: `/flows/${encodeURIComponent(f.flow)}` }, f.flow)),
        h('td', null, flowState(f.state)), h('td', null, `${ok} / ${nodes.length} succeeded`),
        h('td', null, f.trigger || ''), h('td', null, whenUs(f.created_at)), h('td', null, whenUs(f.finished_at)),
        h('td', null, f.rerun_of ? h('a', { href: `/flow-executions/${f.rerun_of}` }, `#${f.rerun_of}`) : ''));
    }));
}

function renderList(view, ctx) {
  const admin = can(ctx.me.role, 'admin');
  const list = h('div', { 'data-testid': 'flows' }, h('p', { class: 'muted' }, 'Loading…'));
  const recent = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
  fill(view, h('h1', null, 'Flows'), takeFlash(ctx),
    admin && h('div', { class: 'toolbar' }, h('a', { class: 'button', href: '/flows/new', 'data-testid': 'new-flow' }, 'New flow')),
    list, h('h2', null, 'Latest flow executions'), recent);
  api('GET', '/api/v1/flows').then((r) => {
    fill(list, r.flows.length ? h('table', null,
      h('tr', null, ['name', 'nodes', 'failure strategy', 'max parallel', 'description', ''].map((t) => h('th', null, t))),
      r.flows.map((f) => h('tr', { 'data-flow': f.name },
        h('td', null, h('a', { href: `/flows/${encodeURIComponent(f.name)}` }, f.name)),
        h('td', null, String((f.nodes || []).length)), h('td', null, f.failure_strategy || 'fail_fast'),
        h('td', null, f.max_parallel ? String(f.max_parallel) : ''), h('td', null, f.description || ''),
        h('td', null, h('a', { class: 'button', href: `/flows/${encodeURIComponent(f.name)}` }, 'Open'),
          admin && [' ', h('a', { class: 'button', 'data-testid': 'edit-flow',
            href: `/flows/${encodeURIComponent(f.name)}/edit` }, 'Edit')])))) :
      h('p', { class: 'muted' }, 'No flow defined yet (POST /api/v1/flows, docs/flows.md).'));
  }).catch((e) => fill(list, errorBox(e)));
  return reloadOn(['flow'], async () => {
    try {
      const r = await api('GET', '/api/v1/flow-executions?limit=20');
      fill(recent, fexecTable(r.flow_executions, 'flow-executions', true));
    } catch (e) { fill(recent, errorBox(e)); throw e; }
  });
}

function renderFlow(view, ctx, name, search) {
  const before = search.get('before');
  const role = ctx.me.role;
  const head = h('div');
  const graphBox = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
  const msg = h('div');
  const params = h('textarea', { class: 'short', spellcheck: 'false', 'data-testid': 'flow-params' });
  const runs = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
  const run = async () => {
    fill(msg);
    let body = {};
    if (params.value.trim()) {
      try { body = { params: JSON.parse(params.value) }; } catch (e) {
        fill(msg, errorBox(new Error(`params: ${e.message}`), 'run-error'));
        return;
      }
    }
    try {
      const r = await api('POST', `/api/v1/flows/${encodeURIComponent(name)}/run`, body);
      ctx.navigate(`/flow-executions/${r.flow_execution_id}`);
    } catch (e) { fill(msg, errorBox(e, 'run-error')); }
  };
  fill(view, head, takeFlash(ctx),
    can(role, 'admin') && h('div', { class: 'toolbar' }, h('a', { class: 'button', 'data-testid': 'edit-flow',
      href: `/flows/${encodeURIComponent(name)}/edit` }, 'Edit or delete')),
    graphBox,
    can(role, 'operator') && h('div', null, h('h2', null, 'Run'),
      h('p', { class: 'muted' }, 'Params (JSON) replace the flow\'s defaults for this run; nodes read them as ${flow.params.X}.'),
      params, h('div', { class: 'toolbar' }, h('button', { type: 'button', class: 'primary', 'data-testid': 'run-flow', onclick: run }, 'Run'))),
    msg, h('h2', null, 'Executions'), runs);
  api('GET', `/api/v1/flows/${encodeURIComponent(name)}`).then((def) => {
    fill(head, h('h1', null, `Flow ${def.name}`),
      h('p', { class: 'muted' }, `${def.nodes.length} nodes · failure strategy ${def.failure_strategy || 'fail_fast'}`,
        def.max_parallel ? ` · at most ${def.max_parallel} at once` : '', def.description ? ` · ${def.description}` : ''));
    if (!params.value) params.value = JSON.stringify(def.params || {}, null, 2);
    fill(graphBox, drawFlowGraph(def.nodes, null, false).el,
      h('details', null, h('summary', null, 'Definition (JSON)'),
        h('pre', { class: 'json', 'data-testid': 'flow-definition' }, JSON.stringify(def, null, 2))));
  }).catch((e) => fill(graphBox, errorBox(e)));
  // Paged on the server like the executions list: ?before=ID for older ones.
  const here = `/flows/${encodeURIComponent(name)}`;
  return reloadOn(['flow'], async () => {
    try {
      const q = new URLSearchParams({ flow: name, limit: String(PAGE) });
      if (before) q.set('before', before);
      const rows = (await api('GET', `/api/v1/flow-executions?${q}`)).flow_executions;
      fill(runs, fexecTable(rows, 'flow-executions', false),
        h('div', { class: 'toolbar' },
          before && h('a', { class: 'button', href: here }, 'Newest'),
          rows.length === PAGE && h('a', { class: 'button', 'data-testid': 'older',
            href: `${here}?before=${rows[rows.length - 1].id}` }, 'Older')));
    } catch (e) { fill(runs, errorBox(e)); throw e; }
  }, { filter: (kind, ev) => !before && ev.flow_execution && ev.flow_execution.flow === name });
}

export function render(view, ctx, params, search) {
  if (params[0]) return renderFlow(view, ctx, params[0], search);
  return renderList(view, ctx);
}
