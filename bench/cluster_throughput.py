#!/usr/bin/env python3
"""Pagoda cluster throughput benchmark: trivial jobs on one master and four
workers (separate processes on loopback), the cluster counterpart of
bench/bench_throughput.py (whose helpers it reuses).

Starts `pagoda master` and W `pagoda worker` processes (default 4, --slots
each, default 1), creates the job `true` (argv ["/bin/true"]), submits N runs
(default 2000) back to back over keep-alive HTTP, and prints: completed
jobs/s, submit->start and submit->finish p50/p99, the phases of a run, how
the runs spread over the workers, the master's CPU time and RSS, and the
raw posix_spawn rate of the machine with as many in flight as the cluster
has slots (build/bench/bench_spawn_rate), with Pagoda's rate as a ratio.

Usage: python3 bench/cluster_throughput.py [--build-dir build] [--n 2000]
       [--workers 4] [--slots 1] [--connections 1] [--json FILE] [--keep]
       [--rpc-tls]
--rpc-tls: master and workers talk over TLS (certificates made with the
openssl command in the temporary directory) with a cluster secret.
Nothing asserts: it prints figures.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench_throughput as bt  # noqa: E402
from bench_throughput import harness  # noqa: E402


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def spawn_rate(build_dir, n, in_flight):
    exe = os.path.join(build_dir, "bench", "bench_spawn_rate")
    if not os.access(exe, os.X_OK):
        return None, "no %s (build the bench targets)" % exe
    p = subprocess.run([exe, str(n), str(in_flight)], capture_output=True, text=True, timeout=600)
    m = re.search(r"spawns_per_s=([0-9.]+)", p.stdout)
    if p.returncode != 0 or not m:
        return None, "bench_spawn_rate failed: %s %s" % (p.stdout, p.stderr)
    return float(m.group(1)), p.stdout.splitlines()[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", default=os.environ.get("PAGODA_BUILD_DIR", os.path.join(bt.SRC, "build")))
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--slots", type=int, default=1)
    ap.add_argument("--connections", type=int, default=1)
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--rpc-tls", action="store_true", help="workers connect over TLS")
    a = ap.parse_args()
    build = os.path.abspath(a.build_dir)
    os.environ["PAGODA_BUILD_DIR"] = build
    m = bt.machine()
    tmp = tempfile.mkdtemp(prefix="pagoda-bench-cluster-")
    daemons = []
    r = {"machine": m, "n": a.n, "workers": a.workers, "slots": a.slots, "connections": a.connections}
    try:
        master_tls, worker_tls = [], []
        if a.rpc_tls:
            sys.path.insert(0, os.path.join(bt.SRC, "tests", "integration"))
            import test_rpc_security as rs  # noqa: E402 (certificates and secret file helpers)
            certs = rs.make_certs(os.path.join(tmp, "certs"))
            secret = rs.write_secret(tmp)
            master_tls = ["--secret-file", secret, "--rpc-tls-cert", certs["ca-master.crt"],
                          "--rpc-tls-key", certs["ca-master.key"]]
            worker_tls = ["--secret-file", secret, "--tls-ca", certs["ca.crt"]]
        r["rpc_tls"] = a.rpc_tls
        master = harness.Daemon("master", tmp, ["--log-level", "warn"] + master_tls)
        daemons.append(master)
        master.start(timeout=30)
        api = master.api()
        ids = []
        for i in range(a.workers):
            wid = "ct-%d" % (i + 1)
            ids.append(wid)
            w = harness.Daemon("worker", tmp, ["--master", "%s:%d" % (harness.HOST, master.rpc_port),
                                               "--id", wid, "--slots", str(a.slots),
                                               "--log-level", "warn"] + worker_tls, name=wid)
            daemons.append(w)
            w.start(timeout=30)
        harness.wait_until(lambda: sum(w["state"] == "alive" for w in
                                       api.ok("GET", "/api/v1/workers")["workers"]) == a.workers,
                           30, 0.05, "workers alive")
        api.create_job({"name": "true", "type": "shell", "params": {"argv": ["/bin/true"]}})
        for i in [api.run("true") for _ in range(40)]:
            api.wait_final(i, timeout=30)

        c0 = cpu_s(master.proc.pid)
        wc0 = sum(cpu_s(d.proc.pid) for d in daemons[1:])
        ids_run, sub_wall, rtts, sub_cpu = bt.submit_many(master.url, a.n, a.connections)
        execs = bt.fetch_executions(api, ids_run, timeout=max(120, a.n / 10))
        c1 = cpu_s(master.proc.pid)
        wc1 = sum(cpu_s(d.proc.pid) for d in daemons[1:])
        ex = list(execs.values())
        s_lat, f_lat, states = bt.latencies(ex)
        span_us = max(int(e["finished_us"]) for e in ex) - min(int(e["submitted_us"]) for e in ex)
        done = states.get("succeeded", 0)
        spread = {}
        for e in ex:
            spread[e.get("worker_id")] = spread.get(e.get("worker_id"), 0) + 1
        r.update({
            "states": states, "span_s": span_us / 1e6, "jobs_per_s": done / (span_us / 1e6),
            "submit_per_s": a.n / sub_wall, "post_rtt_p50_ms": bt.ms(bt.pct(rtts, 50)),
            "post_rtt_p99_ms": bt.ms(bt.pct(rtts, 99)), "submitter_cpu_s": sub_cpu,
            "start_p50_ms": bt.ms(bt.pct(s_lat, 50)), "start_p99_ms": bt.ms(bt.pct(s_lat, 99)),
            "finish_p50_ms": bt.ms(bt.pct(f_lat, 50)), "finish_p99_ms": bt.ms(bt.pct(f_lat, 99)),
            "phases": bt.phases(ex), "spread": spread,
            "master_cpu_s": c1 - c0, "workers_cpu_s": wc1 - wc0,
            "master_rss_kb": bt.rss_kb(master.proc.pid),
        })
    finally:
        for d in reversed(daemons):
            rc = d.stop()
            if rc != 0:
                sys.stderr.write("bench: %s exited with %r; stderr tail:\n%s\n" %
                                 (d.name, rc, harness.tail(d.stderr_path)))
        if a.keep:
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    spawn, line = spawn_rate(build, a.n, a.workers * a.slots)
    r["spawn_per_s"] = spawn
    r["ratio"] = r["jobs_per_s"] / spawn if spawn else None
    print()
    print("Pagoda cluster throughput — %s" % m["date"])
    print("machine: %s CPUs, %s, Linux %s" % (m["nproc"], m["cpu"], m["kernel"]))
    print("pagoda master + %d pagoda worker x %d slot(s); job `true` = argv [/bin/true]; "
          "%d submitter connection(s)" % (a.workers, a.slots, a.connections))
    print("   states                     %s" % r["states"])
    print("   completed jobs/s           %8.1f   (first submit -> last finish: %.2f s)" %
          (r["jobs_per_s"], r["span_s"]))
    print("   submitter                  %8.1f runs/s, POST p50 %.2f ms p99 %.2f ms, CPU %.2f s" %
          (r["submit_per_s"], r["post_rtt_p50_ms"], r["post_rtt_p99_ms"], r["submitter_cpu_s"]))
    print("   submit->start   p50/p99    %8.2f / %8.2f ms   (queueing dominates)" %
          (r["start_p50_ms"], r["start_p99_ms"]))
    print("   submit->finish  p50/p99    %8.2f / %8.2f ms" % (r["finish_p50_ms"], r["finish_p99_ms"]))
    for k, (p50, p99, cnt) in r["phases"].items():
        print("     %-30s p50 %8.2f ms  p99 %8.2f ms  (%d)" % (k, p50, p99, cnt))
    print("   runs per worker            %s" % json.dumps(dict(sorted(r["spread"].items()))))
    print("   CPU during the run         master %.2f s, workers %.2f s (sum); master RSS %s kB" %
          (r["master_cpu_s"], r["workers_cpu_s"], r["master_rss_kb"]))
    print("raw spawn rate, %d in flight: %s" % (a.workers * a.slots, line))
    if r["ratio"] is not None:
        print("   Pagoda / raw spawn rate    %8.2f" % r["ratio"])
    print("jobs_per_s=%.1f" % r["jobs_per_s"])
    if a.json:
        with open(a.json, "w") as f:
            json.dump(r, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
