#!/usr/bin/env python3
"""Logs through the whole path into PostgreSQL, and their effect on job
throughput (issue 16; docs/benchmarks.md "Retention and logs in the store").

A throw-away PostgreSQL server, one `pagoda master` on it (logs in the
store) and one `pagoda worker` (--slots 4):

  big log   one shell job writes --mb MiB of 100-byte lines as fast as it
            can; measured from its start_us to the moment the master serves
            the whole log (GET .../log size), i.e. through the worker, the
            RPC and the master into the store's writer queue (the last bytes
            are durable at most one tick, a quarter heartbeat, later): MB/s
            and lines/s;
  jobs      --runs runs of a job `quiet` (`true`) and of a job `chatty`
            (prints --lines 100-byte lines), all submitted at once:
            completed runs per second, first submission to last final.

Nothing asserts. Usage:
  python3 bench/log_jobs.py [--build-dir build] [--mb 64] [--runs 200] [--lines 1000]
"""

import argparse
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import harness  # noqa: E402
import ha_harness  # noqa: E402

LINE = "%07d the quick brown fox jumps over the lazy dog 0123456789abcdefghijklmnopqrstuvwxyz..........."
assert len(LINE % 0) == 99  # with its newline, a line is 100 bytes


def throughput(api, job, runs):
    t0 = time.monotonic()
    ids = [api.run(job) for _ in range(runs)]
    for i in ids:
        e = api.wait_final(i, timeout=600)
        if e["state"] != "succeeded":
            raise AssertionError("run %s: %s" % (i, harness._short(e)))
    return runs / (time.monotonic() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default=os.environ.get("PAGODA_BUILD_DIR", "build"))
    ap.add_argument("--mb", type=int, default=64)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--lines", type=int, default=1000)
    a = ap.parse_args()
    os.environ["PAGODA_BUILD_DIR"] = os.path.abspath(a.build_dir)
    tmp = tempfile.mkdtemp(prefix="pagoda-bench-logs-")
    pg = ha_harness.pg_server()
    db = "bench_logs_%d" % os.getpid()
    ci = pg.create_db(db)
    master = harness.Daemon("master", tmp, ["--store-postgres", ci, "--log-level", "warn"], name="master")
    worker = None
    try:
        master.start(timeout=30)
        worker = harness.Daemon("worker", tmp, ["--master", "%s:%d" % (harness.HOST, master.rpc_port),
                                                "--slots", "4", "--log-level", "warn"], name="worker")
        worker.start(timeout=30)
        api = master.api()
        lines = a.mb * 1024 * 1024 // 100
        # 100-byte lines: printf of a 99-character line and a newline
        api.shell_job("big", script="awk 'BEGIN { for (i = 0; i < %d; i++) printf \"%s\\n\", i }'"
                      % (lines, LINE))
        size = lines * 100
        eid = api.run("big")
        e = api.wait_final(eid, timeout=600)
        harness.wait_until(lambda: int(api.get("/api/v1/executions/%d/log?offset=%d" % (eid, size - 1))
                                       .headers.get("content-length", "0")) == 1, 600, 0.05,
                           "the whole log stored")
        t_end = time.time()
        secs = t_end - e["started_us"] / 1e6
        print("one job, %d MiB of log (%d lines): %.2f s from its start until the master serves the whole log: "
              "%.1f MB/s, %.0f lines/s" % (a.mb, lines, secs, size / 1e6 / secs, lines / secs))
        st = api.ok("GET", "/api/v1/cluster")["storage"]
        print("  log_chunks on disk: %.1f MiB" % (st["log_bytes"] / 1048576.0))

        api.shell_job("quiet", script="true")
        api.shell_job("chatty", script="awk 'BEGIN { for (i = 0; i < %d; i++) printf \"%s\\n\", i }'"
                      % (a.lines, LINE))
        for job in ("quiet", "chatty", "quiet", "chatty"):
            r = throughput(api, job, a.runs)
            print("%-6s x %d (%s): %.1f runs/s" % (job, a.runs,
                                                   "no output" if job == "quiet" else
                                                   "%d lines, %d KB each" % (a.lines, a.lines * 100 // 1000),
                                                   r))
    finally:
        for d in (worker, master):
            if d is not None and d.proc is not None:
                d.stop()
        pg.psql('DROP DATABASE IF EXISTS "%s"' % db)
        ha_harness._stop_servers()


if __name__ == "__main__":
    main()
