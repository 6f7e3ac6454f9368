#!/usr/bin/env python3
"""Alarm delay: from an execution's failure to the receipt of its signed
webhook (issue 15; docs/benchmarks.md "Alarm delay").

Starts `pagoda dev` with one webhook channel pointing at a local HTTP
receiver (tests/integration/alarm_receivers.py) and one rule on `failed`.
Runs N executions of N distinct failing shell jobs (distinct, so that
grouping does not fold them), at most --inflight at once, and for each one
subtracts the execution's finished_us (the master's clock when it recorded
the failure; same machine) from the moment the receiver read the POST.
Prints p50/p90/p99/max. Nothing asserts.

Usage:
  python3 bench/alarm_delay.py [--build-dir build] [--runs 200] [--inflight 4]
"""

import argparse
import os
import platform
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import harness  # noqa: E402
from alarm_receivers import WebhookReceiver  # noqa: E402


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default=os.environ.get("PAGODA_BUILD_DIR", "build"))
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--inflight", type=int, default=4)
    a = ap.parse_args()
    os.environ["PAGODA_BUILD_DIR"] = os.path.abspath(a.build_dir)
    tmp = tempfile.mkdtemp(prefix="pagoda-bench-alarms-")
    secret = os.path.join(tmp, "secret")
    with open(secret, "w") as f:
        f.write("bench-secret")
    rec = WebhookReceiver(secret="bench-secret").start()
    conf = os.path.join(tmp, "pagoda.conf")
    with open(conf, "w") as f:
        f.write('master: { alarms: { channels = ( { name = "hook"; type = "webhook"; url = "%s"; '
                'secret_file = "%s"; } ); rules = ( { on = ["failed"]; } ); }; };\n' % (rec.url, secret))
    dev = harness.Daemon("dev", tmp, ["--slots", "8", "--log-level", "warn", "--config", conf])
    dev.start(timeout=30)
    try:
        api = dev.api()
        for i in range(a.runs):
            api.shell_job("fail-%d" % i, script="exit 1")
        slots = threading.Semaphore(a.inflight)
        ids = []
        t0 = time.monotonic()
        for i in range(a.runs):
            slots.acquire()
            eid = api.run("fail-%d" % i)
            ids.append(eid)

            def release(eid=eid):
                harness.wait_until(lambda: rec.matching(lambda j: j.get("execution_id") == eid),
                                   timeout=60, interval=0.002, what="webhook")
                slots.release()
            threading.Thread(target=release, daemon=True).start()
        harness.wait_until(lambda: len(rec.posts) >= a.runs, timeout=120, what="all webhooks")
        wall = time.monotonic() - t0
        ms, bad_sig = [], 0
        by_exec = {p["json"]["execution_id"]: p for p in rec.posts if p["json"]}
        for eid in ids:
            p = by_exec[eid]
            bad_sig += 0 if p["signature_ok"] else 1
            fin = int(api.execution(eid)["finished_us"]) / 1e6
            ms.append((p["received"] - fin) * 1000.0)
        print("machine: %s, %d CPUs, load %.2f; %s" % (platform.node(), os.cpu_count(),
                                                       os.getloadavg()[0], time.strftime("%Y-%m-%d")))
        print("runs %d (inflight %d) in %.1f s; signatures bad: %d" % (a.runs, a.inflight, wall, bad_sig))
        print("failure -> webhook  n=%d  p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms" %
              (len(ms), pct(ms, 50), pct(ms, 90), pct(ms, 99), max(ms)))
    finally:
        dev.stop()
        rec.stop()


if __name__ == "__main__":
    main()
