#!/usr/bin/env python3
"""Pagoda high-availability benchmark (issue 8): master failover time, and
dispatch throughput on PostgreSQL against SQLite.

1. Failover. A real ZooKeeper server (tick 200 ms) and a real PostgreSQL
   server on loopback (tests/integration/ha_harness.py), three
   `pagoda master --store-postgres ... --ha-zookeeper ...` and three HA
   workers (2 slots each). A submitter thread posts runs of the job `true`
   (argv [/bin/true]) every --interval-ms to whichever master leads
   (following 503 answers and connection errors). Each trial `kill -9`s the
   leader and measures, from the kill:
     elected      a surviving master answers GET /api/v1/cluster role=leader
     dispatch     the first execution dispatched after the kill
                  (min dispatched_us > kill time; only the new leader can
                  dispatch then)
     workers      GET /api/v1/workers on the new leader shows every worker
                  alive, connected after the kill
   then restarts the killed master (it rejoins as a standby). Prints each
   trial and the median; bar: dispatch and workers within the session
   timeout + 1 s.

2. Throughput (reusing bench/bench_throughput.py's helpers): N runs of
   `true` submitted back to back on one keep-alive connection, completed
   jobs/s and submit->start p50/p99, for
     dev         `pagoda dev --slots 2` (SQLite, embedded worker)
     master+sql  `pagoda master` (SQLite) + one worker with 2 slots
     master+pg   `pagoda master --store-postgres` + one worker with 2 slots
     ha+pg       the same with --ha-zookeeper (one master, leader) and an
                 HA worker (only when the build has HA)

Usage: python3 bench/ha_failover.py [--build-dir build] [--trials 5]
       [--session-ms 2000] [--zk-tick-ms 200] [--n 1000] [--interval-ms 20]
       [--skip-failover] [--skip-throughput] [--json FILE] [--keep]
Nothing asserts: it prints figures.
"""

import argparse
import datetime
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
sys.path.insert(0, HERE)
import harness  # noqa: E402
import ha_harness  # noqa: E402
import bench_throughput as bt  # noqa: E402

WORKERS = ("hb-1", "hb-2", "hb-3")


