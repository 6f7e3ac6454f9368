#!/usr/bin/env python3
"""The benchmark the lean job path (issue 17) is judged by: one `pagoda dev`,
the job `true` (argv ["/bin/true"]), and in ONE run:

  1. saturation with 1 REST client, then with 4 concurrent REST clients
     (POST /api/v1/jobs/true/run on keep-alive connections), N runs each:
     completed jobs/s (first submit -> last finish). The requests come from
     --client c (default): build/bench/bench_rest_load, a C load generator
     (one epoll loop, ~0.02 ms of CPU per request), or --client python: the
     Python submitter of bench_throughput.py (a thread per connection,
     ~0.2 ms of CPU per request, on the same CPUs as the daemon). Each REST
     phase prints which client ran and its CPU per request;
  2. batch submits: N runs as POST /api/v1/runs of --batch runs each;
  3. low load: LOW_N runs one at a time: submit->start p50/p99;
  4. the daemon's CPU time per job in each phase (its own, and with its
     children: the spawned /bin/true processes), from /proc/PID/stat;
  5. the raw spawn rate of /bin/true with --slots in flight
     (build/bench/bench_spawn_rate), measured right after, and each rate's
     ratio to it.

Bars (issue 17): 4 clients >= 0.6 x raw spawn rate, batch >= 0.8 x; low-load
submit->start p50 <= 1 ms, p99 <= 5 ms. Nothing asserts: it prints figures.
A daemon without POST /api/v1/runs (an older build) gets "n/a" for batches.

Usage:
  python3 bench/throughput.py --build-dir BUILD [--n 2000] [--low-n 200]
        [--clients 1,4] [--batch 500] [--slots 2] [--json FILE] [--perf FILE]
        [--perf-call-graph dwarf] [--perf-freq HZ] [--count] [--config FILE]
        [--client c|python]
--client c (the default) needs BUILD/bench/bench_rest_load (built with the
other bench targets); without it the benchmark says so and stops (it never
falls back to the Python client by itself).
Each phase also prints the CPU time of the daemon's main thread per job (the
libuv loop of `pagoda dev`: master, worker and HTTP; the store writer is
another thread). --count adds the daemon's system calls and context switches per job (perf
stat on tracepoints; all threads): load-insensitive counts to compare builds.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench_throughput as bt  # noqa: E402
from bench_throughput import harness  # noqa: E402

FINAL = harness.FINAL_STATES
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    """(own CPU s, CPU s of waited-for children) of process pid."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ut, st, cut, cst = (int(fields[i]) for i in (11, 12, 13, 14))
    return (ut + st) / TICK, (cut + cst) / TICK


def loop_cpu_s(pid):
    """CPU s of the daemon's main thread: the libuv loop of `pagoda dev`
    (master, worker and HTTP); the store writer is another thread."""
    with open("/proc/%d/task/%d/stat" % (pid, pid)) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def summarize(execs, ids):
    ex = [execs[i] for i in ids]
    s_lat, f_lat, states = bt.latencies(ex)
    span_us = max(int(e["finished_us"]) for e in ex) - min(int(e["submitted_us"]) for e in ex)
    done = states.get("succeeded", 0)
    return {"succeeded": done, "states": states, "span_s": span_us / 1e6,
            "jobs_per_s": done / (span_us / 1e6),
            "start_p50_ms": bt.ms(bt.pct(s_lat, 50)), "start_p99_ms": bt.ms(bt.pct(s_lat, 99))}


# --count: system calls and context switches of the daemon (all its
# threads) per job, counted by `perf stat` on tracepoints: counts, unlike
# CPU time, do not move with the machine's load.
COUNT_EVENTS = ["syscalls:sys_enter_write", "syscalls:sys_enter_writev",
                "syscalls:sys_enter_read", "syscalls:sys_enter_epoll_wait",
                "syscalls:sys_enter_epoll_pwait", "syscalls:sys_enter_epoll_ctl",
                "syscalls:sys_enter_futex", "syscalls:sys_enter_clone3",
                "syscalls:sys_enter_openat", "syscalls:sys_enter_fdatasync",
                "raw_syscalls:sys_enter", "context-switches"]
COUNT = {"on": False}


