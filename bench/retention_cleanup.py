#!/usr/bin/env python3
"""Retention cleanup of a large backlog, and what it does to dispatch
(issue 16; docs/benchmarks.md "Retention and logs in the store").

A throw-away PostgreSQL server (tests/pg_harness.sh), one `pagoda master` on
it (logs in the store) and one `pagoda worker` with 4 slots. N executions
(default 1,000,000) are inserted straight into the database with SQL
(generate_series), dated 10 days back, each with one attempt row and one
100-byte log chunk. Then:

  baseline  the master runs without retention; a shell job `true` is
            submitted every --every-ms for --baseline-s seconds;
  cleanup   the master is restarted with master.retention.days = 5 (batch
            --batch rows every --interval-ms) and the same submissions run
            until every old execution is gone.

Printed: the cleanup time and rate, and in both phases the dispatch delay of
the runs (dispatched_us - submitted_us, as the master recorded them) and the
client's time for POST /run (answered once the run is durable: it includes
any stall of the master's loop and the store's queue): p50 / p99 / max, plus the longest time one cleanup batch held the master's
loop (GET /api/v1/cluster storage.retention.batch_us_max). Nothing asserts.

Usage:
  python3 bench/retention_cleanup.py [--build-dir build] [-n 1000000]
      [--batch 2000] [--interval-ms 100] [--every-ms 50] [--baseline-s 15]
"""

import argparse
import os
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import harness  # noqa: E402
import ha_harness  # noqa: E402

DAY_US = 86400 * 1000000


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))] if xs else float("nan")


def show(name, ms):
    print("%-22s n=%5d  p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms" %
          (name, len(ms), pct(ms, 50), pct(ms, 99), max(ms) if ms else float("nan")))


class Submitter:
    """Runs `true` every `every_ms` until stopped; keeps the execution ids."""

    def __init__(self, api, every_ms):
        self.api, self.every, self.ids, self.post_ms = api, every_ms / 1000.0, [], []
        self.stop_ev = threading.Event()
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        nxt = time.monotonic()
        while not self.stop_ev.is_set():
            try:
                t0 = time.monotonic()
                self.ids.append(self.api.run("true"))
                self.post_ms.append((time.monotonic() - t0) * 1000.0)
            except (OSError, AssertionError) as e:
                sys.stderr.write("submit: %s\n" % e)
            nxt += self.every
            time.sleep(max(0.0, nxt - time.monotonic()))

    def stop(self):
        self.stop_ev.set()
        self.t.join()


