// Pagoda console — live updates. The ONE place pages learn that something
// changed: today it polls; when GET /api/v1/events (Server-Sent Events)
// lands, only this function changes (docs/console.md "Not built yet").

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
