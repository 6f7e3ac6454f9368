// Pagoda console — live updates. The ONE place pages learn that something
// changed (docs/console.md "Live updates").
//
// API (all a page needs):
//
//   subscribe(kinds, fn) → unsubscribe()
//       kinds: an array of event kinds ('execution', 'flow', 'worker',
//       'schedule'; docs/api.md "Events"). fn(kind, data) is called with
//       each event of those kinds (data: the parsed JSON of the event), AND
//       with kind 'reset' whenever what the page shows may be stale: the
//       master said `reset` (it restarted, the client fell behind, a new
//       leader), the stream came back after a gap it could not replay, or —
//       while the stream is unavailable — every few seconds (the fallback:
//       pages reload through REST, as they did when polling).
//       A page's fn must treat 'reset' as "reload everything through REST".
//       Call the returned function when the page is left.
//
//   reloadOn(kinds, load, {filter, throttleMs, everyMs}) → unsubscribe()
//       For pages whose view is simplest to rebuild: calls load() now, then
//       again after each event of `kinds` for which filter(kind, data) is
//       true (default: all) or reset, at most once per throttleMs (default
//       100 ms; a burst of events is one reload), and every everyMs when
//       given (data that has no events, e.g. worker load). load() is never
//       run twice at once.
//
//   watch(load, ms) → stop()
//       Plain polling, for data that has no events at all.
//
//   status() → 'connecting' | 'live' | 'reconnecting' | 'polling'
//   onStatus(fn) → unsubscribe()    fn(status) on each change
//
// One EventSource (GET /api/v1/events, all kinds) is shared by every
// subscriber: opened with the first subscription, closed with the last. It
// resumes from the last position it saw (?since=N on a new EventSource; the
// browser's own reconnects send Last-Event-ID), so a short drop loses
// nothing. A stream the browser gave up on (an HTTP error such as a 503
// from a standby or a 401) is reopened with backoff (1 s doubling to 30 s);
// a network error is retried by the browser itself. While the stream is
// down, either way, subscribers get a 'reset' every POLL_MS, which makes
// every page fall back to reloading through REST; no EventSource at all
// means polling for good.

const KINDS = ['execution', 'flow', 'worker', 'schedule'];
const POLL_MS = 3000;
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30000;
const LINGER_MS = 10000;

const subscribers = new Set(); // {kinds: Set, fn}
const statusListeners = new Set();
let source = null;
let lastId = null; // the last event position seen (a string of digits)
let state = 'connecting';
let backoffMs = BACKOFF_MIN_MS;
let retryTimer = null;
let pollTimer = null;
let hadGap = false; // the stream was down: the first open after it reloads pages
let everLive = false;
let lingerTimer = null; // closes the stream a while after the last page left it

function setStatus(s) {
  if (s === state) return;
  state = s;
  for (const fn of statusListeners) { try { fn(s); } catch (e) { console.error(e); } }
}

function deliver(kind, data) {
  for (const s of [...subscribers]) {
    if (kind !== 'reset' && !s.kinds.has(kind)) continue;
    try { s.fn(kind, data); } catch (e) { console.error(e); }
  }
}

function startPolling() {
  if (pollTimer) return;
  pollTimer = setInterval(() => deliver('reset', { reason: 'polling: the event stream is unavailable' }), POLL_MS);
}

function stopPolling() {
  clearInterval(pollTimer);
  pollTimer = null;
}

function close() {
  if (source) { source.close(); source = null; }
  clearTimeout(retryTimer);
  retryTimer = null;
  stopPolling();
}

function scheduleRetry() {
  if (source) { source.close(); source = null; }
  hadGap = true;
  setStatus(everLive ? 'reconnecting' : 'polling');
  startPolling();
  clearTimeout(retryTimer);
  retryTimer = setTimeout(open, backoffMs);
  backoffMs = Math.min(backoffMs * 2, BACKOFF_MAX_MS);
}

