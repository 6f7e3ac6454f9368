// Pagoda console — a layered ("Sugiyama") layout of a DAG, left to right.
// Pure: no DOM, so node runs it in tests (tests/browser/test_graph_layout.mjs)
// and in bench/console_render.mjs. docs/architecture.md "Web console" says
// why it is written here rather than taken from npm.
//
// The four classic steps:
//  1. layers: each node's column is the longest path to it from a source;
//  2. an edge that spans several columns gets a dummy point in each column
//     between, so it is routed around the nodes there and its crossings count;
//  3. order within a column: barycenter sweeps, down and up, each followed
//     by swaps of neighbours that cross fewer edges swapped (dot's
//     "transpose"), keeping the order with the fewest crossings seen;
//  4. coordinates: each node is pulled towards the mean of its neighbours
//     (alternately those on the left and on the right), then nodes are
//     spaced apart by the mean of a forward and a backward packing, which
//     keeps the order and the spacing (each packing does, so their mean does).

const DUMMY_GAP = 10;

/**
 * nodes: [{id, deps: [id, ...]}] in definition order (deps naming unknown ids
 * are ignored; a cycle, which the master refuses, is broken arbitrarily).
 * opts: {nodeWidth=150, nodeHeight=34, columnGap=70, rowGap=18, sweeps=24}.
 * Returns {nodes: Map id → {x, y, width, height, column, row} (x, y: the
 * top-left corner), edges: [{from, to, points: [{x, y}, ...]}] (from the
 * right side of `from` to the left side of `to`, through the dummy points),
 * width, height, crossings}.
 */