def start_count(pid):
    if not COUNT["on"]:
        return None
    fd, path = tempfile.mkstemp(prefix="pagoda-bench-count-")
    os.close(fd)
    p = subprocess.Popen(["perf", "stat", "-x", ",", "-o", path, "-e", ",".join(COUNT_EVENTS),
                          "-p", str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    return p, path


def stop_count(c, n):
    if not c:
        return None
    p, path = c
    p.send_signal(signal.SIGINT)
    p.wait(timeout=60)
    out = {}
    with open(path) as f:
        for line in f:
            parts = line.strip().split(",")
            if len(parts) > 2 and parts[0].replace(".", "").isdigit():
                out[parts[2].replace("syscalls:sys_enter_", "").replace("raw_syscalls:sys_enter",
                                                                          "all syscalls")] = \
                    float(parts[0]) / n
    os.unlink(path)
    return out


def with_cpu(pid, n, fn):
    cnt = start_count(pid)
    c0 = cpu_s(pid)
    l0 = loop_cpu_s(pid)
    out = fn()
    c1 = cpu_s(pid)
    out["loop_cpu_ms_per_job"] = (loop_cpu_s(pid) - l0) * 1000.0 / n
    out["per_job_counts"] = stop_count(cnt, n)
    out["daemon_cpu_ms_per_job"] = (c1[0] - c0[0]) * 1000.0 / n
    out["with_children_cpu_ms_per_job"] = (c1[0] + c1[1] - c0[0] - c0[1]) * 1000.0 / n
    return out


def rest_load_exe(build_dir):
    return os.path.join(os.path.abspath(build_dir), "bench", "bench_rest_load")


def submit_c(exe, dev, n, clients):
    """n runs of `true` from bench_rest_load over `clients` keep-alive
    connections. Returns (ids, wall_s, rtt_p50_ms, rtt_p99_ms, its CPU s)."""
    if not dev.url.startswith("http://127.0.0.1:"):
        raise SystemExit("bench: bench_rest_load speaks plain HTTP to 127.0.0.1 only, not %s "
                         "(use --client python)" % dev.url)
    port = int(dev.url.rsplit(":", 1)[1])
    p = subprocess.run([exe, "--port", str(port), "--token-file", dev.token_file(), "--job", "true",
                        "--connections", str(clients), "--requests", str(n)],
                       capture_output=True, text=True, timeout=max(600, n / 5))
    if p.returncode != 0:
        raise SystemExit("bench: bench_rest_load failed (exit %d): %s" %
                         (p.returncode, p.stderr.strip()[-2000:]))
    try:
        r = json.loads(p.stdout)
    except ValueError as e:
        raise SystemExit("bench: bench_rest_load printed no JSON (%s): %r" % (e, p.stdout[:300]))
    if len(r["ids"]) != n:
        raise SystemExit("bench: bench_rest_load returned %d ids for %d runs" % (len(r["ids"]), n))
    return r["ids"], r["wall_s"], r["rtt_p50_ms"], r["rtt_p99_ms"], r["cpu_s"]


def rest_phase(dev, api, n, clients, client, exe):
    def go():
        if client == "c":
            ids, wall, rtt50, rtt99, sub_cpu = submit_c(exe, dev, n, clients)
        else:
            ids, wall, rtts, sub_cpu = bt.submit_many(dev.url, n, clients)
            rtt50, rtt99 = bt.ms(bt.pct(rtts, 50)), bt.ms(bt.pct(rtts, 99))
        execs = bt.fetch_executions(api, ids, timeout=max(120, n / 10))
        out = summarize(execs, ids)
        out.update({"submit_per_s": n / wall, "post_rtt_p50_ms": rtt50,
                    "submitter_cpu_s": sub_cpu, "client": client, "post_rtt_p99_ms": rtt99,
                    "submitter_cpu_ms_per_request": sub_cpu * 1000.0 / n})
        return out
    return with_cpu(dev.proc.pid, n, go)


def batch_phase(dev, api, n, batch):
    probe = api.request("POST", "/api/v1/runs", body={"runs": []})
    if probe.status == 404:
        return None

    def go():
        ids = []
        rtts = []
        t0 = time.monotonic()
        conn = harness.Api(dev.url, timeout=120)
        left = n
        while left > 0:
            k = min(batch, left)
            body = json.dumps({"runs": [{"job": "true"}] * k}).encode()
            t = time.perf_counter()
            r = conn.request("POST", "/api/v1/runs", raw=body, keepalive=True)
            rtts.append((time.perf_counter() - t) * 1e6)
            if r.status != 201:
                raise SystemExit("bench: batch failed: %r %s" % (r, r.text[:300]))
            ids += [e["execution_id"] for e in r.json["executions"]]
            left -= k
        conn.close()
        wall = time.monotonic() - t0
        execs = bt.fetch_executions(api, ids, timeout=max(120, n / 10))
        out = summarize(execs, ids)
        out.update({"submit_per_s": n / wall, "post_rtt_p50_ms": bt.ms(bt.pct(rtts, 50)),
                    "batch": batch})
        return out
    return with_cpu(dev.proc.pid, n, go)


def low_phase(dev, api, n):
    def go():
        ids = []
        for _ in range(n):
            r = api.request("POST", "/api/v1/jobs/true/run", raw=b"{}", keepalive=True)
            if r.status != 201:
                raise SystemExit("bench: run failed: %r" % r)
            eid = r.json["execution_id"]
            ids.append(eid)
            deadline = time.monotonic() + 30
            while True:
                e = api.request("GET", "/api/v1/executions/%d" % eid, keepalive=True).json
                if e["state"] in FINAL:
                    break
                if time.monotonic() > deadline:
                    raise SystemExit("bench: execution %d stuck in %s" % (eid, e["state"]))
                time.sleep(0.002)
        api.close()
        execs = bt.fetch_executions(api, ids, timeout=60)
        return summarize(execs, ids)
    return with_cpu(dev.proc.pid, n, go)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", default=os.environ.get("PAGODA_BUILD_DIR",
                                                          os.path.join(bt.SRC, "build")))
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--low-n", type=int, default=200)
    ap.add_argument("--clients", default="1,4")
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--slots", type=int, default=2)
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--perf", metavar="FILE", help="perf record -g the daemon during the phases")
    ap.add_argument("--perf-call-graph", metavar="MODE", default=None,
                    help="with --perf: perf's --call-graph MODE (e.g. dwarf) instead of -g")
    ap.add_argument("--perf-freq", type=int, default=None, help="with --perf: perf's -F")
    ap.add_argument("--config", metavar="FILE", help="pagoda dev --config FILE (e.g. a store "
                    "group window to compare)")
    ap.add_argument("--count", action="store_true",
                    help="count the daemon's system calls and context switches per job (perf stat)")
    ap.add_argument("--client", choices=("c", "python"), default="c",
                    help="who sends the REST phases' requests: c = build/bench/bench_rest_load "
                    "(default, one epoll loop), python = bench_throughput.submit_many (a thread "
                    "per connection, the client of rounds 1-4)")
    a = ap.parse_args()
    COUNT["on"] = a.count
    exe = rest_load_exe(a.build_dir)
    if a.client == "c" and not os.access(exe, os.X_OK):
        sys.stderr.write("bench: --client c needs %s (build it: cmake --build %s --target "
                         "bench_rest_load), or run with --client python\n" % (exe, a.build_dir))
        return 2
    os.environ["PAGODA_BUILD_DIR"] = os.path.abspath(a.build_dir)
    clients = [int(x) for x in a.clients.split(",") if x]
    m = bt.machine()
    with open("/proc/loadavg") as f:
        load_before = f.read().split()[:3]
    tmp = tempfile.mkdtemp(prefix="pagoda-bench-")
    dev = harness.Daemon("dev", tmp, ["--slots", str(a.slots), "--log-level", "warn"] +
                         (["--config", os.path.abspath(a.config)] if a.config else []))
    res = {"machine": m, "n": a.n, "low_n": a.low_n, "slots": a.slots, "load_before": load_before,
           "rest": {}, "batch": None, "client": a.client}
    perf = None
    try:
        dev.start(timeout=30)
        api = dev.api()
        api.create_job({"name": "true", "type": "shell", "params": {"argv": ["/bin/true"]}})
        for i in [api.run("true") for _ in range(20)]:
            api.wait_final(i, timeout=30)
        if a.perf:
            cmd = ["perf", "record", "-o", a.perf, "-p", str(dev.proc.pid)]
            cmd += ["--call-graph", a.perf_call_graph] if a.perf_call_graph else ["-g"]
            cmd += ["-F", str(a.perf_freq)] if a.perf_freq else []
            perf = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(0.5)
        for c in clients:
            res["rest"][c] = rest_phase(dev, api, a.n, c, a.client, exe)
        res["batch"] = batch_phase(dev, api, a.n, a.batch)
        if perf:
            perf.send_signal(signal.SIGINT)
            perf.wait(timeout=60)
            perf = None
        res["low"] = low_phase(dev, api, a.low_n)
        res["daemon_rss_kb"] = bt.rss_kb(dev.proc.pid)
    finally:
        if perf and perf.poll() is None:
            perf.send_signal(signal.SIGINT)
            perf.wait(timeout=60)
        rc = dev.stop()
        res["daemon_exit"] = rc
        if rc != 0:
            sys.stderr.write("bench: pagoda dev exited with %r\n%s\n" %
                             (rc, harness.tail(dev.stderr_path)))
        shutil.rmtree(tmp, ignore_errors=True)
    exe = os.path.join(os.path.abspath(a.build_dir), "bench", "bench_spawn_rate")
    p = subprocess.run([exe, str(a.n), str(a.slots)], capture_output=True, text=True, timeout=600)
    mm = [x for x in p.stdout.split() if x.startswith("spawns_per_s=")]
    spawn = float(mm[0].split("=")[1]) if mm else None
    res["spawn_per_s"] = spawn
    with open("/proc/loadavg") as f:
        res["load_after"] = f.read().split()[:3]
    report(res, clients)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=2)
    return 0


