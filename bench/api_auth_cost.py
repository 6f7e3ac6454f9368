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

Prints requests/s per build and round, and the medians. Nothing asserts.

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


def rate(api, method, path, n, body=None):
    t0 = time.perf_counter()
    for _ in range(n):
        r = api.request(method, path, body=body, keepalive=True)
        if r.status not in (200, 201):
            raise SystemExit("%s %s -> %r" % (method, path, r))
    return n / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", action="append", required=True)
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    print("machine: %s, %d CPUs, Python %s" % (platform.platform(), os.cpu_count(),
                                               platform.python_version()))
    got = {b: {"get": [], "run": []} for b in a.build_dir}
    for rnd in range(a.rounds):
        for b in a.build_dir:
            tmp = tempfile.mkdtemp(prefix="pagoda-authbench-")
            harness._tokens.clear()
            dev = start_dev(b, tmp, "dev%d" % rnd)
            try:
                api = dev.api()
                api.create_job({"name": "true", "type": "shell", "params": {"argv": ["/bin/true"]}})
                rate(api, "GET", "/api/v1/jobs/true", 200)  # warm-up
                g = rate(api, "GET", "/api/v1/jobs/true", a.n)
                r = rate(api, "POST", "/api/v1/jobs/true/run", a.runs, body={})
                api.close()
                got[b]["get"].append(g)
                got[b]["run"].append(r)
                print("round %d  %-30s tokens=%-3s  GET %8.0f req/s   POST run %7.0f req/s" %
                      (rnd + 1, b, "yes" if dev.token else "no", g, r), flush=True)
            finally:
                dev.stop()
    print()
    base = None
    for b in a.build_dir:
        mg, mr = statistics.median(got[b]["get"]), statistics.median(got[b]["run"])
        line = "median %-30s GET %8.0f req/s   POST run %7.0f req/s" % (b, mg, mr)
        if base:
            line += "   (%+.1f %%, %+.1f %% vs %s)" % ((mg / base[0] - 1) * 100, (mr / base[1] - 1) * 100,
                                                    a.build_dir[0])
        else:
            base = (mg, mr)
        print(line)


if __name__ == "__main__":
    main()
