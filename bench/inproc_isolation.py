#!/usr/bin/env python3
"""Cost of running in-process executor runs (the `lua` type) in a child
process (worker.inproc_isolation = "process", the default) rather than on a
worker thread ("thread"). Python 3 stdlib only.

For each mode it starts `pagoda dev` (its own data directory, the built-in
plugins), creates the lua job `return 1` and measures:

  1. one at a time: LOW_N runs, submit, wait for the end, next: the
     attempt's run time (started_us -> finished_us, as the master records
     it) p50/p99, and the wall time per run;
  2. saturation: N runs submitted at once on SLOTS slots: completed runs/s.

Usage:
  "process" uses the pagoda-inproc helper next to pagoda; "process-self"
  the fallback without it (a copy of pagoda alone: `pagoda __inproc-run`).

  python3 bench/inproc_isolation.py [--build-dir build] [--n 400] [--low-n 100] [--slots 2]

Nothing here asserts: it prints figures (docs/benchmarks.md records them).
"""

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
import harness  # noqa: E402


def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def run_time_us(e):
    atts = e.get("attempts") or []
    a = atts[-1] if atts else e
    s, f = a.get("started_us"), a.get("finished_us")
    if s is None or f is None:
        s, f = e.get("started_us"), e.get("finished_us")
    return (f - s) if s and f else None


def wait_final(api, eid, timeout):
    """Polls every millisecond (the harness's 30 ms poll would hide the
    figures)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        e = api.execution(eid)
        if e.get("state") in harness.FINAL_STATES:
            return e
        time.sleep(0.001)
    raise SystemExit("execution %s did not end within %ss" % (eid, timeout))


def measure(mode, args, tmp):
    """mode: "thread", "process" (the pagoda-inproc helper) or "process-self"
    (a copy of pagoda alone in a directory: the child is `pagoda
    __inproc-run`)."""
    conf = os.path.join(tmp, mode + ".conf")
    with open(conf, "w") as f:
        f.write('worker: { inproc_isolation = "%s"; };\n' % mode.split("-")[0])
    plugins = os.path.join(os.environ["PAGODA_BUILD_DIR"], "plugins")
    d = harness.Daemon("dev", tmp, ["--config", conf, "--plugins", plugins, "--slots", str(args.slots)],
                       name="dev-" + mode)
    real_bin = harness.pagoda_bin
    if mode == "process-self":
        alone = os.path.join(tmp, "alone")
        os.makedirs(alone, exist_ok=True)
        shutil.copy(real_bin(), alone)
        harness.pagoda_bin = lambda: os.path.join(alone, "pagoda")
    try:
        d.start()
    finally:
        harness.pagoda_bin = real_bin
    try:
        api = d.api()
        api.create_job({"name": "one", "type": "lua", "params": {"script": "return 1"}})
        for _ in range(5):  # warm up
            api.wait_final(api.run("one"), timeout=60)
        runs, walls = [], []
        for _ in range(args.low_n):
            t0 = time.monotonic()
            e = wait_final(api, api.run("one"), 60)
            walls.append((time.monotonic() - t0) * 1e6)
            if e["state"] != "succeeded":
                raise SystemExit("run failed: %r" % e)
            rt = run_time_us(e)
            if rt is not None:
                runs.append(rt)
        t0 = time.monotonic()
        ids = [api.run("one") for _ in range(args.n)]
        for i in ids:
            e = api.wait_final(i, timeout=300)
            if e["state"] != "succeeded":
                raise SystemExit("run failed: %r" % e)
        rate = args.n / (time.monotonic() - t0)
        return {"run_p50": pct(runs, 50), "run_p99": pct(runs, 99), "wall_p50": pct(walls, 50),
                "wall_p99": pct(walls, 99), "rate": rate}
    finally:
        d.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default=os.path.join(SRC, "build"))
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--low-n", type=int, default=100)
    ap.add_argument("--slots", type=int, default=2)
    args = ap.parse_args()
    os.environ["PAGODA_BUILD_DIR"] = os.path.abspath(args.build_dir)
    tmp = tempfile.mkdtemp(prefix="pagoda-bench-inproc-")
    try:
        print("machine: %s, %d CPUs, %s" % (platform.node(), os.cpu_count(), platform.platform()))
        print("trivial lua job (`return 1`), %d one at a time, %d at once on %d slots"
              % (args.low_n, args.n, args.slots))
        res = {}
        for mode in ("thread", "process", "process-self"):
            r = res[mode] = measure(mode, args, tmp)
            print("%-12s run time p50 %7.2f ms  p99 %7.2f ms | submit->final p50 %7.2f ms  p99 %7.2f ms"
                  " | %7.1f runs/s" % (mode, r["run_p50"] / 1e3, r["run_p99"] / 1e3,
                                      r["wall_p50"] / 1e3, r["wall_p99"] / 1e3, r["rate"]))
        t, p = res["thread"], res["process"]
        print("process vs thread: +%.2f ms run time (p50), throughput x%.2f"
              % ((p["run_p50"] - t["run_p50"]) / 1e3, p["rate"] / t["rate"]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