def report(r, clients):
    m = r["machine"]
    sp = r["spawn_per_s"]
    print()
    print("Pagoda lean-path benchmark (bench/throughput.py) - %s" % m["date"])
    print("machine: %s CPUs, %s, Linux %s; load avg before %s, after %s" %
          (m["nproc"], m["cpu"], m["kernel"], "/".join(r["load_before"]), "/".join(r["load_after"])))
    print("pagoda dev --slots %d; job `true` = argv [/bin/true]; %d runs per phase" %
          (r["slots"], r["n"]))
    print("raw spawn rate (bench_spawn_rate, %d in flight): %s spawns/s" %
          (r["slots"], "%.0f" % sp if sp else "n/a"))
    print("REST client: %s" % {"c": "c (bench/rest_load.c: one epoll loop, a keep-alive connection "
                                    "per client)",
                               "python": "python (bench_throughput.submit_many: a thread and an "
                                         "http.client connection per client)"}[r["client"]])
    print()
    print("%-22s %9s %7s %10s %10s %12s %12s" % ("phase", "jobs/s", "ratio", "start p50", "start p99",
                                              "daemon CPU", "+children"))

    def row(name, x, bar=None):
        if not x:
            print("%-22s %9s" % (name, "n/a"))
            return
        ratio = x["jobs_per_s"] / sp if sp else float("nan")
        print("%-22s %9.0f %7.2f %8.2f ms %8.2f ms %9.3f ms %9.3f ms%s" %
              (name, x["jobs_per_s"], ratio, x["start_p50_ms"], x["start_p99_ms"],
               x["daemon_cpu_ms_per_job"], x["with_children_cpu_ms_per_job"],
               ("   bar >= %.1f %s" % (bar, "MET" if ratio >= bar else "MISSED")) if bar else ""))
        print("   loop thread CPU per job: %.3f ms" % x["loop_cpu_ms_per_job"])
        if "client" in x:
            print("   submitter (%s): %.3f ms CPU per request (on the same CPUs), POST round trip "
                  "p50 %.2f ms, p99 %.2f ms" % (x["client"], x["submitter_cpu_ms_per_request"],
                                                 x["post_rtt_p50_ms"], x["post_rtt_p99_ms"]))
        if x.get("per_job_counts"):
            print("   per job: " + ", ".join("%s %.2f" % kv for kv in sorted(x["per_job_counts"].items())))
        if x["states"].get("succeeded", 0) != sum(x["states"].values()):
            print("   states: %s" % x["states"])
    for c in clients:
        row("%d REST client%s" % (c, "" if c == 1 else "s"), r["rest"][c], 0.6 if c == 4 else None)
    row("batch of %s" % (r["batch"]["batch"] if r["batch"] else "?"), r["batch"], 0.8)
    lo = r["low"]
    print("%-22s %9s %7s %8.2f ms %8.2f ms %9.3f ms %9.3f ms   bar p50 <= 1, p99 <= 5 ms %s" %
          ("low load (1 at a time)", "", "", lo["start_p50_ms"], lo["start_p99_ms"],
           lo["daemon_cpu_ms_per_job"], lo["with_children_cpu_ms_per_job"],
           "MET" if lo["start_p50_ms"] <= 1 and lo["start_p99_ms"] <= 5 else "MISSED"))
    print("(start = submitted_us -> started_us of each execution; daemon CPU per job from "
          "/proc/PID/stat, +children adds the spawned processes)")
    print("daemon RSS at the end: %s kB; exit code after SIGTERM: %r" %
          (r.get("daemon_rss_kb"), r.get("daemon_exit")))


if __name__ == "__main__":
    sys.exit(main())