export function layoutDag(nodes, opts = {}) {
  const W = opts.nodeWidth ?? 150;
  const H = opts.nodeHeight ?? 34;
  const colGap = opts.columnGap ?? 70;
  const rowGap = opts.rowGap ?? 18;
  const sweeps = opts.sweeps ?? 24;

  // --- 1. columns by longest path (Kahn's order).
  const index = new Map(nodes.map((n, i) => [n.id, i]));
  const n = nodes.length;
  const preds = nodes.map((nd) => [...new Set((nd.deps || []).filter((d) => index.has(d) && d !== nd.id))].map((d) => index.get(d)));
  const succs = Array.from({ length: n }, () => []);
  preds.forEach((ps, i) => ps.forEach((p) => succs[p].push(i)));
  const indeg = preds.map((ps) => ps.length);
  const column = new Array(n).fill(0);
  const queue = [];
  indeg.forEach((d, i) => { if (d === 0) queue.push(i); });
  const seen = new Array(n).fill(false);
  for (let qi = 0; qi < queue.length || seen.includes(false); qi++) {
    if (qi >= queue.length) { // a cycle: start from the first node not placed
      const i = seen.indexOf(false);
      queue.push(i);
    }
    const i = queue[qi];
    if (seen[i]) continue;
    seen[i] = true;
    for (const s of succs[i]) {
      if (seen[s]) continue;
      column[s] = Math.max(column[s], column[i] + 1);
      if (--indeg[s] === 0) queue.push(s);
    }
  }

  // --- 2. vertices (nodes, then dummies) and unit-span links between columns.
  // vertex: {node: index or -1, column}
  const vertices = nodes.map((nd, i) => ({ node: i, column: column[i] }));
  const chains = []; // per edge: [from vertex, dummies..., to vertex]
  for (let t = 0; t < n; t++) {
    for (const f of preds[t]) {
      if (column[f] >= column[t]) continue; // only a broken cycle's edge
      const chain = [f];
      for (let c = column[f] + 1; c < column[t]; c++) {
        vertices.push({ node: -1, column: c });
        chain.push(vertices.length - 1);
      }
      chain.push(t);
      chains.push({ from: f, to: t, chain });
    }
  }
  const up = vertices.map(() => []); // neighbours in the column before
  const down = vertices.map(() => []); // neighbours in the column after
  for (const { chain } of chains) {
    for (let k = 0; k + 1 < chain.length; k++) {
      down[chain[k]].push(chain[k + 1]);
      up[chain[k + 1]].push(chain[k]);
    }
  }
  const columns = Math.max(0, ...vertices.map((v) => v.column + 1));
  let layers = Array.from({ length: columns }, () => []);
  // Initial order: definition order, dummies after their upstream's position.
  vertices.forEach((v, i) => layers[v.column].push(i));

  // --- 3. crossing reduction.
  const pos = new Array(vertices.length).fill(0);
  const setPos = (ls) => ls.forEach((l) => l.forEach((v, k) => { pos[v] = k; }));
  const crossingsBetween = (upper) => {
    // Edges (a, b) from column `upper` to the next; a crossing is a pair
    // with a before a' and b after b': the inversions of the b positions
    // taken in a order, counted with a Fenwick tree in O(E log V).
    const edges = [];
    for (const a of layers[upper]) for (const b of down[a]) edges.push([pos[a], pos[b]]);
    edges.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    const size = layers[upper + 1].length;
    const tree = new Array(size + 1).fill(0);
    let c = 0;
    let seenCount = 0;
    for (const [, b] of edges) {
      let notAfter = 0; // edges seen so far ending at or before b
      for (let i = b + 1; i > 0; i -= i & -i) notAfter += tree[i];
      c += seenCount - notAfter;
      for (let i = b + 1; i <= size; i += i & -i) tree[i]++;
      seenCount++;
    }
    return c;
  };
  const totalCrossings = () => {
    let c = 0;
    for (let l = 0; l + 1 < columns; l++) c += crossingsBetween(l);
    return c;
  };
  const reorder = (l, neighboursOf) => {
    const bary = new Map();
    for (const v of layers[l]) {
      const ns = neighboursOf[v];
      bary.set(v, ns.length ? ns.reduce((s, u) => s + pos[u], 0) / ns.length : pos[v]);
    }
    // A stable sort keeps the current order between equal barycenters.
    layers[l] = [...layers[l]].sort((a, b) => bary.get(a) - bary.get(b));
    layers[l].forEach((v, k) => { pos[v] = k; });
  };
  // Swapping two neighbours u, v of a column changes only the crossings of
  // their own edges: uv counts those with u before v, vu with v before u.
  const pairCrossings = (u, v) => {
    let uv = 0;
    let vu = 0;
    for (const ns of [up, down]) {
      for (const a of ns[u]) {
        for (const b of ns[v]) {
          if (pos[a] > pos[b]) uv++;
          else if (pos[a] < pos[b]) vu++;
        }
      }
    }
    return [uv, vu];
  };
  const transpose = () => {
    for (let pass = 0, improved = true; improved && pass < 4; pass++) {
      improved = false;
      for (const l of layers) {
        for (let k = 0; k + 1 < l.length; k++) {
          const [uv, vu] = pairCrossings(l[k], l[k + 1]);
          if (vu < uv) {
            [l[k], l[k + 1]] = [l[k + 1], l[k]];
            pos[l[k]] = k;
            pos[l[k + 1]] = k + 1;
            improved = true;
          }
        }
      }
    }
  };
  setPos(layers);
  let best = layers.map((l) => [...l]);
  let bestCrossings = totalCrossings();
  for (let s = 0; s < sweeps && bestCrossings > 0; s++) {
    if (s % 2 === 0) for (let l = 1; l < columns; l++) reorder(l, up);
    else for (let l = columns - 2; l >= 0; l--) reorder(l, down);
    transpose();
    const c = totalCrossings();
    if (c < bestCrossings) { bestCrossings = c; best = layers.map((x) => [...x]); }
  }
  layers = best;
  setPos(layers);

  // --- 4. coordinates: y of each vertex's centre within its column.
  const height = (v) => (vertices[v].node >= 0 ? H : 0);
  const gap = (a, b) => (vertices[a].node >= 0 && vertices[b].node >= 0 ? rowGap : DUMMY_GAP);
  const sep = (a, b) => (height(a) + height(b)) / 2 + gap(a, b);
  const y = new Array(vertices.length).fill(0);
  for (const l of layers) {
    let at = 0;
    l.forEach((v, k) => { if (k > 0) at += sep(l[k - 1], v); y[v] = at; });
  }
  const place = (l, want) => {
    const vs = layers[l];
    const m = vs.length;
    const fwd = new Array(m);
    const bwd = new Array(m);
    for (let k = 0; k < m; k++) fwd[k] = k ? Math.max(want[k], fwd[k - 1] + sep(vs[k - 1], vs[k])) : want[k];
    for (let k = m - 1; k >= 0; k--) bwd[k] = k < m - 1 ? Math.min(want[k], bwd[k + 1] - sep(vs[k], vs[k + 1])) : want[k];
    for (let k = 0; k < m; k++) y[vs[k]] = (fwd[k] + bwd[k]) / 2;
  };
  for (let it = 0; it < 8; it++) {
    const downward = it % 2 === 0;
    const order = downward ? [...Array(columns).keys()] : [...Array(columns).keys()].reverse();
    for (const l of order) {
      const want = layers[l].map((v) => {
        const ns = (downward ? up : down)[v].length ? (downward ? up : down)[v] : (downward ? down : up)[v];
        return ns.length ? ns.reduce((s, u) => s + y[u], 0) / ns.length : y[v];
      });
      place(l, want);
    }
  }
  const minY = Math.min(0, ...y.map((v, i) => v - height(i) / 2));
  const margin = 8;
  const outNodes = new Map();
  nodes.forEach((nd, i) => {
    outNodes.set(nd.id, {
      x: margin + column[i] * (W + colGap), y: margin + y[i] - H / 2 - minY,
      width: W, height: H, column: column[i], row: pos[i],
    });
  });
  const vx = (v) => margin + vertices[v].column * (W + colGap);
  const vy = (v) => margin + y[v] - minY;
  const edges = chains.map(({ from, to, chain }) => ({
    from: nodes[from].id, to: nodes[to].id,
    points: chain.map((v, k) => {
      if (k === 0) return { x: vx(v) + W, y: vy(v) };
      if (k === chain.length - 1) return { x: vx(v), y: vy(v) };
      return { x: vx(v) + W / 2, y: vy(v) };
    }),
  }));
  let maxY = 0;
  vertices.forEach((v, i) => { maxY = Math.max(maxY, vy(i) + height(i) / 2); });
  return {
    nodes: outNodes, edges, crossings: bestCrossings,
    width: n ? margin * 2 + columns * W + (columns - 1) * colGap : 0,
    height: n ? maxY + margin : 0,
  };
}
