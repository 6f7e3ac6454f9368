// Pagoda console — a flow's DAG drawn as SVG, laid out by graph_layout.js.
// Each node is a <g data-node=ID data-state=STATE> whose colour comes from
// its state (app.css .fnode-STATE); update() recolours nodes in place, so a
// live flow never re-runs the layout.
import { layoutDag } from './graph_layout.js';

const NS = 'http://www.w3.org/2000/svg';

function s(tag, attrs, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** A smooth path through `points`, leaving and entering each horizontally. */
function edgePath(points) {
  let d = `M${points[0].x},${points[0].y}`;
  for (let k = 1; k < points.length; k++) {
    const a = points[k - 1];
    const b = points[k];
    const dx = (b.x - a.x) / 2;
    d += ` C${a.x + dx},${a.y} ${b.x - dx},${b.y} ${b.x},${b.y}`;
  }
  return d;
}

function jobLabel(job) {
  if (typeof job === 'string') return job;
  if (job && typeof job === 'object') return job.type ? `inline ${job.type}` : 'inline job';
  return '';
}

function clip(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * nodes: a flow definition's `nodes` ([{id, job, depends_on}]).
 * onOpen(id): called when a node is clicked or activated with Enter (the
 * page opens that node's execution); null: nodes are not interactive.
 * showStates false: a definition, each node labelled with its job only.
 * Returns {el: a scrollable <div> holding the <svg>, update(states)} where
 * states maps node id → {state, execution_id, attempts, reason} (a flow
 * execution's `nodes`); nodes not in it show as `waiting`.
 */
export function drawFlowGraph(nodes, onOpen = null, showStates = true) {
  const layout = layoutDag(nodes.map((n) => ({ id: n.id, deps: n.depends_on || [] })));
  const edges = layout.edges.map((e) => s('path', { class: 'fedge', d: edgePath(e.points),
    'data-from': e.from, 'data-to': e.to, 'marker-end': 'url(#pgd-arrow)' }));
  const groups = new Map();
  for (const n of nodes) {
    const p = layout.nodes.get(n.id);
    const title = s('title', null, n.id);
    const status = s('text', { class: 'fnode-status', x: p.x + 10, y: p.y + p.height - 8 }, '');
    const g = s('g', { class: 'fnode', 'data-node': n.id, 'data-state': '',
                       tabindex: onOpen ? 0 : null, role: onOpen ? 'link' : null },
      title,
      s('rect', { x: p.x, y: p.y, width: p.width, height: p.height, rx: 5 }),
      s('text', { class: 'fnode-id', x: p.x + 10, y: p.y + 14 }, clip(n.id, 20)),
      status);
    g.dataset.job = jobLabel(n.job);
    if (onOpen) {
      g.addEventListener('click', () => onOpen(n.id));
      g.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') onOpen(n.id); });
    }
    groups.set(n.id, { g, title, status, job: jobLabel(n.job) });
  }
  const svg = s('svg', { class: 'flow-graph', width: layout.width, height: layout.height,
                         viewBox: `0 0 ${layout.width} ${layout.height}`, 'data-testid': 'flow-graph',
                         'data-crossings': layout.crossings },
    s('defs', null, s('marker', { id: 'pgd-arrow', viewBox: '0 0 10 10', refX: 10, refY: 5,
      markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, s('path', { d: 'M0,0 L10,5 L0,10 z' }))),
    s('g', { class: 'fedges' }, edges),
    s('g', { class: 'fnodes' }, [...groups.values()].map((x) => x.g)));
  const el = document.createElement('div');
  el.className = 'flow-graph-box';
  el.append(svg);

  function update(states) {
    for (const [id, x] of groups) {
      const st = (states && states[id]) || null;
      const state = (st && st.state) || 'waiting';
      if (x.g.dataset.state !== state) {
        x.g.dataset.state = state;
        x.g.setAttribute('class', `fnode fnode-${state}${st && st.reused ? ' fnode-reused' : ''}`);
      }
      const line = st && st.execution_id ? `${state} · #${st.execution_id}` : `${state} · ${clip(x.job, 14)}`;
      if (x.status.textContent !== line) x.status.textContent = line;
      const tip = [id, `job: ${x.job}`, `state: ${state}`, st && st.reason && `reason: ${st.reason}`,
        st && st.execution_id && `execution #${st.execution_id} (click for its log)`].filter(Boolean).join('\n');
      if (x.title.textContent !== tip) x.title.textContent = tip;
      x.g.classList.toggle('fnode-open', Boolean(onOpen && st && st.execution_id));
    }
  }
  if (showStates) update(null);
  else { // a definition: what each node runs, no state
    for (const x of groups.values()) {
      x.g.dataset.state = 'definition';
      x.status.textContent = clip(x.job, 24);
      x.title.textContent = `${x.g.dataset.node}\njob: ${x.job}`;
    }
  }
  return { el, update, layout };
}
