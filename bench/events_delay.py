#!/usr/bin/env python3
"""Event delay of GET /api/v1/events (issue 14; docs/benchmarks.md "Event
stream delay").

Starts `pagoda dev`, opens one event stream (?kinds=execution) and runs N
executions of a shell job `true` (at most --inflight at once). For every
execution event the client notes when it read it and subtracts the
master's recorded time of the change (`at_us` in the event; same machine,
same clock). Prints p50/p90/p99/max over all events and over the final
events (one per run), and the bar (p99 under 100 ms). Nothing asserts.

Usage:
  python3 bench/events_delay.py [--build-dir build] [--runs 1000] [--inflight 4]
"""

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import harness  # noqa: E402


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def show(name, ms):
    print("%-14s n=%5d  p50 %7.2f ms  p90 %7.2f ms  p99 %7.2f ms  max %7.2f ms" %
          (name, len(ms), pct(ms, 50), pct(ms, 90), pct(ms, 99), max(ms)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default=os.environ.get("PAGODA_BUILD_DIR", "build"))
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--inflight", type=int, default=4)
    a = ap.parse_args()
    os.environ["PAGODA_BUILD_DIR"] = os.path.abspath(a.build_dir)
    tmp = tempfile.mkdtemp(prefix="pagoda-bench-events-")
    dev = harness.Daemon("dev", tmp, ["--slots", "8", "--log-level", "warn"])
    dev.start(timeout=30)
    try:
        api = dev.api()
        api.shell_job("true", script="true")
        conn = api.conn(timeout=120)
        conn.request("GET", "/api/v1/events?kinds=execution", headers=api.auth_headers())
        resp = conn.getresponse()
        assert resp.status == 200, resp.status
        slots = threading.Semaphore(a.inflight)
        all_ms, final_ms = [], []
        done = threading.Event()
        errors = []

        def reader():
            finals = 0
            try:
                while finals < a.runs:
                    line = resp.readline()
                    if not line:
                        raise RuntimeError("the stream ended")
                    if not line.startswith(b"data: "):
                        continue
                    now_us = time.time() * 1e6
                    d = json.loads(line[6:])
                    ms = (now_us - d["at_us"]) / 1000.0
                    all_ms.append(ms)
                    if d["final"]:
                        final_ms.append(ms)
                        finals += 1
                        slots.release()
            except Exception as e:  # reported below
                errors.append(e)
            done.set()

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        submit = harness.Api(dev.url)
        t0 = time.time()
        for _ in range(a.runs):
            slots.acquire()
            r = submit.request("POST", "/api/v1/jobs/true/run", keepalive=True)
            assert r.status == 201, r
            if errors:
                break
        done.wait(600)
        wall = time.time() - t0
        if errors:
            raise errors[0]
        print("events_delay: %d runs (%d in flight) in %.1f s on %s, %d CPUs, load %.2f, %s" %
              (a.runs, a.inflight, wall, platform.node(), os.cpu_count(), os.getloadavg()[0],
               time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())))
        show("all events", all_ms)
        show("final events", final_ms)
        print("bar: p99 under 100 ms: %s" % ("met" if pct(all_ms, 99) < 100 else "NOT met"))
        conn.close()
    finally:
        dev.stop()


if __name__ == "__main__":
    main()
