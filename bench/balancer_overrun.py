#!/usr/bin/env python3
"""Master dispatch latency while a balancer overruns its budget (issue 13).

A real `pagoda master` and one real worker (64 slots). Job `plain` (shell
`true`, built-in balancer) is run R times one after another and each run's
dispatch delay is measured: dispatched_us (stamped by
the master) - the time this client sent the submit. Two phases:

  idle      nothing else happens;
  overrun   a second client keeps submitting runs of job `stall`, whose
            balancer loops on string.find(string.rep('a', 600), '.-.-.-b')
            under pcall (before issue 13 one such call held the master's
            loop ~70 s; now the bounded matcher charges its steps to the
            instruction budget and the call ends with "instruction budget
            exceeded", the built-in balancer deciding instead).

Prints p50/p99/max of the dispatch delay and of /api/v1/health round trips
in each phase, and how many stall picks overran. The bar (docs/
benchmarks.md): no dispatch delayed more than the budget (the sandbox's
time limit, 1000 ms per call). Printed, never asserted.

  PAGODA_BUILD_DIR=build python3 bench/balancer_overrun.py [--runs R]
"""

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import harness  # noqa: E402

STALL = ("function pick(job, workers, state)\n"
         "  while true do pcall(string.find, string.rep('a', 600), '.-.-.-b') end\n"
         "end\n")


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * (len(xs) - 1)))))
    return xs[k]


def dispatch_delays(api, runs):
    """Per run: dispatched_us (stamped by the master) - the wall-clock time
    this client sent the submit (same host, same clock): what a user sees,
    including time the request waited for the master's loop."""
    delays = []
    for _ in range(runs):
        sent_us = time.time() * 1e6
        eid = api.run("plain")
        e = api.wait_final(eid, timeout=60)
        delays.append((e["dispatched_us"] - sent_us) / 1000.0)
    return delays


class Background(threading.Thread):
    def __init__(self, url, fn, interval):
        super().__init__(daemon=True)
        self.api = harness.Api(url, timeout=60)
        self.fn, self.interval = fn, interval
        self.halt = threading.Event()
        self.samples = []

    def run(self):
        while not self.halt.is_set():
            self.fn(self)
            time.sleep(self.interval)


def health(bg):
    t0 = time.monotonic()
    bg.api.health()
    bg.samples.append((time.monotonic() - t0) * 1000.0)


def submit_stall(bg):
    bg.samples.append(bg.api.run("stall"))


def phase(master, api, runs, overrun):
    probe = Background(master.url, health, 0.01)
    probe.start()
    stall = Background(master.url, submit_stall, 0.02) if overrun else None
    if stall:
        stall.start()
    try:
        delays = dispatch_delays(api, runs)
    finally:
        for t in (probe, stall):
            if t:
                t.halt.set()
                t.join(120)
    return delays, probe.samples, (len(stall.samples) if stall else 0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="pagoda-bench-overrun-")
    bdir = os.path.join(tmp, "balancers")
    os.makedirs(bdir)
    with open(os.path.join(bdir, "stall.lua"), "w") as f:
        f.write(STALL)
    master = harness.Daemon("master", tmp, ["--balancers", bdir, "--log-level", "warn"])
    master.start()
    worker = None
    try:
        worker = harness.Daemon("worker", tmp, ["--master", "%s:%d" % (harness.HOST, master.rpc_port),
                                                "--id", "w1", "--slots", "64", "--log-level", "warn"],
                                name="w1")
        worker.start()
        api = master.api()
        harness.wait_until(lambda: any(w["state"] == "alive"
                                       for w in api.ok("GET", "/api/v1/workers")["workers"]), 20)
        api.create_job({"name": "plain", "type": "shell", "params": {"script": "true"}})
        api.create_job({"name": "stall", "type": "shell", "params": {"script": "true"},
                        "balancer": "stall"})
        dispatch_delays(api, 5)  # warm-up
        print("dispatch delay of a plain job, %d runs per phase (ms)" % args.runs)
        print("%-9s %9s %9s %9s   %-28s %s" % ("phase", "p50", "p99", "max", "health p50/p99/max", "stall runs"))
        for name, overrun in (("idle", False), ("overrun", True)):
            d, h, n = phase(master, api, args.runs, overrun)
            print("%-9s %9.2f %9.2f %9.2f   %8.2f/%8.2f/%8.2f     %d" % (
                name, pct(d, 50), pct(d, 99), max(d), pct(h, 50), pct(h, 99), max(h), n))
        bals = {b["name"]: b for b in api.ok("GET", "/api/v1/balancers")["balancers"]}
        print("stall balancer: %d calls, %d errors, last error: %s" % (
            bals["stall"]["calls"], bals["stall"]["errors"], bals["stall"]["last_error"]))
    finally:
        if worker:
            worker.stop()
        master.stop()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
