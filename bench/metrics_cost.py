#!/usr/bin/env python3
"""The cost of Pagoda's metrics on the job path (docs/observability.md,
docs/benchmarks.md "Metrics on and off").

Runs bench/bench_throughput.py ROUNDS times with metrics off
(master.metrics.enabled = false) and ROUNDS times with them on, alternating
(off/on, then on/off, ...) so that a change of the machine's load hits both
alike, and prints each run and the medians: completed jobs/s at saturation,
submit->start p50/p99 at saturation and at low load, and the ratio on/off.
During the "on" runs a scraper reads /metrics every SCRAPE seconds (as a
Prometheus would), so the scrape's own cost is in the figures.

Usage:
  python3 bench/metrics_cost.py [--build-dir build] [--rounds 5] [--n 1000]
         [--low-n 100] [--connections 4] [--slots 2]

The bar: with metrics on, jobs/s at most 3 % below off. The daemon CPU time per
job is printed too: on a loaded machine jobs/s swings by far more than 3 %
from run to run, its CPU per job much less. Nothing asserts:
it prints figures.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def run_once(a, metrics, out):
    cmd = [sys.executable, os.path.join(HERE, "bench_throughput.py"), "--build-dir", a.build_dir,
           "--n", str(a.n), "--low-n", str(a.low_n), "--connections", str(a.connections),
           "--slots", str(a.slots), "--spawn-n", "50", "--metrics", metrics, "--json", out]
    if metrics == "on" and a.scrape > 0:
        cmd += ["--scrape", str(a.scrape)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit("metrics_cost: bench_throughput.py failed (%d):\n%s%s" %
                         (p.returncode, p.stdout[-2000:], p.stderr[-2000:]))
    with open(out) as f:
        return json.load(f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", default=os.environ.get("PAGODA_BUILD_DIR",
                                                          os.path.join(HERE, "..", "build")))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--low-n", type=int, default=100)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--slots", type=int, default=2)
    ap.add_argument("--scrape", type=float, default=1.0,
                    help="seconds between scrapes of /metrics during 'on' runs (0 = none)")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="pagoda-metrics-cost-")
    runs = {"off": [], "on": []}
    for r in range(a.rounds):
        order = ("off", "on") if r % 2 == 0 else ("on", "off")
        for metrics in order:
            res = run_once(a, metrics, os.path.join(tmp, "%s-%d.json" % (metrics, r)))
            sat, low = res["saturation"], res["low_load"]
            row = {"jobs_per_s": sat["jobs_per_s"], "cpu_us": sat["daemon_cpu_us_per_job"],
                   "start_p50_ms": sat["start_p50_ms"],
                   "start_p99_ms": sat["start_p99_ms"], "low_start_p50_ms": low["start_p50_ms"],
                   "low_start_p99_ms": low["start_p99_ms"], "rss_kb": res.get("daemon_rss_kb")}
            runs[metrics].append(row)
            print("round %d metrics %-3s  %7.1f jobs/s  daemon CPU %6.1f us/job  start p50 %6.2f ms "
                  "p99 %7.2f ms  low-load start p50 %5.2f ms p99 %6.2f ms  rss %s kB" %
                  (r + 1, metrics, row["jobs_per_s"], row["cpu_us"], row["start_p50_ms"],
                   row["start_p99_ms"],
                   row["low_start_p50_ms"], row["low_start_p99_ms"], row["rss_kb"]), flush=True)
    print()
    med = {}
    for metrics in ("off", "on"):
        med[metrics] = {k: statistics.median(x[k] for x in runs[metrics])
                        for k in ("jobs_per_s", "cpu_us", "start_p50_ms", "start_p99_ms",
                                  "low_start_p50_ms", "low_start_p99_ms")}
        print("median metrics %-3s  %7.1f jobs/s  daemon CPU %6.1f us/job  start p50 %6.2f ms "
              "p99 %7.2f ms  low-load start p50 %5.2f ms p99 %6.2f ms" %
              (metrics, med[metrics]["jobs_per_s"], med[metrics]["cpu_us"],
               med[metrics]["start_p50_ms"],
               med[metrics]["start_p99_ms"], med[metrics]["low_start_p50_ms"],
               med[metrics]["low_start_p99_ms"]))
    ratio = med["on"]["jobs_per_s"] / med["off"]["jobs_per_s"]
    print("jobs/s on/off: %.3f (%+.1f %%); the bar: >= 0.970" % (ratio, (ratio - 1) * 100))
    cpu = med["on"]["cpu_us"] / med["off"]["cpu_us"]
    print("daemon CPU per job on/off: %.3f (%+.1f %%): with the daemon's CPU the bottleneck, "
          "jobs/s would drop by about %.1f %%" % (cpu, (cpu - 1) * 100, (1 - 1 / cpu) * 100))
    spread = {m: (min(x["jobs_per_s"] for x in runs[m]), max(x["jobs_per_s"] for x in runs[m]))
              for m in runs}
    print("spread of jobs/s: off %.1f-%.1f, on %.1f-%.1f" %
          (spread["off"][0], spread["off"][1], spread["on"][0], spread["on"][1]))


if __name__ == "__main__":
    main()
