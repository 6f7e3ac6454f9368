#!/usr/bin/env python3
"""Pagoda throughput and latency benchmark (Python 3 stdlib only).

Starts `pagoda dev` on a free loopback port, creates the job `true`
(argv ["/bin/true"]) and measures, in one run:

  1. saturation: N runs (default 2000) submitted as fast as the submitter
     can over keep-alive HTTP connections (default one); completed jobs/s
     and submit->start / submit->finish latency p50/p99, from each
     execution's submitted_us / started_us / finished_us;
  2. low load: LOW_N runs (default 200) one at a time (submit, wait for the
     end, next): the same latencies without queueing;
  3. the machine's raw spawn rate of /bin/true with two in flight
     (build/bench/bench_spawn_rate), and Pagoda's rate as a ratio of it.

The submitter's own cost is printed (HTTP round trip per POST, and its CPU
time), so that one can tell whether it, not Pagoda, was the bottleneck.

Usage:
  python3 bench/bench_throughput.py [--build-dir build] [--n 2000] [--low-n 200]
         [--slots 2] [--connections 1] [--perf perf.data] [--keep]

The design bar (docs/benchmarks.md): rate >= 0.6 x raw spawn rate, and
submit->start p50 <= 2 ms, p99 <= 10 ms (every state change durable).
Nothing here asserts: it prints figures.
"""

import argparse
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
import harness  # noqa: E402

FINAL = harness.FINAL_STATES


def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def ms(us):
    return us / 1000.0


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def fetch_executions(api, want_ids, timeout):
    """Waits until every id in want_ids is final; returns {id: execution}."""
    want = set(want_ids)
    deadline = time.monotonic() + timeout
    last = max(want)
    # The newest one first: runs start roughly in order.
    while time.monotonic() < deadline:
        if api.execution(last)["state"] in FINAL:
            break
        time.sleep(0.05)
    got = {}
    while time.monotonic() < deadline:
        got = {}
        before = None
        while True:
            q = "/api/v1/executions?job=true&limit=10000" + ("&before=%d" % before if before else "")
            page = api.ok("GET", q)["executions"]
            for e in page:
                if e["id"] in want:
                    got[e["id"]] = e
            if len(page) < 10000 or min(e["id"] for e in page) <= min(want):
                break
            before = min(e["id"] for e in page)
        if len(got) == len(want) and all(e["state"] in FINAL for e in got.values()):
            return got
        time.sleep(0.3)
    missing = [i for i in want if i not in got or got[i]["state"] not in FINAL]
    raise SystemExit("bench: %d runs not finished after %ss (e.g. %s)" %
                     (len(missing), timeout, [got.get(i, {"id": i}) for i in missing[:3]]))


def latencies(execs):
    start, finish, states = [], [], {}
    for e in execs:
        states[e["state"]] = states.get(e["state"], 0) + 1
        if e.get("started_us") is not None:
            start.append(int(e["started_us"]) - int(e["submitted_us"]))
        if e.get("finished_us") is not None:
            finish.append(int(e["finished_us"]) - int(e["submitted_us"]))
    return start, finish, states


def phases(execs):
    """p50/p99 in ms of each step of a run, and of the slot turnaround: on
    each worker, from a run's finish to the next dispatch (the time a freed
    slot stays idle while runs are queued)."""
    ex = sorted(execs, key=lambda e: int(e["submitted_us"]))
    steps = {"submitted->dispatched": [], "dispatched->started": [], "started->finished": []}
    for e in ex:
        if None in (e.get("dispatched_us"), e.get("started_us"), e.get("finished_us")):
            continue
        steps["submitted->dispatched"].append(int(e["dispatched_us"]) - int(e["submitted_us"]))
        steps["dispatched->started"].append(int(e["started_us"]) - int(e["dispatched_us"]))
        steps["started->finished"].append(int(e["finished_us"]) - int(e["started_us"]))
    # Slot turnaround: merge finishes and dispatches in time order; each
    # dispatch that happened while runs were waiting takes the earliest
    # unmatched finish.
    events = []
    for e in ex:
        if e.get("finished_us") is not None and e.get("dispatched_us") is not None:
            events.append((int(e["finished_us"]), 0, e))
            events.append((int(e["dispatched_us"]), 1, e))
    events.sort(key=lambda t: (t[0], t[1]))
    free, turn = [], []
    for t, kind, e in events:
        if kind == 0:
            free.append(t)
        elif free and int(e["submitted_us"]) <= free[0]:
            turn.append(t - free.pop(0))
        elif free:
            free.pop(0)
    steps["finish->next dispatch (queued)"] = turn
    return {k: (ms(pct(v, 50)), ms(pct(v, 99)), len(v)) for k, v in steps.items()}


