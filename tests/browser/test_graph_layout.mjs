// The console's layered DAG layout (console/graph_layout.js), in node
// without a browser: columns by longest path, no overlapping nodes, edges
// routed forward through dummy points, crossings removed where an order
// without them exists, deterministic, robust to bad input.
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const sourceDir = process.env.PAGODA_SOURCE_DIR || path.resolve(here, '../..');
const { layoutDag } = await import(pathToFileURL(path.join(sourceDir, 'console', 'graph_layout.js')).href);

/** A deterministic pseudo-random DAG of n nodes (edges only to earlier nodes). */
function randomDag(n, seed) {
  let s = seed;
  const rnd = () => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648; };
  const nodes = [];
  for (let i = 0; i < n; i++) {
    const deps = new Set();
    if (i >= 5) for (let k = 0, m = 1 + Math.floor(rnd() * 3); k < m; k++) deps.add(`n${Math.max(0, i - 1 - Math.floor(rnd() * 40))}`);
    nodes.push({ id: `n${i}`, deps: [...deps] });
  }
  return nodes;
}

function checkInvariants(nodes, L, what) {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  assert.equal(L.nodes.size, nodes.length, `${what}: every node placed`);
  for (const n of nodes) {
    const p = L.nodes.get(n.id);
    for (const v of [p.x, p.y, p.width, p.height]) assert.ok(Number.isFinite(v), `${what}: finite coordinates of ${n.id}`);
    assert.ok(p.x >= 0 && p.y >= 0 && p.x + p.width <= L.width + 0.001 && p.y + p.height <= L.height + 0.001,
      `${what}: ${n.id} inside the drawing`);
    const deps = (n.deps || []).filter((d) => byId.has(d));
    const want = deps.length ? 1 + Math.max(...deps.map((d) => L.nodes.get(d).column)) : 0;
    assert.equal(p.column, want, `${what}: ${n.id} sits one column after its latest upstream`);
  }
  // No two nodes of a column overlap (with at least a small gap).
  const columns = new Map();
  for (const [id, p] of L.nodes) (columns.get(p.column) || columns.set(p.column, []).get(p.column)).push([id, p]);
  for (const list of columns.values()) {
    list.sort((a, b) => a[1].y - b[1].y);
    for (let k = 1; k < list.length; k++) {
      assert.ok(list[k][1].y >= list[k - 1][1].y + list[k - 1][1].height + 1,
        `${what}: ${list[k - 1][0]} and ${list[k][0]} do not overlap`);
    }
  }
  // Each edge: from the right side of its upstream to the left side of its
  // downstream, always moving right, one point per column between.
  let edgeCount = 0;
  for (const n of nodes) edgeCount += new Set((n.deps || []).filter((d) => byId.has(d) && d !== n.id)).size;
  assert.equal(L.edges.length, edgeCount, `${what}: one edge per dependency`);
  for (const e of L.edges) {
    const a = L.nodes.get(e.from);
    const b = L.nodes.get(e.to);
    assert.equal(e.points[0].x, a.x + a.width);
    assert.equal(e.points[e.points.length - 1].x, b.x);
    assert.equal(e.points.length, b.column - a.column + 1, `${what}: ${e.from}→${e.to} has a point per column between`);
    for (let k = 1; k < e.points.length; k++) assert.ok(e.points[k].x > e.points[k - 1].x, 'edges move right');
    // A point in a column between stays clear of the nodes there.
    for (let k = 1; k < e.points.length - 1; k++) {
      for (const [, p] of L.nodes) {
        if (p.column !== a.column + k) continue;
        assert.ok(e.points[k].y <= p.y - 1 || e.points[k].y >= p.y + p.height + 1,
          `${what}: ${e.from}→${e.to} passes beside, not through, a node of column ${p.column}`);
      }
    }
  }
}

// A diamond: three columns, no crossing, b and c stacked.
const diamond = [{ id: 'a' }, { id: 'b', deps: ['a'] }, { id: 'c', deps: ['a'] }, { id: 'd', deps: ['b', 'c'] }];
let L = layoutDag(diamond);
checkInvariants(diamond, L, 'diamond');
assert.equal(L.crossings, 0);
assert.deepEqual(['a', 'b', 'c', 'd'].map((id) => L.nodes.get(id).column), [0, 1, 1, 2]);
assert.ok(Math.abs((L.nodes.get('a').y) - (L.nodes.get('b').y + L.nodes.get('c').y) / 2) < 1, 'a is centred on b and c');

// Two crossing edges in definition order are uncrossed.
const crossed = [{ id: 's1' }, { id: 's2' }, { id: 't1', deps: ['s2'] }, { id: 't2', deps: ['s1'] }];
L = layoutDag(crossed);
checkInvariants(crossed, L, 'crossed');
assert.equal(L.crossings, 0, 'the barycenter sweeps remove the crossing');
assert.ok((L.nodes.get('t2').y < L.nodes.get('t1').y) === (L.nodes.get('s1').y < L.nodes.get('s2').y));

// A long edge a→d beside the chain a→b→c→d goes through two dummy points.
const chain = [{ id: 'a' }, { id: 'b', deps: ['a'] }, { id: 'c', deps: ['b'] }, { id: 'd', deps: ['c', 'a'] }];
L = layoutDag(chain);
checkInvariants(chain, L, 'chain');
assert.equal(L.edges.find((e) => e.from === 'a' && e.to === 'd').points.length, 4);

// Large random DAGs (a 300-node flow is the size issue 14 names).
for (const seed of [1, 7, 42]) {
  const big = randomDag(300, seed);
  const t0 = performance.now();
  L = layoutDag(big);
  const ms = performance.now() - t0;
  checkInvariants(big, L, `random 300 (seed ${seed})`);
  assert.deepEqual(JSON.stringify([...layoutDag(big).nodes]), JSON.stringify([...L.nodes]), 'deterministic');
  console.log(`random DAG of 300 nodes (seed ${seed}): ${L.edges.length} edges, ${L.crossings} crossings, laid out in ${ms.toFixed(0)} ms`);
}

// Bad input never hangs or throws: unknown and self dependencies are
// ignored, a cycle (refused by the master) is broken.
const bad = [{ id: 'x', deps: ['nope', 'x'] }, { id: 'y', deps: ['z'] }, { id: 'z', deps: ['y'] }];
L = layoutDag(bad);
assert.equal(L.nodes.size, 3);
for (const p of L.nodes.values()) assert.ok(Number.isFinite(p.x) && Number.isFinite(p.y));
assert.equal(layoutDag([]).nodes.size, 0);

console.log('PASS: graph layout');
