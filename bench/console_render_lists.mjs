// Time to first render of the web console's overview and executions pages
// with many stored executions (issue 14, docs/benchmarks.md "Console first
// render"), in the system's headless Chromium driven by playwright-core.
//
// A `pagoda master` is started once on a fresh data directory (schema and
// admin token), stopped, given N executions written straight into its
// SQLite store (python3's sqlite3, one transaction), and started again.
// Each page is then loaded RUNS times in a logged-in tab; a load is timed
// from page.goto() until the page's data is on screen (the overview's
// cards; the executions table's first row), module files and API calls
// included. Prints one line per page: median, p90 and max in ms.
//
//   node bench/console_render_lists.mjs [--executions 100000] [--runs 15]
// Env: PAGODA_BUILD_DIR (default ./build), PAGODA_CHROMIUM.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../tests/browser/dev.mjs';
import { launch } from '../tests/browser/cluster.mjs';
import { requirements, chromiumArgs, login, apiAs } from '../tests/browser/browser_util.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const sourceDir = path.resolve(here, '..');
const buildDir = process.env.PAGODA_BUILD_DIR || path.join(sourceDir, 'build');
const chromiumPath = process.env.PAGODA_CHROMIUM || '/usr/bin/chromium';
const arg = (name, dflt) => { const i = process.argv.indexOf(name); return i > 0 ? Number(process.argv[i + 1]) : dflt; };
const N = arg('--executions', 100000);
const RUNS = arg('--runs', 15);
const { chromium, bin } = await requirements(path.join(sourceDir, 'tests', 'browser'), buildDir, chromiumPath);

// N executions over 20 jobs, newest last; 1 in 100 failed, the rest
// succeeded (what a busy history looks like: every page is full).
const INSERT = `
import json, sqlite3, sys
db, n = sys.argv[1], int(sys.argv[2])
c = sqlite3.connect(db)
t0 = 1796000000000000
rows = []
for i in range(1, n + 1):
    job = "job-%02d" % (i % 20)
    failed = i % 100 == 0
    sub = t0 + i * 1000000
    rows.append((i, job, "shell", "failed" if failed else "succeeded", 1, "w-bench", 1 if failed else 0, None,
                 "shell: exit code 1" if failed else None, json.dumps({"script": "echo %d" % i, "shell": "bash"}),
                 json.dumps({"name": job, "type": "shell", "params": {"script": "echo"}}),
                 sub, sub + 1000, sub + 2000, sub + 500000, "api", "{}"))
with c:
    c.executemany('INSERT INTO executions (id, job, type, state, attempt, worker_id, exit_code, signal, error, '
                  'params, definition, submitted_us, dispatched_us, started_us, finished_us, trigger, data) '
                  'VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)', rows)
print(c.execute("SELECT count(*) FROM executions").fetchone()[0])
`;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pgd-bench-console-'));
const data = path.join(tmp, 'master-data');
fs.mkdirSync(data, { mode: 0o700 });
const http = await freePort();
const rpc = await freePort();
const masterArgs = ['master', '--http', `127.0.0.1:${http}`, '--rpc', `127.0.0.1:${rpc}`, '--data', data];
const RUNNING = /Pagoda master is running: (https?:\/\/\S+)/;

let master = launch(bin, masterArgs, tmp, 'master-init');
await master.running(RUNNING, 60000);
if (await master.stop() !== 0) throw new Error(`the first master did not stop cleanly:\n${master.stderr().slice(-2000)}`);
let t = Date.now();
const ins = spawnSync('python3', ['-c', INSERT, path.join(data, 'pagoda.db'), String(N)], { encoding: 'utf8' });
if (ins.status !== 0) throw new Error(`inserting executions failed: ${ins.stderr}`);
console.log(`stored ${ins.stdout.trim()} executions in ${Date.now() - t} ms`);

master = launch(bin, masterArgs, tmp, 'master');
t = Date.now();
const url = (await master.running(RUNNING, 120000)).replace(/\/$/, '');
console.log(`master started on them in ${Date.now() - t} ms`);
const token = fs.readFileSync(path.join(data, 'admin.token'), 'utf8').trim();

/** The submitted time of execution `i` (as INSERT writes it), RFC 3339. */
const iso = (i) => encodeURIComponent(new Date((1796000000000000 + i * 1000000) / 1000).toISOString());

const apiTimes = [];
for (let i = 0; i < RUNS; i++) {
  t = performance.now();
  const r = await apiAs(url, token, 'GET', '/api/v1/executions?limit=50');
  apiTimes.push(performance.now() - t);
  if (r.body.executions.length !== 50 || r.body.executions[0].id !== N) throw new Error(`unexpected list: ${JSON.stringify(r.body).slice(0, 300)}`);
}

const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs() });
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
  return `median ${q(0.5).toFixed(0)} ms, p90 ${q(0.9).toFixed(0)} ms, max ${s[s.length - 1].toFixed(0)} ms (${s.length} loads)`;
};
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  await login(page, url, token);
  const pages = [
    ['overview', '/', '[data-testid=count-running]'],
    ['executions (newest 50)', '/executions', `tr[data-exec="${N}"]`],
    ['executions, state=failed', '/executions?state=failed', `tr[data-exec="${N}"]`],
    ['executions, job=job-07', '/executions?job=job-07', 'tr[data-exec]'],
    ['executions, a page deep in the history', `/executions?before=${Math.floor(N / 2)}`, `tr[data-exec="${Math.floor(N / 2) - 1}"]`],
    // The time filter (?since&until, turned into id bounds by the store):
    // the last 1,000 submitted, and a 100-second window mid-history.
    ['executions, since (the last 1,000)', `/executions?since=${iso(N - 999)}`, `tr[data-exec="${N}"]`],
    ['executions, since..until mid-history', `/executions?since=${iso(Math.floor(N / 2) - 100)}&until=${iso(Math.floor(N / 2))}`,
      `tr[data-exec="${Math.floor(N / 2) - 1}"]`],
  ];
  console.log(`API GET /api/v1/executions?limit=50: ${stats(apiTimes)}`);
  for (const [name, p, sel] of pages) {
    const times = [];
    for (let i = 0; i < RUNS; i++) {
      await page.goto('about:blank');
      const t0 = performance.now();
      await page.goto(url + p, { waitUntil: 'commit' });
      await page.locator(sel).first().waitFor({ timeout: 60000 });
      times.push(performance.now() - t0);
    }
    console.log(`first render, ${name}: ${stats(times)}`);
  }
} finally {
  await browser.close();
  const st = await master.stop();
  if (st !== 0) console.error(`master exited with ${st}:\n${master.stderr().slice(-2000)}`);
  fs.rmSync(tmp, { recursive: true, force: true });
}
