// End-to-end test of what the console gained last (docs/console.md): the
// executions page filtered by submitted time (from/to kept in the address),
// the jobs page searched and paged on the server, and flows and schedules
// created, edited and deleted in the browser — the flow's DAG drawn again
// as its JSON is edited, the master's validation error shown under the
// editor — with a viewer who sees none of the editing buttons. Drives the
// system's headless Chromium with playwright-core against a real `pagoda
// dev`; needs what test_console.mjs needs and FAILS (never skips) without
// it. PAGODA_SCREENSHOTS=1 writes screenshots to docs/console/.
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
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pgd-browser-editors-'));
let dev, browser;

const settled = (page, name) => settledShot(page, name, shotsDir);

const until = (what, cond, timeoutMs = WAIT) => untilIn(what, cond, timeoutMs);

/** Calls the API with a bearer token from node (not the browser). */
const apiAs = (token, method, p, body) => apiAt(dev.url, token, method, p, body);

const graphNode = (page, id) => page.locator(`[data-testid=flow-preview] [data-node="${id}"]`);
const pad = (n) => String(n).padStart(2, '0');
/** µs since the epoch → a datetime-local value in local time (node and the
 * Chromium it starts share the time zone). */
function localInput(us) {
  const d = new Date(Math.floor(us / 1000));
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
// What a datetime-local input reports as its value: the browser normalises
// the string and leaves out seconds that are zero ("…T21:03", not "…T21:03:00").
const shownInput = (us) => localInput(us).replace(/:00$/, '');
const shownExecs = async (page) => (await page.locator('[data-testid=executions] tr[data-exec]')
  .evaluateAll((trs) => trs.map((tr) => Number(tr.dataset.exec))));

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

  // --- executions by time: three runs, each submitted in a later second
  // than the one before (the inputs have a precision of one second).
  step = 'three executions in three seconds';
  let r = await apiAs(dev.token, 'POST', '/api/v1/jobs', { name: 'timed', type: 'shell', params: { script: 'echo timed' } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const execs = [];
  for (let i = 0; i < 3; i++) {
    if (execs.length) {
      const second = Math.floor(execs[execs.length - 1].submitted_us / 1e6);
      await until('the next second', async () => Math.floor(Date.now() / 1000) > second, 5000);
    }
    r = await apiAs(dev.token, 'POST', '/api/v1/jobs/timed/run', {});
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const id = r.body.execution_id;
    let e;
    await until(`execution ${id} to end`, async () => {
      e = (await apiAs(dev.token, 'GET', `/api/v1/executions/${id}`)).body;
      return e.state === 'succeeded';
    });
    execs.push(e);
  }
  const ids = execs.map((e) => e.id);

  step = 'executions since a time given in the address';
  await page.goto(`${dev.url}/executions?job=timed&since=${encodeURIComponent(execs[1].submitted_at)}`);
  await page.locator(`tr[data-exec="${ids[2]}"]`).waitFor({ timeout: WAIT });
  assert.deepEqual(await shownExecs(page), [ids[2], ids[1]]);
  assert.equal(await page.getByTestId('filter-from').inputValue(), shownInput(execs[1].submitted_us),
    'the from input shows the address\'s time in local time');
  assert.equal(await page.getByTestId('filter-to').inputValue(), '');

  step = 'a to time typed in the input';
  await page.getByTestId('filter-to').fill(localInput(execs[2].submitted_us));
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.waitForURL(/until=/, { timeout: WAIT });
  await until('only the middle execution', async () => JSON.stringify(await shownExecs(page)) === JSON.stringify([ids[1]]));
  const url = new URL(page.url());
  assert.equal(url.searchParams.get('job'), 'timed');
  assert.equal(url.searchParams.get('since'), execs[1].submitted_at, 'the untouched from keeps its exact time');
  assert.equal(Date.parse(url.searchParams.get('until')), Math.floor(execs[2].submitted_us / 1e6) * 1000,
    'until is the second typed, as RFC 3339 UTC');
  await settled(page, 'executions-time-filter');

  step = 'the filter survives a reload';
  await page.reload();
  await page.locator(`tr[data-exec="${ids[1]}"]`).waitFor({ timeout: WAIT });
  assert.deepEqual(await shownExecs(page), [ids[1]]);
  assert.equal(await page.getByTestId('filter-to').inputValue(), shownInput(execs[2].submitted_us));

  step = 'clearing from widens the range';
  await page.getByTestId('filter-from').fill('');
  await page.getByRole('button', { name: 'Filter' }).click();
  await until('the first two executions', async () => JSON.stringify(await shownExecs(page)) === JSON.stringify([ids[1], ids[0]]));
  assert.equal(new URL(page.url()).searchParams.get('since'), null);

  step = 'a new execution after `to` does not join the page';
  r = await apiAs(dev.token, 'POST', '/api/v1/jobs/timed/run', {});
  assert.equal(r.status, 201, JSON.stringify(r.body));
  await until('the run to end', async () => (await apiAs(dev.token, 'GET', `/api/v1/executions/${r.body.execution_id}`)).body.state === 'succeeded');
  await page.goto(`${dev.url}/executions?job=timed`);
  await page.locator(`tr[data-exec="${r.body.execution_id}"]`).waitFor({ timeout: WAIT });
  await page.goto(`${dev.url}/executions?job=timed&until=${encodeURIComponent(execs[2].submitted_at)}`);
  await page.locator(`tr[data-exec="${ids[1]}"]`).waitFor({ timeout: WAIT });
  assert.deepEqual(await shownExecs(page), [ids[1], ids[0]]);

  // --- jobs: searched and paged on the server
  step = 'many jobs';
  for (let i = 0; i < 120; i++) {
    r = await apiAs(dev.token, 'POST', '/api/v1/jobs', { name: `bulk-${String(i).padStart(3, '0')}`, type: 'shell', params: { script: 'true' } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }
  const jobReads = [];
  page.on('request', (req) => {
    const u = new URL(req.url());
    if (req.method() === 'GET' && u.pathname === '/api/v1/jobs') jobReads.push(u.searchParams);
  });
  await page.getByRole('link', { name: 'Jobs', exact: true }).click();
  await page.locator('tr[data-job="bulk-049"]').waitFor({ timeout: WAIT });
  assert.equal(await page.locator('tr[data-job]').count(), 50, 'one page of 50');
  assert.equal(await page.locator('tr[data-job="bulk-050"]').count(), 0);
  await settled(page, 'jobs-paged');
  step = 'next page';
  await page.getByTestId('jobs-next').click();
  await page.locator('tr[data-job="bulk-050"]').waitFor({ timeout: WAIT });
  assert.equal(new URL(page.url()).searchParams.get('after'), 'bulk-049');
  await page.getByTestId('jobs-prev').click();
  await page.locator('tr[data-job="bulk-000"]').waitFor({ timeout: WAIT });
  step = 'search on the server';
  await page.getByTestId('job-search').fill('BULK-11');
  await until('the ten bulk-11x jobs', async () => (await page.locator('tr[data-job]').count()) === 10 &&
    (await page.locator('tr[data-job="bulk-119"]').count()) === 1);
  assert.equal(new URL(page.url()).searchParams.get('q'), 'BULK-11');
  assert.equal(await page.getByTestId('jobs-next').count(), 0, 'one page of matches');
  assert.ok(jobReads.length >= 4 && jobReads.every((q) => q.get('limit') === '50'), 'every read is one page from the server');
  assert.ok(jobReads.some((q) => q.get('q') === 'BULK-11'), 'the search ran on the server');
  await page.getByTestId('job-search').fill('timed');
  await page.locator('tr[data-job="timed"]').waitFor({ timeout: WAIT });
  await until('one match', async () => (await page.locator('tr[data-job]').count()) === 1);
  await page.reload();
  await page.locator('tr[data-job="timed"]').waitFor({ timeout: WAIT });
  assert.equal(await page.getByTestId('job-search').inputValue(), 'timed', 'the search is kept in the address');

  // --- a flow created, edited and deleted in the browser
  step = 'new flow: the template drawn';
  await page.getByRole('link', { name: 'Flows', exact: true }).click();
  await page.getByTestId('new-flow').click();
  await page.waitForURL('**/flows/new', { timeout: WAIT });
  await graphNode(page, 'd').waitFor({ timeout: WAIT });
  assert.equal(await page.locator('[data-testid=flow-preview] path.fedge').count(), 4);
  step = 'the preview follows the JSON';
  const chain = {
    name: 'edited-chain', description: 'made in the browser',
    nodes: [{ id: 'x', job: 'timed' }, { id: 'y', job: 'timed', depends_on: ['x'] }, { id: 'z', job: 'no-such-job', depends_on: ['y'] }],
  };
  await page.getByTestId('flow-json').fill(JSON.stringify(chain, null, 2));
  await graphNode(page, 'z').waitFor({ timeout: WAIT });
  assert.equal(await graphNode(page, 'd').count(), 0, 'the template\'s nodes are gone');
  assert.equal(await page.locator('[data-testid=flow-preview] path.fedge').count(), 2);
  const bx = await graphNode(page, 'x').locator('rect').boundingBox();
  const bz = await graphNode(page, 'z').locator('rect').boundingBox();
  assert.ok(bx.x < bz.x, 'x is drawn left of z');
  await page.getByTestId('flow-json').fill('{"name": "edited-chain", "nodes": [');
  await page.getByTestId('preview-note').filter({ hasText: 'Not valid JSON yet' }).waitFor({ timeout: WAIT });
  assert.equal(await graphNode(page, 'z').count(), 1, 'the last drawing stays while the JSON is broken');
  step = 'the master\'s validation error under the editor';
  await page.getByTestId('flow-json').fill(JSON.stringify(chain, null, 2));
  await page.getByTestId('save').click();
  await page.getByTestId('editor-error').waitFor({ timeout: WAIT });
  assert.match(await page.getByTestId('editor-error').textContent(), /no-such-job/);
  assert.equal((await apiAs(dev.token, 'GET', '/api/v1/flows/edited-chain')).status, 404, 'nothing stored');
  await settled(page, 'flow-editor-error');
  step = 'a cycle is refused too';
  const cyclic = structuredClone(chain);
  cyclic.nodes[2].job = 'timed';
  cyclic.nodes[0].depends_on = ['z'];
  await page.getByTestId('flow-json').fill(JSON.stringify(cyclic, null, 2));
  await page.getByTestId('save').click();
  await page.getByTestId('editor-error').filter({ hasText: /cycle/ }).waitFor({ timeout: WAIT });
  step = 'save a valid flow';
  chain.nodes[2].job = 'timed';
  await page.getByTestId('flow-json').fill(JSON.stringify(chain, null, 2));
  await page.getByTestId('save').click();
  await page.waitForURL('**/flows/edited-chain', { timeout: WAIT });
  await page.getByTestId('saved').waitFor({ timeout: WAIT });
  await page.locator('[data-testid=flow-graph] [data-node="z"]').waitFor({ timeout: WAIT });
  r = await apiAs(dev.token, 'GET', '/api/v1/flows/edited-chain');
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.nodes.map((n) => n.id), ['x', 'y', 'z']);

  step = 'edit the flow';
  await page.getByTestId('edit-flow').click();
  await page.waitForURL('**/flows/edited-chain/edit', { timeout: WAIT });
  await graphNode(page, 'z').waitFor({ timeout: WAIT });
  const loaded = JSON.parse(await page.getByTestId('flow-json').inputValue());
  assert.equal(loaded.name, 'edited-chain');
  for (const k of ['created_us', 'updated_us', 'created_at', 'updated_at']) assert.ok(!(k in loaded), `no ${k} in the editor`);
  loaded.nodes.push({ id: 'w', job: 'timed', depends_on: ['x'] });
  await page.getByTestId('flow-json').fill(JSON.stringify(loaded, null, 2));
  await graphNode(page, 'w').waitFor({ timeout: WAIT });
  await settled(page, 'flow-editor');
  await page.getByTestId('save').click();
  await page.waitForURL('**/flows/edited-chain', { timeout: WAIT });
  await page.locator('[data-testid=flow-graph] [data-node="w"]').waitFor({ timeout: WAIT });
  assert.equal((await apiAs(dev.token, 'GET', '/api/v1/flows/edited-chain')).body.nodes.length, 4);

  // --- schedules
  step = 'new schedule: an error, then saved';
  await page.getByRole('link', { name: 'Schedules' }).click();
  await page.getByTestId('new-schedule').click();
  await page.waitForURL('**/schedules/new', { timeout: WAIT });
  const sched = { name: 'made-here', job: 'no-such-job', cron: '0 4 * * *', timezone: 'Europe/Paris' };
  await page.getByTestId('schedule-json').fill(JSON.stringify(sched, null, 2));
  await page.getByTestId('save').click();
  await page.getByTestId('editor-error').filter({ hasText: /no-such-job/ }).waitFor({ timeout: WAIT });
  sched.job = 'timed';
  sched.cron = '0 4 * * * * *'; // seven fields: refused
  await page.getByTestId('schedule-json').fill(JSON.stringify(sched, null, 2));
  await page.getByTestId('save').click();
  await page.getByTestId('editor-error').filter({ hasText: /cron/ }).waitFor({ timeout: WAIT });
  sched.cron = '0 4 * * *';
  await page.getByTestId('schedule-json').fill(JSON.stringify(sched, null, 2));
  await settled(page, 'schedule-editor');
  await page.getByTestId('save').click();
  await page.waitForURL((u) => u.pathname === '/schedules', { timeout: WAIT });
  await page.getByTestId('saved').waitFor({ timeout: WAIT });
  const srow = page.locator('tr[data-schedule="made-here"]');
  await srow.waitFor({ timeout: WAIT });
  assert.match(await srow.innerText(), /cron\s+0 4 \* \* \*/);
  step = 'edit the schedule';
  await srow.getByTestId('edit-schedule').click();
  await page.waitForURL('**/schedules/made-here/edit', { timeout: WAIT });
  await until('the schedule loaded', async () => (await page.getByTestId('schedule-json').inputValue()).includes('made-here'));
  const sdef = JSON.parse(await page.getByTestId('schedule-json').inputValue());
  for (const k of ['next_fire_us', 'created_us', 'running', 'last_fired_us']) assert.ok(!(k in sdef), `no ${k} in the editor`);
  sdef.cron = '15 3 * * 1-5';
  await page.getByTestId('schedule-json').fill(JSON.stringify(sdef, null, 2));
  await page.getByTestId('save').click();
  await page.waitForURL((u) => u.pathname === '/schedules', { timeout: WAIT });
  await srow.filter({ hasText: '15 3 * * 1-5' }).waitFor({ timeout: WAIT });
  assert.equal((await apiAs(dev.token, 'GET', '/api/v1/schedules/made-here')).body.cron, '15 3 * * 1-5');

  // --- a viewer sees none of it
  step = 'viewer';
  const made = await apiAs(dev.token, 'POST', '/api/v1/tokens', { name: 'editors-viewer', role: 'viewer' });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const viewer = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const vpage = await viewer.newPage();
  vpage.on('pageerror', (e) => pageErrors.push(String(e)));
  await login(vpage, dev.url, made.body.token, WAIT);
  await vpage.goto(`${dev.url}/flows`);
  await vpage.locator('tr[data-flow="edited-chain"]').waitFor({ timeout: WAIT });
  assert.equal(await vpage.getByTestId('new-flow').count(), 0);
  assert.equal(await vpage.getByTestId('edit-flow').count(), 0);
  await vpage.goto(`${dev.url}/flows/edited-chain`);
  await vpage.locator('[data-testid=flow-graph] [data-node="w"]').waitFor({ timeout: WAIT });
  assert.equal(await vpage.getByTestId('edit-flow').count(), 0);
  await vpage.goto(`${dev.url}/flows/edited-chain/edit`);
  await vpage.locator('[data-testid=flow-preview] [data-node="w"]').waitFor({ timeout: WAIT });
  assert.equal(await vpage.getByTestId('save').count(), 0, 'a viewer has no Save');
  assert.equal(await vpage.getByTestId('delete').count(), 0, 'a viewer has no Delete');
  assert.equal(await vpage.getByTestId('flow-json').getAttribute('readonly'), '');
  await vpage.goto(`${dev.url}/schedules`);
  await vpage.locator('tr[data-schedule="made-here"]').waitFor({ timeout: WAIT });
  assert.equal(await vpage.getByTestId('new-schedule').count(), 0);
  assert.equal(await vpage.getByTestId('edit-schedule').count(), 0);
  await viewer.close();

  // --- delete both from their editors
  step = 'delete the schedule';
  page.once('dialog', (d) => d.accept());
  await page.goto(`${dev.url}/schedules/made-here/edit`);
  await until('the schedule loaded', async () => (await page.getByTestId('schedule-json').inputValue()).includes('made-here'));
  await page.getByTestId('delete').click();
  await page.waitForURL((u) => u.pathname === '/schedules', { timeout: WAIT });
  await page.getByTestId('saved').filter({ hasText: 'Deleted schedule made-here' }).waitFor({ timeout: WAIT });
  assert.equal(await page.locator('tr[data-schedule="made-here"]').count(), 0);
  assert.equal((await apiAs(dev.token, 'GET', '/api/v1/schedules/made-here')).status, 404);
  step = 'delete the flow';
  page.once('dialog', (d) => d.accept());
  await page.goto(`${dev.url}/flows/edited-chain/edit`);
  await graphNode(page, 'w').waitFor({ timeout: WAIT });
  await page.getByTestId('delete').click();
  await page.waitForURL((u) => u.pathname === '/flows', { timeout: WAIT });
  await page.getByTestId('saved').filter({ hasText: 'Deleted flow edited-chain' }).waitFor({ timeout: WAIT });
  assert.equal((await apiAs(dev.token, 'GET', '/api/v1/flows/edited-chain')).status, 404);

  assert.deepEqual(pageErrors, [], 'no uncaught errors in the pages');
  console.log('PASS: console time filter, jobs paging, flow and schedule editors');
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
