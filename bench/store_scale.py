#!/usr/bin/env python3
"""A master on a store with many executions (issue 17, item 3).

  1. build/bench/bench_store_scale DIR N U: fills DIR/pagoda.db with N
     executions (U of them unfinished) and times pages of executions
     through the store (see bench/store_scale.c);
  2. starts `pagoda master --data DIR` on it (three times) and prints how long
     the start takes until "is running" and until GET /api/v1/executions
     answers, and the daemon's RSS: start-up loads only unfinished work;
  3. times GET /api/v1/executions pages over HTTP on that master;
  4. memory per queued execution: a `pagoda master` without workers, Q runs
     submitted with POST /api/v1/runs (all stay pending): RSS growth / Q;
  5. memory per finished execution: `pagoda dev`, F runs of /bin/true to
     their end, twice: RSS growth over the second round / F (finished
     executions leave memory once their final record is durable; the first
     round fills the bounded event ring and caches).

Usage: python3 bench/store_scale.py --build-dir BUILD [--n 1000000]
       [--unfinished 1000] [--queued 20000] [--finished 20000] [--dir DIR]
Prints figures; asserts nothing.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench_throughput as bt  # noqa: E402
from bench_throughput import harness  # noqa: E402


def submit_batches(api, job, n, batch=1000):
    ids = []
    while len(ids) < n:
        k = min(batch, n - len(ids))
        r = api.request("POST", "/api/v1/runs", body={"runs": [{"job": job}] * k}, timeout=120)
        if r.status == 404:  # an older master: one run at a time
            ids.append(api.run(job))
            continue
        if r.status != 201:
            raise SystemExit("bench: POST /api/v1/runs -> %d %s" % (r.status, r.text[:200]))
        ids += [e["execution_id"] for e in r.json["executions"]]
    return ids


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", default=os.environ.get("PAGODA_BUILD_DIR",
                                                          os.path.join(bt.SRC, "build")))
    ap.add_argument("--n", type=int, default=1000000)
    ap.add_argument("--unfinished", type=int, default=1000)
    ap.add_argument("--queued", type=int, default=20000)
    ap.add_argument("--finished", type=int, default=20000)
    ap.add_argument("--dir", help="the data directory to fill (kept); default: a temp dir")
    a = ap.parse_args()
    build = os.path.abspath(a.build_dir)
    os.environ["PAGODA_BUILD_DIR"] = build
    tmp = tempfile.mkdtemp(prefix="pagoda-scale-")
    data = a.dir or os.path.join(tmp, "data")
    print("Pagoda store scale benchmark - %s" % bt.machine()["date"])
    with open("/proc/loadavg") as f:
        print("load avg before: %s" % " ".join(f.read().split()[:3]))
    try:
        # 1. fill and pages through the store
        p = subprocess.run([os.path.join(build, "bench", "bench_store_scale"), data, str(a.n),
                            str(a.unfinished)], capture_output=True, text=True, timeout=3600)
        sys.stdout.write(p.stdout)
        if p.returncode != 0:
            raise SystemExit("bench_store_scale failed: %s" % p.stderr)

        # 2. start-up on it
        starts, rss = [], []
        for _ in range(3):
            # A master without workers: the unfinished runs stay unfinished,
            # so every start has the same work to load.
            d = harness.Daemon("master", tmp, ["--log-level", "warn"], data=data)
            t = time.monotonic()
            d.start(timeout=120)
            running = time.monotonic() - t
            api = d.api()
            api.executions(limit=1)
            served = time.monotonic() - t
            starts.append((running, served))
            rss.append(bt.rss_kb(d.proc.pid))
            # 3. pages over HTTP
            if len(starts) == 1:
                for q in ("limit=100", "job=job-3&limit=100", "state=failed&limit=100",
                          "job=job-7&state=failed&limit=100", "limit=100&before=%d" % (a.n // 2)):
                    ms = []
                    for _ in range(10):
                        t1 = time.perf_counter()
                        r = api.request("GET", "/api/v1/executions?" + q, keepalive=True)
                        ms.append((time.perf_counter() - t1) * 1000)
                        assert r.status == 200, r.text[:200]
                    print("  GET /api/v1/executions?%-34s p50 %6.2f ms  (HTTP round trip, %d rows,"
                          " next_before %s)" % (q, statistics.median(ms), len(r.json["executions"]),
                                                r.json.get("next_before")))
                api.close()
            d.stop()
        print("master start-up on %d stored executions (%d unfinished), 3 starts:" %
              (a.n, a.unfinished))
        for (running, served), kb in zip(starts, rss):
            print("  'is running' after %.2f s, first page served after %.2f s, RSS %s kB  %s" %
                  (running, served, kb, "(bar <= 2 s: MET)" if served <= 2 else "(bar <= 2 s: MISSED)"))

        # 4. memory per queued execution (no worker: they stay pending)
        m = harness.Daemon("master", tmp, ["--log-level", "warn"], name="queue-master")
        m.start(timeout=60)
        api = m.api()
        api.create_job({"name": "q", "type": "shell", "params": {"argv": ["/bin/true"]}})
        submit_batches(api, "q", 100)  # warm-up: allocator, statements
        r0 = bt.rss_kb(m.proc.pid)
        submit_batches(api, "q", a.queued)
        time.sleep(1)
        r1 = bt.rss_kb(m.proc.pid)
        print("memory per queued execution: %.2f kB (RSS %d -> %d kB for %d pending runs)" %
              ((r1 - r0) / a.queued, r0, r1, a.queued))
        m.stop()

        if a.finished <= 0:
            return 0
        # 5. memory per finished execution
        d = harness.Daemon("dev", tmp, ["--slots", "2", "--log-level", "warn"], name="fin-dev")
        d.start(timeout=60)
        api = d.api()
        api.create_job({"name": "t", "type": "shell", "params": {"argv": ["/bin/true"]}})
        submit_batches(api, "t", 200)  # warm-up
        harness.wait_until(lambda: api.executions(job="t", state="succeeded", limit=1000)
                           and len(api.executions(job="t", state="succeeded", limit=1000)) == 200,
                           timeout=120, what="warm-up runs")
        def run_all():
            ids = submit_batches(api, "t", a.finished)
            api.wait_final(max(ids), timeout=900)
            harness.wait_until(lambda: not api.executions(job="t", state="pending", limit=1) and
                               not api.executions(job="t", state="dispatched", limit=1) and
                               not api.executions(job="t", state="running", limit=1),
                               timeout=900, what="all runs finished")
        # A first round fills what is bounded but not per execution (the
        # event ring, SQLite's page caches, the allocator's arenas); the
        # second shows what each finished execution leaves behind.
        run_all()
        time.sleep(1)
        r0 = bt.rss_kb(d.proc.pid)
        run_all()
        time.sleep(1)
        r1 = bt.rss_kb(d.proc.pid)
        print("memory per finished execution: %.3f kB (RSS %d -> %d kB over a second round of %d "
              "runs, after a first round filled the bounded caches)" %
              ((r1 - r0) / a.finished, r0, r1, a.finished))
        d.stop()
    finally:
        if not a.dir:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
