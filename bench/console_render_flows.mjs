// Console benchmarks in the headless browser (issue 14; docs/benchmarks.md
// "Console: 300-node flow render and event delay"):
//
//  1. time to first render of a 300-node flow: a full page load of
//     /flows/NAME (the definition drawn) and of /flow-executions/ID (drawn
//     and coloured by node state), from navigation start to the SVG graph
//     in the DOM with all its nodes (a MutationObserver in the page notes
//     performance.now()); --loads times each, median and max;
//  2. event delay: executions of a shell job `true` are started from node
//     (at most --inflight at once) while the console page has a live.js
//     subscription; for each execution event the page notes Date.now() minus
//     the event's `at_us` (the master's clock when it recorded the change;
//     same machine). p50/p90/p99/max over all events and over the final
//     ones; the bar is p99 under 100 ms.
//
// Nothing asserts; figures are printed. Needs what the browser tests need
// (node, tests/browser/node_modules from `npm ci`, /usr/bin/chromium) and a
// built tree.
// Usage: node bench/console_render_flows.mjs [--build-dir build] [--nodes 300]
//        [--loads 10] [--runs 500] [--inflight 4] [--screenshot FILE.png]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { startDev } from '../tests/browser/dev.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const sourceDir = path.resolve(here, '..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const buildDir = path.resolve(arg('build-dir', process.env.PAGODA_BUILD_DIR || path.join(sourceDir, 'build')));
const NODES = Number(arg('nodes', 300));
const LOADS = Number(arg('loads', 10));
const RUNS = Number(arg('runs', 500));
const INFLIGHT = Number(arg('inflight', 4));
const SHOT = arg('screenshot', null); // a PNG of the 300-node flow execution page
const chromiumPath = process.env.PAGODA_CHROMIUM || '/usr/bin/chromium';
const { chromium } = createRequire(path.join(sourceDir, 'tests', 'browser', 'package.json'))('playwright-core');

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.round((p / 100) * (s.length - 1)))]; };
const show = (name, ms) => console.log(`${name.padEnd(30)} n=${String(ms.length).padStart(5)}  p50 ${pct(ms, 50).toFixed(1).padStart(7)} ms  p90 ${pct(ms, 90).toFixed(1).padStart(7)} ms  p99 ${pct(ms, 99).toFixed(1).padStart(7)} ms  max ${Math.max(...ms).toFixed(1).padStart(7)} ms`);

/** A layered DAG like a real ETL flow: ~15 columns, each node depending on
 * one to three nodes of the columns shortly before (deterministic). */
function bigFlow(name, n) {
  let s = 12345;
  const rnd = () => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648; };
  const nodes = [];
  for (let i = 0; i < n; i++) {
    const deps = new Set();
    if (i >= 20) for (let k = 0, m = 1 + Math.floor(rnd() * 3); k < m; k++) deps.add(`n${i - 1 - Math.floor(rnd() * Math.min(i, 40))}`);
    nodes.push({ id: `n${i}`, job: 'noop', depends_on: [...deps] });
  }
  return { name, nodes };
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pgd-bench-console-'));
const dev = await startDev(path.join(buildDir, 'pagoda'), tmp);
const browser = await chromium.launch({ executablePath: chromiumPath, headless: true,
  args: process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [] });
