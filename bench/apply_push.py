#!/usr/bin/env python3
"""Definitions as files and plugin push (issue 16; docs/benchmarks.md
"Definitions as files and plugin push").

1. `pagoda apply`: starts `pagoda dev`, writes --jobs job files (plus one
   schedule per 10 jobs) and times, as wall clock of the CLI process:
   the first apply (all created), apply --dry-run (nothing changes),
   export, and apply --prune after half the job files were removed.
2. `pagoda plugin push`: starts a master and --workers workers and times,
   for --pushes pushes alternating two builds of a test plugin, the CLI
   call and the time until every worker reports the new version active
   (polled every 20 ms, so +-20 ms).

Prints the figures; nothing asserts.

Usage:
  python3 bench/apply_push.py [--build-dir build] [--jobs 1000] [--workers 3] [--pushes 6]
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import harness  # noqa: E402


def cli(url, *args):
    env = dict(os.environ)
    env["PAGODA_ADDR"] = url
    t0 = time.monotonic()
    p = subprocess.run([harness.pagoda_bin()] + list(args), env=env, capture_output=True, timeout=600)
    dt = time.monotonic() - t0
    if p.returncode != 0:
        raise SystemExit("pagoda %s failed: %s" % (" ".join(args), p.stderr.decode()))
    return dt, p.stdout.decode()


def bench_apply(a, tmp):
    os.makedirs(tmp)
    dev = harness.Daemon("dev", tmp, ["--log-level", "warn"])
    dev.start(timeout=30)
    try:
        d = os.path.join(tmp, "defs")
        os.makedirs(os.path.join(d, "jobs"))
        os.makedirs(os.path.join(d, "schedules"))
        for i in range(a.jobs):
            with open(os.path.join(d, "jobs", "j%05d.json" % i), "w") as f:
                json.dump({"kind": "job", "name": "j%05d" % i, "type": "shell",
                           "params": {"script": "echo %d" % i}, "retries": i % 3,
                           "labels": ["etl"] if i % 2 else []}, f)
            if i % 10 == 0:
                with open(os.path.join(d, "schedules", "s%05d.json" % i), "w") as f:
                    json.dump({"kind": "schedule", "name": "s%05d" % i, "job": "j%05d" % i,
                               "cron": "0 3 * * *", "enabled": False}, f)
        n = a.jobs + (a.jobs + 9) // 10
        t, _ = cli(dev.url, "apply", "-f", d)
        print("apply (create)       %5d definitions  %7.2f s  %7.0f /s" % (n, t, n / t))
        t, _ = cli(dev.url, "apply", "-f", d, "--dry-run")
        print("apply --dry-run      %5d definitions  %7.2f s  %7.0f /s" % (n, t, n / t))
        t, _ = cli(dev.url, "export", os.path.join(tmp, "exported"))
        print("export               %5d definitions  %7.2f s  %7.0f /s" % (n, t, n / t))
        for i in range(0, a.jobs, 2):
            os.remove(os.path.join(d, "jobs", "j%05d.json" % i))
            if i % 10 == 0:
                os.remove(os.path.join(d, "schedules", "s%05d.json" % i))
        t, out = cli(dev.url, "apply", "-f", d, "--prune")
        print("apply --prune        %5d definitions  %7.2f s  (%s)" % (n, t, out.strip().splitlines()[-1]))
    finally:
        dev.stop()


def bench_push(a, tmp):
    os.makedirs(tmp)
    master = harness.Daemon("master", tmp, ["--log-level", "warn"], name="m")
    master.start(timeout=30)
    workers = []
    try:
        for i in range(a.workers):
            w = harness.Daemon("worker", tmp, ["--master", "%s:%d" % (harness.HOST, master.rpc_port),
                                               "--id", "w-%d" % i, "--log-level", "warn"], name="w%d" % i)
            w.start(timeout=30)
            workers.append(w)
        api = master.api()
        files = [harness.test_plugin("plugins-push", "pushed_echo_%d.so" % v) for v in (1, 2)]
        for k in range(a.pushes):
            t_cli, _ = cli(master.url, "plugin", "push", files[k % 2])
            t0 = time.monotonic() - t_cli
            sha = [p for p in api.ok("GET", "/api/v1/plugins/pushed")["pushed"]][0]["active"]
            while True:
                p = api.ok("GET", "/api/v1/plugins/pushed")["pushed"][0]
                active = {w["worker"] for w in p["workers"] if w["sha256"] == sha and w["status"] == "active"}
                if len(active) == a.workers:
                    break
                if time.monotonic() - t0 > 120:
                    raise SystemExit("workers did not all take %s" % sha[:12])
                time.sleep(0.02)
            t_all = time.monotonic() - t0
            print("push %d (%s)  CLI %6.0f ms   active on all %d workers after %6.0f ms" %
                  (k + 1, sha[:12], t_cli * 1000, a.workers, t_all * 1000))
    finally:
        for w in workers:
            w.stop()
        master.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default=os.environ.get("PAGODA_BUILD_DIR", "build"))
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--pushes", type=int, default=6)
    a = ap.parse_args()
    os.environ["PAGODA_BUILD_DIR"] = os.path.abspath(a.build_dir)
    print("machine: %s, %d CPUs, %s" % (platform.node(), os.cpu_count(), platform.platform()))
    tmp = tempfile.mkdtemp(prefix="pagoda-bench-apply-")
    try:
        bench_apply(a, os.path.join(tmp, "apply"))
        bench_push(a, os.path.join(tmp, "push"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