def parse_time_us(s):
    """RFC 3339 "2026-11-22T10:00:00.123Z" -> µs since the epoch (None if not)."""
    if not isinstance(s, str):
        return None
    try:
        d = datetime.datetime.strptime(s.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        try:
            d = datetime.datetime.strptime(s.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S%z")
        except ValueError:
            return None
    return int(d.timestamp() * 1e6)


class Submitter(threading.Thread):
    """Posts a run of `true` every interval to whichever master leads."""

    def __init__(self, masters, interval_s):
        super().__init__(daemon=True)
        self.masters = masters
        self.interval = interval_s
        self.stop_ev = threading.Event()
        self.ok = []       # (wall time, execution id, master name)
        self.refused = 0   # 503 / connection errors (retried on the next tick)

    def run(self):
        while not self.stop_ev.is_set():
            t = time.time()
            r, m = ha_harness.submit_to_leader(list(self.masters), "/api/v1/jobs/true/run", None, timeout=2)
            if m is not None:
                self.ok.append((t, r.json.get("execution_id"), m.name))
            else:
                self.refused += 1
            self.stop_ev.wait(self.interval)

    def stop(self):
        self.stop_ev.set()
        self.join(timeout=15)


def workers_reconnected(master, t_kill_us):
    try:
        ws = {w["id"]: w for w in master.api().ok("GET", "/api/v1/workers")["workers"]}
    except (OSError, AssertionError, harness.http.client.HTTPException):
        return False
    for wid in WORKERS:
        w = ws.get(wid)
        if not w or w.get("state") != "alive":
            return False
        c = parse_time_us(w.get("connected_at"))
        if c is not None and c < t_kill_us:
            return False
    return True


def first_dispatch_after(api, t_kill_us):
    """The first dispatched_us later than 100 ms after the kill: the old
    leader may still stamp a dispatch in the microseconds between the
    timestamp and the signal, and no new leader can exist that early (its
    predecessor's session must expire first)."""
    ex = api.ok("GET", "/api/v1/executions?job=true&limit=10000")["executions"]
    after = [int(e["dispatched_us"]) for e in ex
             if e.get("dispatched_us") and int(e["dispatched_us"]) > t_kill_us + 100000]
    return min(after) if after else None


def failover(a, tmp, result):
    zk, pg = ha_harness.zk_server(a.zk_tick_ms), ha_harness.pg_server()
    cluster = ha_harness.unique_name("bench").replace("_", "-")
    conn = pg.create_db(ha_harness.unique_name("b_fo"))
    margs = ["--store-postgres", conn, "--ha-zookeeper", zk.hosts, "--ha-cluster", cluster,
             "--ha-session-ms", str(a.session_ms), "--log-level", "warn"]
    masters = []
    daemons = []
    try:
        for i in range(3):
            m = harness.Daemon("master", tmp, margs, name="m%d" % (i + 1))
            daemons.append(m)
            masters.append(m)
            m.start(timeout=30)
        lead = ha_harness.wait_one_leader(masters, 30)
        for wid in WORKERS:
            w = harness.Daemon("worker", tmp, ["--ha-zookeeper", zk.hosts, "--ha-cluster", cluster,
                                               "--ha-session-ms", str(a.session_ms), "--id", wid, "--slots", "2", "--log-level", "warn"], name=wid)
            daemons.append(w)
            w.start(timeout=30)
        lead.api().create_job({"name": "true", "type": "shell", "params": {"argv": ["/bin/true"]}})
        harness.wait_until(lambda: workers_reconnected(lead, 0), 30, 0.05, "workers alive")
        print("failover: 3 masters, 3 workers x 2 slots, session timeout %d ms, ZooKeeper tick %d ms, "
              "a run of /bin/true every %d ms" % (a.session_ms, a.zk_tick_ms, a.interval_ms))
        trials = []
        for n in range(a.trials):
            lead = ha_harness.wait_one_leader(masters, 30)
            harness.wait_until(lambda: workers_reconnected(lead, 0), 30, 0.05, "workers alive")
            sub = Submitter(masters, a.interval_ms / 1000.0)
            sub.start()
            time.sleep(1.0)
            t_kill = time.time()
            t0 = time.monotonic()
            lead.kill9()
            survivors = [m for m in masters if m.alive()]
            new, elected = ha_harness.wait_new_leader(survivors, a.session_ms / 1000.0 + 30)
            t_kill_us = int(t_kill * 1e6)
            wk = None
            deadline = time.monotonic() + a.session_ms / 1000.0 + 30
            while time.monotonic() < deadline:
                if workers_reconnected(new, t_kill_us):
                    wk = time.monotonic() - t0
                    break
                time.sleep(0.01)
            time.sleep(1.0)  # runs keep coming to the new leader
            sub.stop()
            fd = first_dispatch_after(new.api(), t_kill_us)
            disp = (fd - t_kill_us) / 1e6 if fd else None
            trials.append({"elected_s": elected, "dispatch_s": disp, "workers_s": wk,
                           "submitted": len(sub.ok), "refused": sub.refused,
                           "old": lead.name, "new": new.name})
            print("  trial %d: %s -> %s  elected %.3f s  first dispatch %s  workers %s  "
                  "(%d runs accepted, %d attempts refused or unanswered)" %
                  (n + 1, lead.name, new.name, elected, "%.3f s" % disp if disp else "none",
                   "%.3f s" % wk if wk else "not all", len(sub.ok), sub.refused))
            lead.start(timeout=30)  # back as a standby
        bar = a.session_ms / 1000.0 + 1.0

        def med(k):
            v = [t[k] for t in trials if t[k] is not None]
            return (statistics.median(v), min(v), max(v), len(v)) if v else None
        summary = {k: med(k) for k in ("elected_s", "dispatch_s", "workers_s")}
        print("failover (median / min / max of %d trials; bar: <= session %.1f s + 1 s = %.1f s):" %
              (a.trials, a.session_ms / 1000.0, bar))
        for k, label in (("elected_s", "new leader elected"), ("dispatch_s", "first dispatch by it"),
                         ("workers_s", "all workers reconnected")):
            s = summary[k]
            if s is None:
                print("  %-26s n/a" % label)
                continue
            verdict = "" if k == "elected_s" else ("  MET" if s[0] <= bar else "  MISSED")
            print("  %-26s %.3f s  (%.3f - %.3f, n=%d)%s" % (label, s[0], s[1], s[2], s[3], verdict))
        result["failover"] = {"session_ms": a.session_ms, "trials": trials, "summary": summary, "bar_s": bar}
    finally:
        for d in reversed(daemons):
            d.stop(timeout=10)


def throughput_one(label, tmp, a, kind, margs=(), wargs=None):
    daemons = []
    try:
        if kind == "dev":
            dev = harness.Daemon("dev", tmp, ["--slots", "2", "--log-level", "warn"], name="dev-" + label)
            daemons.append(dev)
            dev.start(timeout=30)
            front = dev
        else:
            m = harness.Daemon("master", tmp, list(margs) + ["--log-level", "warn"], name="m-" + label)
            daemons.append(m)
            m.start(timeout=30)
            args = (wargs if wargs is not None else ["--master", "%s:%d" % (harness.HOST, m.rpc_port)])
            w = harness.Daemon("worker", tmp, list(args) + ["--id", "tw-" + label.replace("+", "-"), "--slots", "2",
                                                           "--log-level", "warn"], name="w-" + label)
            daemons.append(w)
            w.start(timeout=30)
            front = m
            harness.wait_until(lambda: any(x["state"] == "alive" for x in
                                           m.api().ok("GET", "/api/v1/workers")["workers"]),
                               30, 0.05, "worker alive")
        api = front.api()
        api.create_job({"name": "true", "type": "shell", "params": {"argv": ["/bin/true"]}})
        for i in [api.run("true") for _ in range(20)]:
            api.wait_final(i, timeout=30)
        ids, wall, rtts, _ = bt.submit_many(front.url, a.n, 1)
        ex = list(bt.fetch_executions(api, ids, timeout=max(120, a.n / 5)).values())
        s_lat, _, states = bt.latencies(ex)
        span = (max(int(e["finished_us"]) for e in ex) - min(int(e["submitted_us"]) for e in ex)) / 1e6
        r = {"jobs_per_s": states.get("succeeded", 0) / span, "states": states,
             "start_p50_ms": bt.ms(bt.pct(s_lat, 50)), "start_p99_ms": bt.ms(bt.pct(s_lat, 99)),
             "post_rtt_p50_ms": bt.ms(bt.pct(rtts, 50)), "submit_per_s": a.n / wall}
        print("  %-11s %8.1f jobs/s   submit->start p50 %7.2f ms  p99 %8.2f ms   POST p50 %.2f ms  %s" %
              (label, r["jobs_per_s"], r["start_p50_ms"], r["start_p99_ms"], r["post_rtt_p50_ms"], states))
        return r
    finally:
        for d in reversed(daemons):
            d.stop(timeout=10)


def throughput(a, tmp, result, has_ha):
    pg = ha_harness.pg_server()
    print("throughput: %d runs of /bin/true back to back, one connection, 2 slots" % a.n)
    out = {}
    out["dev"] = throughput_one("dev", tmp, a, "dev")
    out["master+sql"] = throughput_one("master+sql", tmp, a, "master")
    out["master+pg"] = throughput_one("master+pg", tmp, a, "master",
                                      ["--store-postgres", pg.create_db(ha_harness.unique_name("b_tp"))])
    if has_ha:
        zk = ha_harness.zk_server()
        cluster = ha_harness.unique_name("bench-tp").replace("_", "-")
        ha = ["--ha-zookeeper", zk.hosts, "--ha-cluster", cluster, "--ha-session-ms", str(a.session_ms)]
        out["ha+pg"] = throughput_one("ha+pg", tmp, a, "master",
                                      ["--store-postgres", pg.create_db(ha_harness.unique_name("b_ha"))] + ha,
                                      wargs=ha)
    result["throughput"] = out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", default=os.environ.get("PAGODA_BUILD_DIR", os.path.join(SRC, "build")))
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--session-ms", type=int, default=2000)
    ap.add_argument("--interval-ms", type=int, default=20)
    ap.add_argument("--zk-tick-ms", type=int, default=200,
                    help="ZooKeeper tickTime; the server clamps session timeouts to 2-20 ticks")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--skip-failover", action="store_true")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    os.environ["PAGODA_BUILD_DIR"] = os.path.abspath(a.build_dir)
    if not os.access(harness.pagoda_bin(), os.X_OK):
        sys.exit("no pagoda at %s" % harness.pagoda_bin())
    has_ha = ha_harness.pagoda_has_ha()
    m = bt.machine()
    print("Pagoda HA benchmark — %s; %s CPUs, %s, Linux %s" % (m["date"], m["nproc"], m["cpu"], m["kernel"]))
    tmp = tempfile.mkdtemp(prefix="pagoda-bench-ha-")
    result = {"machine": m}
    try:
        if not a.skip_failover:
            if has_ha:
                failover(a, tmp, result)
            else:
                print("failover: skipped (`pagoda master --help` lists no --ha-zookeeper)")
        if not a.skip_throughput:
            throughput(a, tmp, result, has_ha)
    finally:
        if a.keep:
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
