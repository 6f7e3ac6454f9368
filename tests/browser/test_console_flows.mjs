// End-to-end test of the console's flows, schedules and live updates
// (docs/console.md "Flows", "Schedules", "Live updates") in the system's
// headless Chromium, driven by playwright-core against a real `pagoda dev`:
// a diamond flow run from the browser whose nodes go green in the drawn
// graph from `flow` events alone; re-runs from failed and from chosen
// nodes; a node's log one click away; a schedule paused and resumed from the
// page and from the API (seen through its `schedule` event); an execution's
// log streaming live; the executions list and the overview updated by
// events. Needs what test_console.mjs needs; FAILS (never skips) without it.
// PAGODA_SCREENSHOTS=1 writes screenshots to docs/console/.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDev } from './dev.mjs';
import { requirements, testPaths, chromiumArgs, login, settled as settledShot, until as untilIn, apiAs as apiAt } from './browser_util.mjs';

const { here, sourceDir, buildDir, chromiumPath, shotsDir } = testPaths();
const WAIT = 30000; // ms: the machine is shared and loaded; every wait is a condition with this deadline

const { chromium, bin } = await requirements(here, buildDir, chromiumPath);

let step = 'start';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pgd-browser-flows-'));
let dev, browser;

const settled = (page, name) => settledShot(page, name, shotsDir);

const until = (what, cond, timeoutMs = WAIT) => untilIn(what, cond, timeoutMs);

/** Calls the API with a bearer token from node (not the browser). */
const apiAs = (token, method, p, body) => apiAt(dev.url, token, method, p, body);

/** Counts the page's requests whose path matches `re` (GET only). */
function countRequests(page, re) {
  const counter = { n: 0 };
  page.on('request', (req) => {
    if (req.method() === 'GET' && re.test(new URL(req.url()).pathname + new URL(req.url()).search)) counter.n++;
  });
  return counter;
}

const graphNode = (page, id) => page.locator(`[data-testid=flow-graph] [data-node="${id}"]`);

async function nodeStates(page, ids) {
  const out = {};
  for (const id of ids) out[id] = await graphNode(page, id).getAttribute('data-state');
  return out;
}

