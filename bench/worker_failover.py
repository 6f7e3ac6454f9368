#!/usr/bin/env python3
"""Pagoda failover benchmark: how long a job waits after its worker dies.

Starts `pagoda master` and three `pagoda worker` processes on loopback, then
for each trial runs a long job, and when its first attempt is running:

  kill -9   kills the attempt's worker (the connection closes at once) and
            measures the time from the kill to the relaunched attempt's
            `started_us` (the "running" report of attempt 2 on another
            worker);
  SIGSTOP   stops the attempt's worker (its connection stays open: only
            missed heartbeats tell, lost after 3 x --heartbeat-ms) and
            measures the same; then SIGCONT, and the worker reconnects.

Prints each trial and the median / min / max of each kind. Bars
(docs/benchmarks.md): kill -9 < 100 ms; SIGSTOP with the default 1 s
heartbeat < 4 s. Nothing asserts: it prints figures.

Usage: python3 bench/worker_failover.py [--build-dir build] [--trials 5]
       [--heartbeat-ms 1000] [--skip-sigstop] [--keep]
"""

import argparse
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
import harness  # noqa: E402

JOB = 'if [ "$PAGODA_ATTEMPT" = 1 ]; then sleep 8; else sleep 30; fi'


def wait_running_attempt(api, eid, n, timeout):
    """Polls until attempt n of eid has a started_us; returns the execution."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        e = api.execution(eid)
        atts = [a for a in e.get("attempts", []) if a.get("attempt") == n]
        if atts and atts[0].get("started_us") and atts[0].get("state") in ("running", "succeeded"):
            return e, atts[0]
        time.sleep(0.002)
    raise RuntimeError("execution %s: attempt %d not running within %ss: %s" %
                       (eid, n, timeout, harness._short(api.execution(eid))))


def wait_alive(api, ids, timeout=30):
    def check():
        ws = {w["id"]: w for w in api.ok("GET", "/api/v1/workers")["workers"]}
        return all(ws.get(i, {}).get("state") == "alive" and ws[i]["slots_used"] == 0 for i in ids)
    harness.wait_until(check, timeout, 0.05, "workers alive and idle")


def trial(api, workers, kind, timeout):
    eid = api.run("failover")
    _, a1 = wait_running_attempt(api, eid, 1, 10)
    victim = workers[a1["worker_id"]]
    t_kill = time.time()
    if kind == "kill9":
        os.kill(victim.proc.pid, signal.SIGKILL)
    else:
        os.kill(victim.proc.pid, signal.SIGSTOP)
    try:
        _, a2 = wait_running_attempt(api, eid, 2, timeout)
    finally:
        if kind == "sigstop":
            os.kill(victim.proc.pid, signal.SIGCONT)
    delay_ms = (a2["started_us"] / 1e6 - t_kill) * 1000.0
    api.ok("POST", "/api/v1/executions/%d/kill" % eid)
    api.wait_final(eid, timeout=15)
    if kind == "kill9":
        victim.proc.wait(timeout=10)
        victim.start()
    return delay_ms, a1["worker_id"], a2["worker_id"]


def summary(name, values, bar):
    if not values:
        return
    print("%-8s trials=%d median=%.1f ms min=%.1f ms max=%.1f ms (bar < %s)" %
          (name, len(values), statistics.median(values), min(values), max(values), bar))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=os.path.join(SRC, "build"))
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--heartbeat-ms", type=int, default=1000)
    ap.add_argument("--skip-sigstop", action="store_true")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    os.environ["PAGODA_BUILD_DIR"] = os.path.abspath(args.build_dir)
    if not os.access(harness.pagoda_bin(), os.X_OK):
        sys.exit("no pagoda at %s" % harness.pagoda_bin())
    tmp = tempfile.mkdtemp(prefix="pagoda-bench-failover-")
    daemons = []
    try:
        master = harness.Daemon("master", tmp, ["--heartbeat-ms", str(args.heartbeat_ms),
                                                "--kill-grace-ms", "200", "--log-level", "warn"])
        daemons.append(master)
        master.start()
        api = master.api()
        workers = {}
        for i in (1, 2, 3):
            wid = "fo-%d" % i
            w = harness.Daemon("worker", tmp, ["--master", "%s:%d" % (harness.HOST, master.rpc_port),
                                               "--id", wid, "--slots", "2", "--log-level", "warn"],
                               name=wid)
            daemons.append(w)
            w.start()
            workers[wid] = w
        wait_alive(api, workers)
        api.shell_job("failover", JOB)
        print("pagoda worker failover, %d trials per kind, heartbeat %d ms (lost after 3 missed), "
              "%d cores" % (args.trials, args.heartbeat_ms, os.cpu_count()))
        results = {"kill9": [], "sigstop": []}
        kinds = ["kill9"] + ([] if args.skip_sigstop else ["sigstop"])
        for kind in kinds:
            for n in range(args.trials):
                wait_alive(api, workers)
                ms, w1, w2 = trial(api, workers, kind, timeout=30)
                results[kind].append(ms)
                print("  %-7s trial %d: %8.1f ms (attempt 1 on %s, attempt 2 on %s)" % (kind, n + 1, ms,
                                                                                        w1, w2))
        summary("kill -9", results["kill9"], "100 ms")
        summary("SIGSTOP", results["sigstop"], "4000 ms")
        if results["kill9"]:
            print("kill9_median_ms=%.1f" % statistics.median(results["kill9"]))
        if results["sigstop"]:
            print("sigstop_median_ms=%.1f" % statistics.median(results["sigstop"]))
    finally:
        for d in reversed(daemons):
            try:
                if d.proc is not None and d.alive():
                    os.kill(d.proc.pid, signal.SIGCONT)
                d.stop(timeout=10)
            except Exception as e:  # noqa: BLE001
                print("stopping %s: %s" % (d.name, e), file=sys.stderr)
        if args.keep:
            print("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
