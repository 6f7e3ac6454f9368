#!/usr/bin/env python3
"""What API tokens cost (issue 12; docs/benchmarks.md "API tokens").

Starts `pagoda dev` from each build directory given (e.g. this build and one
of the commit before tokens existed; the harness sends the dev's admin token
when the build wrote one, none otherwise), and measures, alternating the
builds round by round so that the machine's load hits both alike:

  1. request rate: N `GET /api/v1/jobs/true` over one keep-alive connection
     (the cheapest authenticated route: the token check is the largest part
     of what changed);
  2. submit rate: N `POST /api/v1/jobs/true/run` (each is audited too when
     tokens exist) over one keep-alive connection, runs of /bin/true.

Prints requests/s and the daemon's CPU time per request (from /proc, much
less sensitive to other load on the machine than the rate) per build and
round, and the medians. Nothing asserts.

Usage:
  python3 bench/api_auth_cost.py --build-dir build --build-dir /tmp/build-before \
         [--n 3000] [--runs 1000] [--rounds 3]
"""

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import harness  # noqa: E402


def start_dev(build_dir, tmp, name):
    os.environ["PAGODA_BUILD_DIR"] = os.path.abspath(build_dir)
    dev = harness.Daemon("dev", tmp, ["--slots", "2", "--log-level", "warn"], name=name)
    dev.start(timeout=30)
    return dev


def cpu_s(pid):
    """User + system CPU seconds the process has used (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rate(api, method, path, n, body=None, pid=None):
    """Requests/s, and the daemon's CPU µs per request (far less sensitive
    to the machine's load than the rate)."""
    c0 = cpu_s(pid) if pid else 0
    t0 = time.perf_counter()
    for _ in range(n):
        r = api.request(method, path, body=body, keepalive=True)
        if r.status not in (200, 201):
            raise SystemExit("%s %s -> %r" % (method, path, r))
    wall = time.perf_counter() - t0
    return n / wall, ((cpu_s(pid) - c0) * 1e6 / n if pid else 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", action="append", required=True)
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    print("machine: %s, %d CPUs, Python %s" % (platform.platform(), os.cpu_count(),
                                               platform.python_version()))
    got = {b: {"get": [], "run": [], "get_cpu": [], "run_cpu": []} for b in a.build_dir}
    for rnd in range(a.rounds):
        for b in a.build_dir:
            tmp = tempfile.mkdtemp(prefix="pagoda-authbench-")
            harness._tokens.clear()
            dev = start_dev(b, tmp, "dev%d" % rnd)
            try:
                api = dev.api()
                api.create_job({"name": "true", "type": "shell", "params": {"argv": ["/bin/true"]}})
                pid = dev.proc.pid
                rate(api, "GET", "/api/v1/jobs/true", 200)  # warm-up
                g, gc = rate(api, "GET", "/api/v1/jobs/true", a.n, pid=pid)
                r, rc = rate(api, "POST", "/api/v1/jobs/true/run", a.runs, body={}, pid=pid)
                api.close()
                got[b]["get"].append(g)
                got[b]["run"].append(r)
                got[b]["get_cpu"].append(gc)
                got[b]["run_cpu"].append(rc)
                print("round %d  %-24s tokens=%-3s  GET %6.0f req/s %6.1f µs CPU/req   "
                      "POST run %5.0f req/s %6.1f µs CPU/req" %
                      (rnd + 1, b, "yes" if getattr(dev, "token", None) else "no", g, gc, r, rc),
                      flush=True)
            finally:
                dev.stop()
    print()
    base = None
    for b in a.build_dir:
        med = {k: statistics.median(v) for k, v in got[b].items()}
        line = ("median %-24s GET %6.0f req/s %6.1f µs CPU/req   POST run %5.0f req/s %6.1f µs CPU/req" %
                (b, med["get"], med["get_cpu"], med["run"], med["run_cpu"]))
        if base:
            line += "\n       vs %s: GET %+.1f %% rate, %+.1f µs CPU; POST run %+.1f %% rate, %+.1f µs CPU" % (
                a.build_dir[0], (med["get"] / base["get"] - 1) * 100, med["get_cpu"] - base["get_cpu"],
                (med["run"] / base["run"] - 1) * 100, med["run_cpu"] - base["run_cpu"])
        else:
            base = med
        print(line)


if __name__ == "__main__":
    main()