try {
  step = 'starting pagoda dev';
  dev = await startDev(bin, tmp);
  const args = chromiumArgs();
  step = `launching ${chromiumPath}`;
  browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));

  step = 'login';
  await login(page, dev.url, dev.token, WAIT);
  step = 'the event stream connects';
  await page.locator('[data-testid=live-status][data-status=live]').waitFor({ timeout: WAIT });

  // --- a diamond flow: a → (b, c) → d. b waits for a gate file so the test
  // sees it running (and d waiting) before letting it finish; c fails when
  // the run's param `fail` is "yes".
  step = 'define the diamond flow';
  const gate = path.join(tmp, 'gate-b');
  const sh = (script) => ({ type: 'shell', params: { script } });
  const diamond = {
    name: 'diamond', params: { fail: 'no' }, description: 'the browser test\'s diamond',
    nodes: [
      { id: 'a', job: sh('echo "node a says hello"') },
      { id: 'b', job: sh(`echo "b waits"; while [ ! -e '${gate}' ]; do sleep 0.05; done; echo "b done"`), depends_on: ['a'] },
      { id: 'c', job: sh('echo "c with fail=${flow.params.fail}"; test "${flow.params.fail}" != yes'), depends_on: ['a'] },
      { id: 'd', job: sh('echo "node d ends it"'), depends_on: ['b', 'c'] },
    ],
  };
  let r = await apiAs(dev.token, 'POST', '/api/v1/flows', diamond);
  assert.equal(r.status, 201, JSON.stringify(r.body));

  step = 'flows list';
  await page.getByRole('link', { name: 'Flows', exact: true }).click();
  await page.locator('tr[data-flow="diamond"]').waitFor({ timeout: WAIT });
  assert.equal(await page.locator('tr[data-flow="diamond"] td').nth(1).textContent(), '4');

  step = 'a flow page draws its DAG';
  await page.locator('tr[data-flow="diamond"] a').first().click();
  await page.waitForURL('**/flows/diamond', { timeout: WAIT });
  await graphNode(page, 'd').waitFor({ timeout: WAIT });
  // The layout puts a, {b, c}, d in three columns, b and c one above the
  // other, with no crossing.
  const box = {};
  for (const id of ['a', 'b', 'c', 'd']) box[id] = await graphNode(page, id).locator('rect').boundingBox();
  assert.ok(box.a.x < box.b.x && box.b.x === box.c.x && box.c.x < box.d.x, `columns: ${JSON.stringify(box)}`);
  assert.ok(Math.abs(box.b.y - box.c.y) >= box.b.height, 'b and c do not overlap');
  assert.equal(await page.getByTestId('flow-graph').getAttribute('data-crossings'), '0');
  assert.equal(await page.locator('[data-testid=flow-graph] path.fedge').count(), 4);
  assert.deepEqual(JSON.parse(await page.getByTestId('flow-params').inputValue()), { fail: 'no' });

  step = 'run the diamond from the browser';
  // After its first read the page must learn every change from `flow`
  // events, not by reading the flow execution again.
  const fexecReads = countRequests(page, /^\/api\/v1\/flow-executions\/\d+(\?|$)/);
  await page.getByTestId('run-flow').click();
  await page.waitForURL(/\/flow-executions\/\d+$/, { timeout: WAIT });
  const fexecId = page.url().match(/(\d+)$/)[1];
  await graphNode(page, 'b').and(page.locator('[data-state=running]')).waitFor({ timeout: WAIT });
  await graphNode(page, 'c').and(page.locator('[data-state=succeeded]')).waitFor({ timeout: WAIT });
  let states = await nodeStates(page, ['a', 'b', 'c', 'd']);
  assert.deepEqual(states, { a: 'succeeded', b: 'running', c: 'succeeded', d: 'waiting' });
  assert.equal(await page.locator('[data-testid=flow-nodes] [data-node-row=d] [data-state=waiting]').count(), 1);
  await page.getByTestId('kill-flow').waitFor({ timeout: WAIT });
  fs.writeFileSync(gate, '');
  for (const id of ['a', 'b', 'c', 'd']) {
    await graphNode(page, id).and(page.locator('[data-state=succeeded]')).waitFor({ timeout: WAIT });
  }
  await page.locator('h1 [data-state=succeeded]').waitFor({ timeout: WAIT });
  assert.equal(fexecReads.n, 1, 'the page read the flow execution once and followed it through events');
  const fill = await graphNode(page, 'd').locator('rect').evaluate((el) => getComputedStyle(el).fill);
  assert.equal(fill, 'rgb(209, 250, 229)', 'a succeeded node is drawn green');
  assert.equal(await page.getByTestId('kill-flow').count(), 0, 'no kill button once it ended');
  assert.equal(await page.getByTestId('rerun-failed').count(), 0, 'nothing failed: no re-run from failed');
  await settled(page, 'flow-execution');

  step = 'a node\'s log is one click away';
  await graphNode(page, 'a').click();
  await page.waitForURL(/\/executions\/\d+$/, { timeout: WAIT });
  await page.getByTestId('log').filter({ hasText: 'node a says hello' }).waitFor({ timeout: WAIT });
  await page.locator('h1 [data-state=succeeded]').waitFor({ timeout: WAIT });
  assert.equal(await page.getByTestId('run-again').count(), 0, 'a node is run again from its flow execution');
  await page.getByTestId('flow-execution-link').click();
  await page.waitForURL(`**/flow-executions/${fexecId}`, { timeout: WAIT });
  await page.locator('[data-node-log=d]').click();
  await page.getByTestId('log').filter({ hasText: 'node d ends it' }).waitFor({ timeout: WAIT });

  step = 'a failing run: c fails, d is upstream_failed';
  await page.goto(`${dev.url}/flows/diamond`);
  await page.getByTestId('flow-params').fill('{"fail": "yes"}');
  await page.getByTestId('run-flow').click();
  await page.waitForURL((u) => /\/flow-executions\/\d+$/.test(u.pathname) && !u.pathname.endsWith(`/${fexecId}`), { timeout: WAIT });
  const failedId = page.url().match(/(\d+)$/)[1];
  await page.locator('h1 [data-state=failed]').waitFor({ timeout: WAIT });
  states = await nodeStates(page, ['a', 'b', 'c', 'd']);
  assert.equal(states.c, 'failed');
  assert.equal(states.a, 'succeeded');
  assert.ok(['upstream_failed', 'skipped'].includes(states.d), `d after c failed: ${states.d}`);
  await settled(page, 'flow-execution-failed');

  step = 're-run from failed with a param changed';
  await page.getByTestId('rerun-params').fill('{"fail": "no"}');
  await page.getByTestId('rerun-failed').click();
  await page.waitForURL((u) => /\/flow-executions\/\d+$/.test(u.pathname) && !u.pathname.endsWith(`/${failedId}`), { timeout: WAIT });
  const rerunId = page.url().match(/(\d+)$/)[1];
  await page.locator('h1 [data-state=succeeded]').waitFor({ timeout: WAIT });
  const rerun = (await apiAs(dev.token, 'GET', `/api/v1/flow-executions/${rerunId}`)).body;
  assert.equal(rerun.rerun_of, Number(failedId));
  assert.equal(rerun.nodes.a.reused, true, 'a succeeded before: reused');
  assert.ok(!rerun.nodes.c.reused && !rerun.nodes.d.reused, 'c and d ran again');
  assert.equal(rerun.params.fail, 'no');
  for (const id of ['a', 'b', 'c', 'd']) {
    await graphNode(page, id).and(page.locator('[data-state=succeeded]')).waitFor({ timeout: WAIT });
  }

  step = 're-run chosen nodes';
  await page.getByTestId('rerun-chosen').waitFor({ timeout: WAIT });
  assert.equal(await page.getByTestId('rerun-chosen').isDisabled(), true, 'nothing chosen yet');
  await page.locator('[data-rerun-node=b]').check();
  await page.getByTestId('rerun-chosen').click();
  await page.waitForURL((u) => /\/flow-executions\/\d+$/.test(u.pathname) && !u.pathname.endsWith(`/${rerunId}`), { timeout: WAIT });
  const chosenId = page.url().match(/(\d+)$/)[1];
  await page.locator('h1 [data-state=succeeded]').waitFor({ timeout: WAIT });
  const chosen = (await apiAs(dev.token, 'GET', `/api/v1/flow-executions/${chosenId}`)).body;
  assert.deepEqual(Object.fromEntries(['a', 'b', 'c', 'd'].map((k) => [k, Boolean(chosen.nodes[k].reused)])),
    { a: true, b: false, c: true, d: false }, 'b and what is downstream of it ran again');

  step = 'flow page lists its executions';
  await page.goto(`${dev.url}/flows/diamond`);
  for (const id of [fexecId, failedId, rerunId, chosenId]) {
    await page.locator(`[data-testid=flow-executions] tr[data-fexec="${id}"]`).waitFor({ timeout: WAIT });
  }
  await settled(page, 'flow');
  await page.getByRole('link', { name: 'Flows', exact: true }).click();
  await page.locator(`[data-testid=flow-executions] tr[data-fexec="${chosenId}"]`).waitFor({ timeout: WAIT });
  await settled(page, 'flows');

  // --- schedules
  step = 'schedules page';
  r = await apiAs(dev.token, 'POST', '/api/v1/jobs', { name: 'nightly', type: 'shell', params: { script: 'echo nightly run' } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  r = await apiAs(dev.token, 'POST', '/api/v1/schedules', { name: 'nightly-berlin', job: 'nightly', cron: '30 2 * * *', timezone: 'Europe/Berlin' });
  assert.ok([200, 201].includes(r.status), JSON.stringify(r.body));
  r = await apiAs(dev.token, 'POST', '/api/v1/schedules', { name: 'diamond-hourly', flow: 'diamond', every: '1h' });
  assert.ok([200, 201].includes(r.status), JSON.stringify(r.body));
  await page.getByRole('link', { name: 'Schedules' }).click();
  const row = page.locator('tr[data-schedule="nightly-berlin"]');
  await row.locator('[data-testid=next] li').nth(2).waitFor({ timeout: WAIT });
  assert.match(await row.innerText(), /cron\s+30 2 \* \* \*/);
  assert.match(await row.innerText(), /Europe\/Berlin/);
  assert.equal(await row.getAttribute('data-enabled'), 'true');
  assert.match(await page.locator('tr[data-schedule="diamond-hourly"]').innerText(), /every 1h/);

  step = 'pause and resume a schedule from the page';
  await row.getByTestId('pause').click();
  await page.locator('tr[data-schedule="nightly-berlin"][data-enabled=false]').waitFor({ timeout: WAIT });
  assert.equal(await row.getByTestId('schedule-state').textContent(), 'paused');
  assert.equal((await apiAs(dev.token, 'GET', '/api/v1/schedules/nightly-berlin')).body.enabled, false);
  assert.equal(await row.locator('[data-testid=next] li').count(), 0, 'a paused schedule has no next fire time');
  await settled(page, 'schedules-paused');
  await row.getByTestId('resume').click();
  await page.locator('tr[data-schedule="nightly-berlin"][data-enabled=true]').waitFor({ timeout: WAIT });
  assert.equal((await apiAs(dev.token, 'GET', '/api/v1/schedules/nightly-berlin')).body.enabled, true);
  await row.locator('[data-testid=next] li').nth(2).waitFor({ timeout: WAIT });

  step = 'a pause made elsewhere arrives through the event stream';
  r = await apiAs(dev.token, 'POST', '/api/v1/schedules/nightly-berlin/pause');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await page.locator('tr[data-schedule="nightly-berlin"][data-enabled=false]').waitFor({ timeout: WAIT });
  r = await apiAs(dev.token, 'POST', '/api/v1/schedules/nightly-berlin/resume');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await page.locator('tr[data-schedule="nightly-berlin"][data-enabled=true]').waitFor({ timeout: WAIT });

  step = 'run a schedule now';
  await row.getByTestId('run-now').click();
  await page.getByTestId('run-started').waitFor({ timeout: WAIT });
  await page.getByTestId('run-started').locator('a').click();
  await page.waitForURL(/\/executions\/\d+$/, { timeout: WAIT });
  await page.getByTestId('log').filter({ hasText: 'nightly run' }).waitFor({ timeout: WAIT });
  await page.getByRole('link', { name: 'Schedules' }).click();
  await row.locator('[data-testid=next] li').nth(2).waitFor({ timeout: WAIT });
  assert.match(await row.locator('[data-testid=next] li').first().textContent(), /GMT\+1|CET|CEST|GMT\+2/, 'next times on the zone\'s wall clock');

  step = 'a schedule\'s fires show up as they happen';
  r = await apiAs(dev.token, 'POST', '/api/v1/schedules', { name: 'every-second', job: 'nightly', every: '1s' });
  assert.ok([200, 201].includes(r.status), JSON.stringify(r.body));
  const ticker = page.locator('tr[data-schedule="every-second"]');
  await ticker.waitFor({ timeout: WAIT });
  await ticker.locator('[data-testid=runs] li [data-state=succeeded]').nth(1).waitFor({ timeout: WAIT });
  await ticker.getByTestId('pause').click();
  await page.locator('tr[data-schedule="every-second"][data-enabled=false]').waitFor({ timeout: WAIT });
  await until('the last fire to end', async () => (await ticker.locator('[data-testid=runs] li [data-state=running], [data-testid=runs] li [data-state=pending], [data-testid=runs] li [data-state=dispatched]').count()) === 0);
  await settled(page, 'schedules');

  // --- an execution's log streams live, and the lists follow events
  step = 'a log streams live';
  const logGate = path.join(tmp, 'gate-log');
  r = await apiAs(dev.token, 'POST', '/api/v1/jobs', { name: 'streamer', type: 'shell',
    params: { script: `echo "first line"; while [ ! -e '${logGate}' ]; do sleep 0.05; done; echo "second line"` } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  await page.getByRole('link', { name: 'Executions' }).click();
  await page.locator('[data-testid=executions] tr[data-exec]').first().waitFor({ timeout: WAIT });
  const listReads = countRequests(page, /^\/api\/v1\/executions\?/);
  r = await apiAs(dev.token, 'POST', '/api/v1/jobs/streamer/run', {});
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const streamId = r.body.execution_id;
  await page.locator(`tr[data-exec="${streamId}"] [data-state=running]`).waitFor({ timeout: WAIT });
  assert.equal(listReads.n, 0, 'the new execution came through an event, not a reload');
  const logReads = countRequests(page, new RegExp(`^/api/v1/executions/${streamId}/log`));
  await page.locator(`tr[data-exec="${streamId}"] a`).click();
  await page.getByTestId('log').filter({ hasText: 'first line' }).waitFor({ timeout: WAIT });
  await page.locator('h1 [data-state=running]').waitFor({ timeout: WAIT });
  assert.doesNotMatch(await page.getByTestId('log').textContent(), /second line/);
  fs.writeFileSync(logGate, '');
  await page.getByTestId('log').filter({ hasText: 'second line' }).waitFor({ timeout: WAIT });
  await page.locator('h1 [data-state=succeeded]').waitFor({ timeout: WAIT });
  assert.equal(logReads.n, 1, 'both lines came through one streaming log request');
  await settled(page, 'execution-live');

  step = 'overview counts follow events';
  const holdGate = path.join(tmp, 'gate-hold');
  r = await apiAs(dev.token, 'POST', '/api/v1/jobs', { name: 'holder', type: 'shell',
    params: { script: `while [ ! -e '${holdGate}' ]; do sleep 0.05; done` } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  await page.getByRole('link', { name: 'Overview' }).click();
  await page.getByTestId('count-running').waitFor({ timeout: WAIT });
  await until('no execution running', async () => (await page.getByTestId('count-running').textContent()) === '0');
  r = await apiAs(dev.token, 'POST', '/api/v1/jobs/holder/run', {});
  assert.equal(r.status, 201, JSON.stringify(r.body));
  await until('the overview counts one running', async () => (await page.getByTestId('count-running').textContent()) === '1');
  fs.writeFileSync(holdGate, '');
  await until('the overview counts none running', async () => (await page.getByTestId('count-running').textContent()) === '0');

  assert.equal(await page.locator('[data-testid=live-status]').getAttribute('data-status'), 'live', 'the stream stayed up');

  // --- a viewer sees flows and schedules without their buttons
  step = 'viewer';
  const made = await apiAs(dev.token, 'POST', '/api/v1/tokens', { name: 'flows-viewer', role: 'viewer' });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const viewer = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const vpage = await viewer.newPage();
  vpage.on('pageerror', (e) => pageErrors.push(String(e)));
  await login(vpage, dev.url, made.body.token, WAIT);
  await vpage.goto(`${dev.url}/flows/diamond`);
  await graphNode(vpage, 'd').waitFor({ timeout: WAIT });
  await vpage.locator(`[data-testid=flow-executions] tr[data-fexec="${failedId}"]`).waitFor({ timeout: WAIT });
  assert.equal(await vpage.getByTestId('run-flow').count(), 0, 'a viewer cannot run a flow');
  await vpage.goto(`${dev.url}/flow-executions/${failedId}`);
  await vpage.locator('h1 [data-state=failed]').waitFor({ timeout: WAIT });
  await vpage.locator('[data-testid=flow-nodes] [data-node-row=c]').waitFor({ timeout: WAIT });
  for (const b of ['rerun-failed', 'rerun-chosen', 'kill-flow']) assert.equal(await vpage.getByTestId(b).count(), 0, `a viewer has no ${b}`);
  assert.equal(await vpage.locator('[data-rerun-node]').count(), 0, 'a viewer has no re-run boxes');
  await vpage.goto(`${dev.url}/schedules`);
  await vpage.locator('tr[data-schedule="nightly-berlin"] [data-testid=next] li').first().waitFor({ timeout: WAIT });
  for (const b of ['pause', 'resume', 'run-now']) assert.equal(await vpage.getByTestId(b).count(), 0, `a viewer has no ${b}`);
  await viewer.close();

  // --- without the event stream the pages fall back to polling, and go
  // live once it can be reached again.
  step = 'fallback to polling without the event stream';
  const cut = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await cut.route('**/api/v1/events*', (route) => route.abort('connectionrefused'));
  const cpage = await cut.newPage();
  cpage.on('pageerror', (e) => pageErrors.push(String(e)));
  await login(cpage, dev.url, dev.token, WAIT);
  await cpage.locator('[data-testid=live-status][data-status=polling]').waitFor({ timeout: WAIT });
  await cpage.getByRole('link', { name: 'Executions' }).click();
  await cpage.locator('[data-testid=executions] tr[data-exec]').first().waitFor({ timeout: WAIT });
  r = await apiAs(dev.token, 'POST', '/api/v1/jobs/nightly/run', {});
  assert.equal(r.status, 201, JSON.stringify(r.body));
  await cpage.locator(`tr[data-exec="${r.body.execution_id}"] [data-state=succeeded]`).waitFor({ timeout: WAIT });
  await cut.unroute('**/api/v1/events*');
  await cpage.locator('[data-testid=live-status][data-status=live]').waitFor({ timeout: 60000 });
  await cut.close();

  assert.deepEqual(pageErrors, [], 'no uncaught errors in the pages');
  console.log('PASS: console flows, schedules and live updates');
} catch (e) {
  console.error(`FAIL at step "${step}": ${e.stack || e}`);
  if (dev) console.error(`--- pagoda dev stderr (tail) ---\n${dev.stderr().slice(-4000)}`);
  process.exitCode = 1;
} finally {
  if (browser) await browser.close().catch(() => {});
  if (dev) {
    const status = await dev.stop();
    if (status !== 0) {
      console.error(`FAIL: pagoda dev exited with ${status} after SIGTERM (a crash or a sanitizer report):\n${dev.stderr().slice(-4000)}`);
      process.exitCode = 1;
    }
  }
  if (!process.exitCode) fs.rmSync(tmp, { recursive: true, force: true });
}