def submit_many(api_url, n, connections, cafile=None):
    """Submits n runs over `connections` keep-alive connections (one thread
    each). Returns (ids, wall_s, rtts_us, submitter_cpu_s)."""
    per = [n // connections + (1 if i < n % connections else 0) for i in range(connections)]
    ids = [[] for _ in range(connections)]
    rtts = [[] for _ in range(connections)]
    errors = []

    def worker(k):
        api = harness.Api(api_url, timeout=60, cafile=cafile)
        try:
            for _ in range(per[k]):
                t = time.perf_counter()
                r = api.request("POST", "/api/v1/jobs/true/run", raw=b"{}", keepalive=True)
                rtts[k].append((time.perf_counter() - t) * 1e6)
                if r.status != 201:
                    errors.append(r)
                    return
                ids[k].append(r.json["execution_id"])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            api.close()

    cpu0 = time.process_time()
    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    cpu = time.process_time() - cpu0
    if errors:
        raise SystemExit("bench: submission failed: %r" % (errors[:3],))
    return [i for l in ids for i in l], wall, [x for l in rtts for x in l], cpu


def run_spawn_rate(build_dir, n):
    exe = os.path.join(build_dir, "bench", "bench_spawn_rate")
    if not os.access(exe, os.X_OK):
        return None, "no %s (build the bench targets)" % exe
    p = subprocess.run([exe, str(n), "2"], capture_output=True, text=True, timeout=600)
    m = re.search(r"spawns_per_s=([0-9.]+)", p.stdout)
    if p.returncode != 0 or not m:
        return None, "bench_spawn_rate failed: %s %s" % (p.stdout, p.stderr)
    return float(m.group(1)), p.stdout.splitlines()[0]


def start_scraper(dev, period):
    """A daemon thread reading /metrics every `period` s (until the process
    ends), so that a run with metrics on pays for its scrapes too."""
    def loop():
        scr = dev.api()
        while True:
            try:
                r = scr.get("/metrics")
                if r.status != 200:
                    sys.stderr.write("bench: /metrics answered %d\n" % r.status)
                    return
            except OSError:
                return
            time.sleep(period)
    threading.Thread(target=loop, daemon=True).start()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", default=os.environ.get("PAGODA_BUILD_DIR", os.path.join(SRC, "build")))
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--low-n", type=int, default=200)
    ap.add_argument("--slots", type=int, default=2)
    ap.add_argument("--connections", type=int, default=1)
    ap.add_argument("--spawn-n", type=int, default=0, help="spawns for the yardstick (default: N)")
    ap.add_argument("--perf", metavar="FILE", help="perf record -g the daemon during saturation")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ap.add_argument("--tls", action="store_true",
                    help="serve the REST API over HTTPS (a test CA made with openssl)")
    ap.add_argument("--no-cgroups", action="store_true",
                    help="run the dev daemon with --no-cgroups (attempts contained by /proc scan "
                         "instead of a cgroup each): the cost of the cgroup per attempt is the "
                         "difference to a run without this flag")
    ap.add_argument("--metrics", choices=("on", "off"), default="on",
                    help="off: run with master.metrics.enabled = false (docs/observability.md); "
                         "bench/metrics_cost.py compares the two")
    ap.add_argument("--scrape", type=float, default=0, metavar="SECONDS",
                    help="read /metrics every SECONDS during the run, as Prometheus would")
    a = ap.parse_args()
    os.environ["PAGODA_BUILD_DIR"] = os.path.abspath(a.build_dir)

    m = machine()
    tmp = tempfile.mkdtemp(prefix="pagoda-bench-")
    dev_args = ["--slots", str(a.slots), "--log-level", "warn"]
    if a.metrics == "off":
        conf = os.path.join(tmp, "metrics-off.conf")
        with open(conf, "w") as f:
            f.write("master: { metrics: { enabled = false; }; };\n")
        dev_args += ["--config", conf]
    if a.no_cgroups:
        dev_args.append("--no-cgroups")
    cafile = None
    if a.tls:
        cafile, cert, key = harness.make_test_ca(tmp)
        dev_args += ["--http-tls-cert", cert, "--http-tls-key", key]
    dev = harness.Daemon("dev", tmp, dev_args)
    dev.cafile = cafile
    perf = None
    result = {"machine": m, "n": a.n, "low_n": a.low_n, "slots": a.slots, "connections": a.connections,
              "tls": a.tls, "metrics": a.metrics}
    try:
        dev.start(timeout=30)
        api = dev.api()
        if a.scrape > 0:
            start_scraper(dev, a.scrape)
        api.create_job({"name": "true", "type": "shell", "params": {"argv": ["/bin/true"]}})
        # Warm-up (page cache, first store writes).
        warm = [api.run("true") for _ in range(20)]
        for i in warm:
            api.wait_final(i, timeout=30)

        # ---- 1. saturation
        if a.perf:
            perf = subprocess.Popen(["perf", "record", "-g", "-o", a.perf, "-p", str(dev.proc.pid)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(0.5)
        cpu0 = proc_cpu_s(dev.proc.pid)
        ids, sub_wall, rtts, sub_cpu = submit_many(dev.url, a.n, a.connections, cafile)
        t_submitted = time.monotonic()
        execs = fetch_executions(api, ids, timeout=max(120, a.n / 10))
        daemon_cpu = proc_cpu_s(dev.proc.pid) - cpu0
        if perf:
            perf.send_signal(signal.SIGINT)
            perf.wait(timeout=60)
        ex = list(execs.values())
        s_lat, f_lat, states = latencies(ex)
        span_us = max(int(e["finished_us"]) for e in ex) - min(int(e["submitted_us"]) for e in ex)
        done = states.get("succeeded", 0)
        rate = done / (span_us / 1e6)
        result["saturation"] = {
            "succeeded": done, "states": states, "span_s": span_us / 1e6, "jobs_per_s": rate,
            "submit_wall_s": sub_wall, "submit_per_s": a.n / sub_wall,
            "post_rtt_p50_ms": ms(pct(rtts, 50)), "post_rtt_p99_ms": ms(pct(rtts, 99)),
            "submitter_cpu_s": sub_cpu,
            "start_p50_ms": ms(pct(s_lat, 50)), "start_p99_ms": ms(pct(s_lat, 99)),
            "finish_p50_ms": ms(pct(f_lat, 50)), "finish_p99_ms": ms(pct(f_lat, 99)),
            "phases": phases(ex),
            # the daemon's own CPU time (its threads, not the jobs) per job:
            # far less sensitive to a loaded machine than jobs/s
            "daemon_cpu_us_per_job": daemon_cpu * 1e6 / max(1, len(ex)),
        }
        del t_submitted

        # ---- 2. low load: one at a time
        lat_ids, rtts_low = [], []
        for _ in range(a.low_n):
            t = time.perf_counter()
            r = api.request("POST", "/api/v1/jobs/true/run", raw=b"{}", keepalive=True)
            rtts_low.append((time.perf_counter() - t) * 1e6)
            if r.status != 201:
                raise SystemExit("bench: run failed: %r" % r)
            eid = r.json["execution_id"]
            lat_ids.append(eid)
            deadline = time.monotonic() + 30
            while True:
                e = api.request("GET", "/api/v1/executions/%d" % eid, keepalive=True).json
                if e["state"] in FINAL:
                    break
                if time.monotonic() > deadline:
                    raise SystemExit("bench: execution %d stuck in %s" % (eid, e["state"]))
                time.sleep(0.002)
        api.close()
        low = fetch_executions(api, lat_ids, timeout=60)
        s_low, f_low, states_low = latencies(low.values())
        result["low_load"] = {
            "states": states_low,
            "post_rtt_p50_ms": ms(pct(rtts_low, 50)), "post_rtt_p99_ms": ms(pct(rtts_low, 99)),
            "start_p50_ms": ms(pct(s_low, 50)), "start_p99_ms": ms(pct(s_low, 99)),
            "finish_p50_ms": ms(pct(f_low, 50)), "finish_p99_ms": ms(pct(f_low, 99)),
            "phases": phases(low.values()),
        }
        result["daemon_rss_kb"] = rss_kb(dev.proc.pid)
    finally:
        if perf and perf.poll() is None:
            perf.send_signal(signal.SIGINT)
            perf.wait(timeout=60)
        rc = dev.stop()
        result["daemon_exit"] = rc
        if rc != 0:
            sys.stderr.write("bench: pagoda dev exited with %r; stderr tail:\n%s\n" %
                             (rc, harness.tail(dev.stderr_path)))
        if a.keep:
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    # ---- 3. the yardstick, in the same run (after the daemon stopped)
    spawn, spawn_line = run_spawn_rate(os.path.abspath(a.build_dir), a.spawn_n or a.n)
    result["spawn_per_s"] = spawn
    result["ratio"] = (result["saturation"]["jobs_per_s"] / spawn) if spawn else None
    report(result, spawn_line)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


def proc_cpu_s(pid):
    """CPU seconds of process `pid`'s threads alive now: the sum of their
    /proc/PID/task/TID/schedstat run times (nanoseconds, where /proc/PID/stat
    counts 10 ms ticks); /proc/PID/stat's utime + stime when schedstat is
    missing."""
    total, found = 0, False
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                    total += int(f.read().split()[0])
                    found = True
            except (OSError, ValueError, IndexError):
                pass
    except OSError:
        pass
    if found:
        return total / 1e9
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def report(r, spawn_line):
    m = r["machine"]
    s, lo = r["saturation"], r["low_load"]
    print()
    print("Pagoda throughput benchmark — %s" % m["date"])
    print("machine: %s CPUs, %s, Linux %s" % (m["nproc"], m["cpu"], m["kernel"]))
    print("pagoda dev --slots %d; job `true` = argv [/bin/true]; %d submitter connection(s); REST %s" %
          (r["slots"], r["connections"], "HTTPS" if r.get("tls") else "HTTP"))
    print()
    print("1. saturation: %d runs submitted back to back" % r["n"])
    print("   states                     %s" % s["states"])
    print("   completed jobs/s           %8.1f   (first submit -> last finish: %.2f s)" %
          (s["jobs_per_s"], s["span_s"]))
    print("   daemon CPU per job         %8.1f us (its own threads; metrics %s)" %
          (s["daemon_cpu_us_per_job"], r.get("metrics", "on")))
    print("   submitter                  %8.1f runs/s submitted, POST round trip p50 %.2f ms, "
          "p99 %.2f ms, submitter CPU %.2f s" % (s["submit_per_s"], s["post_rtt_p50_ms"],
                                                   s["post_rtt_p99_ms"], s["submitter_cpu_s"]))
    print("   submit->start   p50/p99    %8.2f / %8.2f ms   (queueing dominates)" %
          (s["start_p50_ms"], s["start_p99_ms"]))
    print("   submit->finish  p50/p99    %8.2f / %8.2f ms" % (s["finish_p50_ms"], s["finish_p99_ms"]))
    for k, (p50, p99, cnt) in s["phases"].items():
        print("     %-30s p50 %8.2f ms  p99 %8.2f ms  (%d)" % (k, p50, p99, cnt))
    print()
    print("2. low load: %d runs, one at a time" % r["low_n"])
    print("   states                     %s" % lo["states"])
    print("   POST run round trip p50/p99 %7.2f / %8.2f ms" % (lo["post_rtt_p50_ms"], lo["post_rtt_p99_ms"]))
    print("   submit->start   p50/p99    %8.2f / %8.2f ms   bar: <= 2 / <= 10 ms  %s" %
          (lo["start_p50_ms"], lo["start_p99_ms"],
           "MET" if lo["start_p50_ms"] <= 2 and lo["start_p99_ms"] <= 10 else "MISSED"))
    print("   submit->finish  p50/p99    %8.2f / %8.2f ms" % (lo["finish_p50_ms"], lo["finish_p99_ms"]))
    for k, (p50, p99, cnt) in lo["phases"].items():
        if cnt:
            print("     %-30s p50 %8.2f ms  p99 %8.2f ms  (%d)" % (k, p50, p99, cnt))
    print()
    print("3. raw spawn rate (yardstick): %s" % (spawn_line or "n/a"))
    if r["ratio"] is not None:
        print("   Pagoda / raw spawn rate    %8.2f        bar: >= 0.6  %s" %
              (r["ratio"], "MET" if r["ratio"] >= 0.6 else "MISSED"))
    print("daemon RSS at the end: %s kB; exit code after SIGTERM: %r" %
          (r.get("daemon_rss_kb"), r.get("daemon_exit")))


if __name__ == "__main__":
    sys.exit(main())
