// A flow execution (docs/console.md "Flows"): the DAG with node states
// updated live from `flow` events, the nodes with their logs one click
// away, kill, re-run from failed or chosen nodes.
import { api, can } from '../api.js';
import { h, fill, errorBox } from '../dom.js';
import { subscribe } from '../live.js';
import { drawFlowGraph } from '../flow_graph.js';
import { flowState, whenUs } from './flows.js';

const FINAL_NODE = new Set(['succeeded', 'failed', 'killed', 'skipped', 'upstream_failed']);
const NODE_RANK = { waiting: 0, ready: 1, running: 2 };

/** How far a flow execution got: grows with every step it takes. */
function progress(f) {
  let p = f.state === 'running' ? 0 : 1;
  for (const n of Object.values(f.nodes || {})) p += FINAL_NODE.has(n.state) ? 3 : (NODE_RANK[n.state] ?? 0);
  return p;
}

export function render(view, ctx, params) {
  const id = params[0];
  const role = ctx.me.role;
  const head = h('div');
  const msg = h('div');
  const graphBox = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
  const nodesBox = h('div');
  const rerunParams = h('input', { type: 'text', size: 40, placeholder: '{"key": "value"} (optional params)', 'data-testid': 'rerun-params' });
  let graph = null;
  let fexec = null;
  const chosen = new Set(); // nodes ticked for "Re-run chosen"
  const open = (node) => {
    const st = fexec && fexec.nodes && fexec.nodes[node];
    if (st && st.execution_id) ctx.navigate(`/executions/${st.execution_id}`);
  };
  const rerun = async (body) => {
    fill(msg);
    if (rerunParams.value.trim()) {
      try { body.params = JSON.parse(rerunParams.value); } catch (e) {
        fill(msg, errorBox(new Error(`params: ${e.message}`), 'rerun-error'));
        return;
      }
    }
    try {
      const r = await api('POST', `/api/v1/flow-executions/${id}/rerun`, body);
      ctx.navigate(`/flow-executions/${r.flow_execution_id}`);
    } catch (e) { fill(msg, errorBox(e, 'rerun-error')); }
  };
  const kill = async () => {
    try { await api('POST', `/api/v1/flow-executions/${id}/kill`); } catch (e) { fill(msg, errorBox(e)); }
  };
  const drawHead = () => {
    const final = fexec.state !== 'running';
    const operator = can(role, 'operator');
    fill(head, h('h1', null, `Flow execution #${fexec.id} `, flowState(fexec.state)),
      h('div', { class: 'toolbar' },
        h('a', { class: 'button', href: `/flows/${encodeURIComponent(fexec.flow)}` }, `Flow ${fexec.flow}`),
        fexec.rerun_of && h('a', { class: 'button', href: `/flow-executions/${fexec.rerun_of}` }, `Re-run of #${fexec.rerun_of}`),
        operator && !final && h('button', { type: 'button', class: 'danger', 'data-testid': 'kill-flow', onclick: kill }, 'Kill'),
        operator && final && fexec.state !== 'succeeded' && h('button', { type: 'button', 'data-testid': 'rerun-failed',
          onclick: () => rerun({ from_failed: true }) }, 'Re-run from failed'),
        operator && final && h('button', { type: 'button', 'data-testid': 'rerun-chosen', disabled: !chosen.size,
          title: 'tick nodes below: they and everything downstream run again',
          onclick: () => rerun({ nodes: [...chosen] }) }, `Re-run chosen (${chosen.size})`),
        operator && final && rerunParams),
      h('p', { class: 'muted' }, `trigger ${fexec.trigger || 'api'} · started ${whenUs(fexec.created_at)}`,
        fexec.finished_at ? ` · finished ${whenUs(fexec.finished_at)}` : '',
        Object.keys(fexec.params || {}).length ? ` · params ${JSON.stringify(fexec.params)}` : '',
        Object.keys(fexec.vars || {}).length ? ` · vars ${JSON.stringify(fexec.vars)}` : ''),
      fexec.error && errorBox(new Error(fexec.error), 'flow-error'),
      (fexec.hook_errors || []).length > 0 && errorBox(new Error(fexec.hook_errors
        .map((e) => `hook ${e.hook}${e.node ? ` (node ${e.node})` : ''}: ${e.error}`).join('\n')), 'hook-errors'));
  };
  const nodeRow = (nodeId, st, pick) => {
    const box = pick && h('input', { type: 'checkbox', 'data-rerun-node': nodeId, checked: chosen.has(nodeId),
      onchange: (ev) => { if (ev.target.checked) chosen.add(nodeId); else chosen.delete(nodeId); drawHead(); } });
    return h('tr', { 'data-node-row': nodeId },
      pick && h('td', null, box), h('td', null, nodeId), h('td', null, flowState(st.state), st.reused ? ' (reused)' : ''),
      h('td', null, st.execution_id ? h('a', { href: `/executions/${st.execution_id}`, 'data-node-log': nodeId },
        `#${st.execution_id} log`) : ''),
      h('td', null, st.attempts ? String(st.attempts) : ''),
      h('td', null, whenUs(st.started_at)), h('td', null, whenUs(st.finished_at)),
      h('td', null, st.outputs && Object.keys(st.outputs).length ? JSON.stringify(st.outputs) : ''),
      h('td', null, [st.reason, st.skip_cause && `(${st.skip_cause})`, st.exec_state && st.exec_state !== st.state &&
        FINAL_NODE.has(st.state) && `execution ${st.exec_state}`].filter(Boolean).join(' ')));
  };
  // The table is built once (again when the re-run column comes or goes);
  // after that only the rows of nodes whose state changed are rebuilt, so a
  // 300-node flow stays cheap to follow.
  let table = null; // {pick, rows: Map node → {key, tr}}
  const drawNodes = (order) => {
    const pick = can(role, 'operator') && fexec.state !== 'running';
    const stateOf = (nodeId) => fexec.nodes[nodeId] || { state: 'waiting' };
    if (table && table.pick === pick) {
      for (const nodeId of order) {
        const st = stateOf(nodeId);
        const key = JSON.stringify(st);
        const row = table.rows.get(nodeId);
        if (row.key === key) continue;
        const tr = nodeRow(nodeId, st, pick);
        row.tr.replaceWith(tr);
        Object.assign(row, { key, tr });
      }
      return;
    }
    table = { pick, rows: new Map() };
    fill(nodesBox, h('table', { 'data-testid': 'flow-nodes' },
      h('tr', null, [pick && 're-run', 'node', 'state', 'execution', 'attempts', 'started', 'finished', 'outputs', 'reason']
        .filter(Boolean).map((t) => h('th', null, t))),
      order.map((nodeId) => {
        const st = stateOf(nodeId);
        const tr = nodeRow(nodeId, st, pick);
        table.rows.set(nodeId, { key: JSON.stringify(st), tr });
        return tr;
      })));
  };
  let order = [];
  const draw = () => {
    if (!fexec) return;
    drawHead();
    if (graph) graph.update(fexec.nodes);
    drawNodes(order);
  };
  // An event that arrives while the page reads the flow execution may be
  // older or newer than what the read returns: the one that got further
  // (nodes only move forward: waiting → ready → running → an end) is kept.
  let loading = false;
  let during = null; // the newest event's flow execution seen while loading
  const load = async () => {
    if (loading) return;
    loading = true;
    during = null;
    try {
      const f = await api('GET', `/api/v1/flow-executions/${id}?definition=1`);
      if (!graph && f.definition) {
        graph = drawFlowGraph(f.definition.nodes, open);
        order = f.definition.nodes.map((n) => n.id);
        fill(graphBox, h('p', { class: 'muted' }, 'Click a node that ran to open its execution and log.'), graph.el);
      }
      delete f.definition;
      fexec = during && progress(during) >= progress(f) ? during : f;
      fill(msg);
      draw();
    } catch (e) {
      fill(msg, errorBox(e));
      throw e;
    } finally {
      loading = false;
      during = null;
    }
  };
  fill(view, head, msg, graphBox, h('h2', null, 'Nodes'), nodesBox);
  // `flow` events carry the whole flow execution (without its definition):
  // the graph is recoloured from them; a reset reloads through REST.
  let drawQueued = false;
  const unsubscribe = subscribe(['flow'], (kind, ev) => {
    if (kind === 'reset') { load().catch(() => {}); return; }
    if (!ev.flow_execution || String(ev.flow_execution.id) !== String(id)) return;
    if (loading || !fexec) { during = ev.flow_execution; return; }
    fexec = ev.flow_execution;
    if (!drawQueued) { drawQueued = true; requestAnimationFrame(() => { drawQueued = false; draw(); }); }
  });
  load().catch(() => {});
  return unsubscribe;
}