async function api(method, p, body) {
  const res = await fetch(dev.url + p, { method, body: body ? JSON.stringify(body) : undefined,
    headers: { Authorization: `Bearer ${dev.token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) } });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}
try {
  console.log(`machine: ${os.cpus().length} CPUs (${os.cpus()[0].model}), load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; ${new Date().toISOString()}`);
  await api('POST', '/api/v1/jobs', { name: 'noop', type: 'shell', params: { script: 'true' } });
  await api('POST', '/api/v1/flows', bigFlow('big', NODES));

  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  // Notes when the graph with all its nodes is first in the DOM.
  await context.addInitScript((want) => {
    new MutationObserver((_, obs) => {
      const svg = document.querySelector('svg.flow-graph');
      if (svg && svg.querySelectorAll('[data-node]').length >= want &&
          !svg.querySelector('[data-node][data-state=""]')) {
        window.__graphAt = performance.now();
        obs.disconnect();
      }
    }).observe(document, { childList: true, subtree: true, attributes: true });
  }, NODES);
  const page = await context.newPage();
  await page.goto(dev.url + '/');
  await page.getByTestId('token').fill(dev.token);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('overview').waitFor({ timeout: 30000 });

  const timeLoads = async (url, label) => {
    const ms = [];
    for (let i = 0; i < LOADS; i++) {
      await page.goto(url);
      // Polled from node: the console's CSP forbids the evaluated strings
      // page.waitForFunction polls with.
      const deadline = Date.now() + 60000;
      let at;
      while ((at = await page.evaluate(() => window.__graphAt)) === undefined) {
        if (Date.now() > deadline) throw new Error(`${url}: no graph within 60 s`);
        await new Promise((r) => setTimeout(r, 20));
      }
      ms.push(at);
    }
    show(label, ms);
  };
  await timeLoads(`${dev.url}/flows/big`, `flow page, ${NODES} nodes`);

  const { flow_execution_id: fid } = await api('POST', '/api/v1/flows/big/run', {});
  const deadline = Date.now() + 600000;
  while ((await api('GET', `/api/v1/flow-executions/${fid}`)).state === 'running') {
    if (Date.now() > deadline) throw new Error('the 300-node flow did not end within 10 minutes');
    await new Promise((r) => setTimeout(r, 500));
  }
  await timeLoads(`${dev.url}/flow-executions/${fid}`, `flow execution, ${NODES} nodes`);
  const crossings = await page.locator('svg.flow-graph').getAttribute('data-crossings');
  const size = await page.locator('svg.flow-graph').evaluate((el) => `${el.getAttribute('width')}x${Math.round(el.getAttribute('height'))}`);
  console.log(`  (layout: ${crossings} edge crossings, drawing ${size} px)`);
  if (SHOT) await page.screenshot({ path: path.resolve(SHOT) }); // the viewport: the start of the graph

  // node learns that a run ended from its own event stream (polling would
  // load the master and the CPUs the browser needs).
  const ended = new Map(); // execution id → resolve
  const endedEarly = new Set();
  const stream = await fetch(`${dev.url}/api/v1/events?kinds=execution`, { headers: { Authorization: `Bearer ${dev.token}` } });
  const reader = stream.body.getReader();
  (async () => {
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ done: true }));
      if (done) return;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (!line.startsWith('data: ')) continue;
        const ev = JSON.parse(line.slice(6));
        if (!ev.final) continue;
        if (ended.has(ev.id)) { ended.get(ev.id)(); ended.delete(ev.id); } else endedEarly.add(ev.id);
      }
    }
  })();
  // --- event delay, measured in the page's live.js subscriber, on a page
  // that only counts (/schedules: no schedule matches) and on the
  // executions list, which redraws its rows on each event.
  const measure = async (where) => {
    await page.goto(`${dev.url}${where}`);
    await page.locator('[data-testid=live-status][data-status=live]').waitFor({ timeout: 30000 });
    await page.evaluate(async () => {
      const live = await import('/live.js');
      window.__delays = { all: [], final: [] };
      live.subscribe(['execution'], (kind, ev) => {
        if (kind !== 'execution') return;
        const ms = Date.now() - ev.at_us / 1000;
        window.__delays.all.push(ms);
        if (ev.final) window.__delays.final.push(ms);
      });
    });
    const started = Date.now();
    let next = 0;
    endedEarly.clear();
    const worker = async () => {
      while (next < RUNS) {
        next++;
        const { execution_id: id } = await api('POST', '/api/v1/jobs/noop/run', {});
        if (endedEarly.delete(id)) continue;
        await new Promise((resolve) => ended.set(id, resolve)); // its end before the next one
      }
    };
    await Promise.all(Array.from({ length: INFLIGHT }, worker));
    const endDeadline = Date.now() + 30000;
    let d;
    do {
      d = await page.evaluate(() => window.__delays);
      if (d.final.length >= RUNS) break;
      await new Promise((r) => setTimeout(r, 100));
    } while (Date.now() < endDeadline);
    console.log(`event delay on ${where}, ${RUNS} executions of \`true\` (${INFLIGHT} in flight) in ${((Date.now() - started) / 1000).toFixed(1)} s, to the page's live.js subscriber:`);
    show('  all execution events', d.all);
    show('  final events', d.final);
    console.log(`  bar: p99 < 100 ms: ${pct(d.all, 99) < 100 ? 'met' : 'NOT met'}`);
  };
  await measure('/schedules');
  await measure('/executions');
  reader.cancel().catch(() => {});
} finally {
  await browser.close().catch(() => {});
  await dev.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
}
