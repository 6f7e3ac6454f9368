// console/live.js in node with a scripted EventSource (no browser, no
// master): one shared stream, events to the subscribers of their kinds,
// the master's reset passed on, a stream closed by an HTTP error reopened
// with backoff and ?since=<last position>, polling resets while it is down,
// reloadOn's filter and throttling, the stream kept a while after the last
// page left it and then closed. Waits are conditions with deadlines.
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const sourceDir = process.env.PAGODA_SOURCE_DIR || path.resolve(here, '../..');

/** What the browser's EventSource does, driven by the test. */
class FakeEventSource {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSED = 2;
  static all = [];
  constructor(url, opts) {
    this.url = url;
    this.opts = opts;
    this.readyState = FakeEventSource.CONNECTING;
    this.listeners = new Map();
    this.closed = false;
    FakeEventSource.all.push(this);
  }
  addEventListener(kind, fn) { this.listeners.set(kind, [...(this.listeners.get(kind) || []), fn]); }
  close() { this.closed = true; this.readyState = FakeEventSource.CLOSED; }
  // --- driven by the test
  open() { this.readyState = FakeEventSource.OPEN; this.onopen && this.onopen(); }
  emit(kind, id, data) {
    for (const fn of this.listeners.get(kind) || []) fn({ lastEventId: String(id), data: JSON.stringify(data) });
  }
  fail(permanently) { // permanently: an HTTP error (the browser gives up)
    this.readyState = permanently ? FakeEventSource.CLOSED : FakeEventSource.CONNECTING;
    this.onerror && this.onerror();
  }
}
globalThis.EventSource = FakeEventSource;
const live = await import(pathToFileURL(path.join(sourceDir, 'console', 'live.js')).href);

async function until(what, cond, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
const latest = () => FakeEventSource.all[FakeEventSource.all.length - 1];

const statuses = [];
live.onStatus((s) => statuses.push(s));

// --- one stream for every subscriber; events go to the kinds asked for.
const a = [];
const b = [];
const stopA = live.subscribe(['execution'], (kind, data) => a.push([kind, data]));
const stopB = live.subscribe(['flow', 'schedule'], (kind, data) => b.push([kind, data]));
assert.equal(FakeEventSource.all.length, 1, 'one EventSource for two subscribers');
assert.equal(latest().url, '/api/v1/events');
assert.equal(latest().opts.withCredentials, true);
assert.equal(live.status(), 'connecting');
latest().open();
assert.equal(live.status(), 'live');
latest().emit('execution', 1, { id: 7, state: 'running' });
latest().emit('flow', 2, { change: 'progress' });
latest().emit('worker', 3, { change: 'connected' });
assert.deepEqual(a, [['execution', { id: 7, state: 'running' }]]);
assert.deepEqual(b, [['flow', { change: 'progress' }]]);

// --- the master's reset reaches every subscriber.
latest().emit('reset', 4, { reason: 'too slow', position: 4 });
assert.deepEqual(a.at(-1), ['reset', { reason: 'too slow', position: 4 }]);
assert.deepEqual(b.at(-1), ['reset', { reason: 'too slow', position: 4 }]);

// --- a drop the browser retries by itself: no new EventSource here, but
// polling resets until it is back.
a.length = 0;
latest().fail(false);
assert.equal(live.status(), 'reconnecting');
await until('a polling reset while the browser reconnects', () => a.some(([k, d]) => k === 'reset' && /polling/.test(d.reason)));
latest().open();
assert.equal(FakeEventSource.all.length, 1);
assert.equal(live.status(), 'live');

// --- an HTTP error (the browser gives up): polling resets while down, then
// a new EventSource resuming from the last position after the backoff.
a.length = 0;
const first = latest();
first.fail(true);
assert.equal(live.status(), 'reconnecting');
await until('a polling reset while the stream is down', () => a.some(([k, d]) => k === 'reset' && /polling/.test(d.reason)));
await until('a new EventSource after the backoff', () => FakeEventSource.all.length === 2);
assert.equal(latest().url, '/api/v1/events?since=4', 'it resumes after the last position seen');
latest().open();
assert.equal(live.status(), 'live');
const resetsThen = a.filter(([k]) => k === 'reset').length;
latest().emit('execution', 5, { id: 8, state: 'succeeded' });
assert.deepEqual(a.at(-1), ['execution', { id: 8, state: 'succeeded' }]);
// Events from the old (closed) stream are ignored.
first.emit('execution', 99, { id: 99 });
assert.notDeepEqual(a.at(-1), ['execution', { id: 99 }]);
// Once live again no more polling resets come.
await new Promise((r) => setTimeout(r, 3500)); // longer than one polling period: nothing may arrive
assert.equal(a.filter(([k]) => k === 'reset').length, resetsThen, 'no polling once the stream is back');

// --- reloadOn: load now, then after matching events (a burst is one
// reload), never for filtered-out ones.
let loads = 0;
const stopReload = live.reloadOn(['execution'], async () => { loads++; }, { filter: (k, d) => d.id === 42, throttleMs: 50 });
await until('the first load', () => loads === 1);
latest().emit('execution', 6, { id: 41 });
await new Promise((r) => setTimeout(r, 200)); // a filtered-out event: no reload may follow
assert.equal(loads, 1, 'an event for another execution is ignored');
for (let i = 0; i < 10; i++) latest().emit('execution', 7 + i, { id: 42 });
await until('a reload after the burst', () => loads >= 2);
await new Promise((r) => setTimeout(r, 200));
assert.ok(loads <= 3, `a burst of 10 events is one or two reloads, not ${loads}`);
stopReload();

// --- the stream outlives a page change, and closes after the last page left.
stopA();
stopB();
const stream = latest();
const stopC = live.subscribe(['worker'], () => {});
assert.equal(latest(), stream, 'a page change keeps the same stream');
assert.equal(stream.closed, false);
stopC();
await until('the stream closes after the last page left', () => stream.closed, 20000);
const stopD = live.subscribe(['execution'], () => {});
assert.equal(latest().url, '/api/v1/events?since=16', 'a later page resumes from the last position');
stopD();

assert.ok(statuses.includes('live') && statuses.includes('reconnecting'));
console.log('PASS: live.js');
process.exit(0);