function open() {
  retryTimer = null;
  if (!subscribers.size) return;
  if (typeof EventSource === 'undefined') { setStatus('polling'); startPolling(); return; }
  const url = lastId === null ? '/api/v1/events' : `/api/v1/events?since=${encodeURIComponent(lastId)}`;
  const es = new EventSource(url, { withCredentials: true });
  source = es;
  es.onopen = () => {
    if (source !== es) return;
    backoffMs = BACKOFF_MIN_MS;
    everLive = true;
    stopPolling();
    setStatus('live');
    // Without a position nothing of the gap can be replayed: reload.
    if (hadGap && lastId === null) deliver('reset', { reason: 'the event stream reconnected' });
    hadGap = false;
  };
  es.onerror = () => {
    if (source !== es) return;
    // CONNECTING: the browser retries by itself (with Last-Event-ID).
    // CLOSED: it gave up (an HTTP error such as 503 or 401): we retry.
    // Either way pages reload through REST (polling) until it is back.
    if (es.readyState === EventSource.CLOSED) scheduleRetry();
    else { hadGap = true; setStatus(everLive ? 'reconnecting' : 'polling'); startPolling(); }
  };
  const on = (kind) => (ev) => {
    if (source !== es) return;
    if (ev.lastEventId) lastId = ev.lastEventId;
    let data = null;
    try { data = JSON.parse(ev.data); } catch (e) { return; }
    deliver(kind, data);
  };
  for (const k of KINDS) es.addEventListener(k, on(k));
  es.addEventListener('reset', on('reset'));
}

/** See the top of this file. */
export function subscribe(kinds, fn) {
  const s = { kinds: new Set(kinds), fn };
  subscribers.add(s);
  clearTimeout(lingerTimer);
  lingerTimer = null;
  if (!source && !retryTimer && !pollTimer) { setStatus('connecting'); open(); }
  return () => {
    if (!subscribers.delete(s) || subscribers.size) return;
    // A page change unsubscribes and the next page subscribes at once:
    // keep the stream open a while instead of reconnecting each time.
    clearTimeout(lingerTimer);
    lingerTimer = setTimeout(() => { lingerTimer = null; if (!subscribers.size) close(); }, LINGER_MS);
  };
}

/** See the top of this file. */
export function reloadOn(kinds, load, { filter = null, throttleMs = 100, everyMs = 0 } = {}) {
  let stopped = false;
  let running = false;
  let again = false;
  let timer = null;
  let lastRun = 0;
  async function run() {
    timer = null;
    if (stopped) return;
    if (running) { again = true; return; }
    running = true;
    lastRun = Date.now();
    try { await load(); } catch (e) { /* the page shows its own errors */ }
    running = false;
    if (again && !stopped) { again = false; kick(); }
  }
  function kick() {
    if (stopped || timer) return;
    timer = setTimeout(run, Math.max(0, lastRun + throttleMs - Date.now()));
  }
  const unsubscribe = subscribe(kinds, (kind, data) => {
    if (kind === 'reset' || !filter || filter(kind, data)) kick();
  });
  const every = everyMs ? setInterval(kick, everyMs) : null;
  run();
  return () => { stopped = true; clearTimeout(timer); clearInterval(every); unsubscribe(); };
}

/** Calls `load()` now and again every `ms` milliseconds until the returned
 * stop function is called (a page calls it when it is left). A load that
 * throws is shown by the page itself; polling continues. */
export function watch(load, ms = 2000) {
  let stopped = false;
  let timer = null;
  async function tick() {
    if (stopped) return;
    try { await load(); } catch (e) { /* the page shows its own errors */ }
    if (!stopped) timer = setTimeout(tick, ms);
  }
  tick();
  return () => { stopped = true; clearTimeout(timer); };
}

/** The stream's state (see the top of this file). */
export function status() { return state; }

/** fn(status) on each change of status(); returns the unsubscribe function. */
export function onStatus(fn) {
  statusListeners.add(fn);
  return () => statusListeners.delete(fn);
}