def delays_ms(api, ids):
    out = []
    for i in ids:
        e = api.wait_final(i, timeout=120)
        if e.get("dispatched_us") and e.get("submitted_us"):
            out.append((e["dispatched_us"] - e["submitted_us"]) / 1000.0)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default=os.environ.get("PAGODA_BUILD_DIR", "build"))
    ap.add_argument("-n", type=int, default=1000000)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--interval-ms", type=int, default=100)
    ap.add_argument("--every-ms", type=int, default=50)
    ap.add_argument("--baseline-s", type=float, default=15)
    ap.add_argument("--max-s", type=float, default=0,
                    help="stop the cleanup phase after this many seconds (0 = until done)")
    a = ap.parse_args()
    os.environ["PAGODA_BUILD_DIR"] = os.path.abspath(a.build_dir)
    tmp = tempfile.mkdtemp(prefix="pagoda-bench-retention-")
    pg = ha_harness.pg_server()
    db = "bench_retention_%d" % os.getpid()
    ci = pg.create_db(db)
    conf = os.path.join(tmp, "retention.conf")
    with open(conf, "w") as f:
        f.write("master = { retention = { days = 5; batch = %d; interval_ms = %d; }; };\n" %
                (a.batch, a.interval_ms))
    master = harness.Daemon("master", tmp, ["--store-postgres", ci, "--log-level", "warn"], name="master")
    worker = None
    try:
        master.start(timeout=30)  # creates the schema
        master.stop()
        old = int(time.time() * 1e6) - 10 * DAY_US
        t0 = time.monotonic()
        step = 100000
        for lo in range(1, a.n + 1, step):
            hi = min(a.n, lo + step - 1)
            pg.psql("INSERT INTO executions (id, job, type, state, attempt, submitted_us, finished_us) "
                    "SELECT i, 'old', 'shell', 'succeeded', 1, %d + i, %d + i FROM generate_series(%d, %d) i"
                    % (old, old + 1, lo, hi), db=db)
            pg.psql("INSERT INTO attempts (execution_id, attempt, state) "
                    "SELECT i, 1, 'succeeded' FROM generate_series(%d, %d) i" % (lo, hi), db=db)
            pg.psql("INSERT INTO log_chunks (execution_id, attempt, seq, bytes, data) "
                    "SELECT i, 1, 0, 100, rpad('line of execution ' || i, 99, '.') || chr(10) "
                    "FROM generate_series(%d, %d) i" % (lo, hi), db=db)
        pg.psql("VACUUM ANALYZE", db=db)
        print("inserted %d executions (+ attempts, log chunks) in %.1f s; database %s MB" %
              (a.n, time.monotonic() - t0,
               int(pg.psql("SELECT pg_database_size(current_database())", db=db).strip()) // 1000000))

        # baseline: no retention
        master.start(timeout=60)
        worker = harness.Daemon("worker", tmp, ["--master", "%s:%d" % (harness.HOST, master.rpc_port),
                                                "--slots", "4", "--log-level", "warn"], name="worker")
        worker.start(timeout=30)
        api = master.api()
        api.shell_job("true", script="true")
        sub = Submitter(api, a.every_ms)
        time.sleep(a.baseline_s)
        sub.stop()
        base = delays_ms(api, sub.ids)
        base_post = sub.post_ms
        worker.stop()
        master.stop()

        # cleanup
        master.args += ["--config", conf]
        master.start(timeout=60)
        worker.args[1] = "%s:%d" % (harness.HOST, master.rpc_port)
        worker.start(timeout=30)
        api = master.api()
        t0 = time.monotonic()
        sub = Submitter(api, a.every_ms)
        left = a.n
        while left > 0 and not (a.max_s and time.monotonic() - t0 > a.max_s):
            time.sleep(1.0)
            left = int(pg.psql("SELECT count(*) FROM executions WHERE job = 'old'", db=db).strip())
            sys.stderr.write("\r  %d old executions left, %.0f s   " % (left, time.monotonic() - t0))
        took = time.monotonic() - t0
        sub.stop()
        sys.stderr.write("\n")
        during = delays_ms(api, sub.ids)
        st = api.ok("GET", "/api/v1/cluster")["storage"]
        orphans = int(pg.psql("SELECT count(*) FROM log_chunks c WHERE NOT EXISTS "
                              "(SELECT 1 FROM executions e WHERE e.id = c.execution_id)", db=db).strip())
        print("cleanup of %d of %d executions: %.1f s (%.0f executions/s), batch %d every %d ms; "
              "%d log chunks without their execution" % (a.n - left, a.n, took, (a.n - left) / took,
                                                         a.batch, a.interval_ms, orphans))
        print("longest cleanup batch on the master's loop: %.1f ms; deleted %d" %
              (st["retention"]["batch_us_max"] / 1000.0, st["retention"]["deleted"]))
        show("dispatch, baseline", base)
        show("dispatch, cleanup", during)
        show("POST run, baseline", base_post)
        show("POST run, cleanup", sub.post_ms)
    finally:
        for d in (worker, master):
            if d is not None and d.proc is not None:
                d.stop()
        pg.psql('DROP DATABASE IF EXISTS "%s"' % db)
        ha_harness._stop_servers()


if __name__ == "__main__":
    main()
