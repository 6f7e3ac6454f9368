#!/usr/bin/env python3
"""Per-edge latency of flows through `pagoda dev` (issue 6).

Two flows of trivial shell jobs (`true`): a 20-node chain and a 100-node
fan-out/fan-in (one root, 98 parallel nodes, one sink). For every node v
with upstream nodes: v's execution started_us - the finished_us of its last
upstream to finish (the edge that released it; both stamped by the worker), i.e. the worker's report, the master's commit, the engine step, the
downstream submission, its first durable write, LAUNCH and the spawn.
Prints p50/p99/max per flow and the flow's total overhead (wall time from
the flow execution's creation to its end minus the time the nodes' processes
ran along the critical path). The bar (docs/benchmarks.md): p50 <= 1 ms,
p99 <= 5 ms. Printed, never asserted.

  PAGODA_BUILD_DIR=build python3 bench/flow_latency.py [--runs N]
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import harness  # noqa: E402


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * (len(xs) - 1)))))
    return xs[k]


def chain(n):
    return [{"id": "n%d" % i, "job": {"type": "shell", "params": {"script": "true"}},
             "depends_on": ["n%d" % (i - 1)] if i else []} for i in range(n)]


def fan(n):
    mids = ["m%d" % i for i in range(n - 2)]
    nodes = [{"id": "root", "job": {"type": "shell", "params": {"script": "true"}}}]
    nodes += [{"id": m, "job": {"type": "shell", "params": {"script": "true"}}, "depends_on": ["root"]}
              for m in mids]
    nodes.append({"id": "sink", "job": {"type": "shell", "params": {"script": "true"}}, "depends_on": mids})
    return nodes


# Parts of every edge of the last measured flow: the upstream's end (worker
# stamp) to the downstream's submission (master stamp: the report's trip,
# its commit, the engine step), and that submission to the downstream's
# start (worker stamp: the first durable write, LAUNCH, the spawn).
PARTS = {"finished->submitted": [], "submitted->started": []}


def measure(api, name, nodes, runs):
    for v in PARTS.values():
        del v[:]
    api.ok("POST", "/api/v1/flows", {"name": name, "nodes": nodes}, expect=(200, 201))
    edges, overheads, walls, sinks = [], [], [], []
    for _ in range(runs):
        fid = api.ok("POST", "/api/v1/flows/%s/run" % name, expect=(201,))["flow_execution_id"]
        fe = harness.wait_until(
            lambda: (lambda f: f if f["state"] != "running" else None)(
                api.ok("GET", "/api/v1/flow-executions/%d" % fid, expect=(200,))), 120, 0.02, "flow end")
        if fe["state"] != "succeeded":
            raise SystemExit("flow %s ended %s" % (name, fe["state"]))
        ex = {}
        for nid, ns in fe["nodes"].items():
            e = api.execution(ns["execution_id"])
            ex[nid] = e
        run_edges = []
        for nd in nodes:
            ups = nd.get("depends_on", [])
            if ups:  # the edge that released the node: its last upstream to finish
                last = max(ex[u]["finished_us"] for u in ups)
                down = ex[nd["id"]]
                run_edges.append((down["started_us"] - last) / 1000.0)
                if "submitted_us" in down:  # where the edge's time goes (one clock: one host)
                    PARTS["finished->submitted"].append((down["submitted_us"] - last) / 1000.0)
                    PARTS["submitted->started"].append(
                        (down["started_us"] - down["submitted_us"]) / 1000.0)
        edges += run_edges
        sinks.append(run_edges[-1])  # the last node's release (the fan-in)
        # Critical path: the longest chain of (node duration + edge gap).
        memo = {}
        by_id = {nd["id"]: nd for nd in nodes}

        def finish(nid):
            if nid not in memo:
                memo[nid] = ex[nid]["finished_us"]
            return memo[nid]
        wall = (fe["finished_at"] - fe["created_at"]) / 1000.0
        # Node process time along the critical path: walk back from the sink
        # through the upstream that finished last.
        run_ms = 0.0
        cur = nodes[-1]["id"]
        while True:
            e = ex[cur]
            run_ms += (e["finished_us"] - e["started_us"]) / 1000.0
            ups = by_id[cur].get("depends_on", [])
            if not ups:
                break
            cur = max(ups, key=finish)
        walls.append(wall)
        overheads.append(wall - run_ms)
    return edges, walls, overheads, sinks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    tmp = __import__("tempfile").mkdtemp(prefix="pagoda-bench-flow-")
    dev = harness.Daemon("dev", tmp, ["--slots", "128", "--log-level", "warn"])
    dev.start()
    try:
        api = dev.api()
        api.ok("POST", "/api/v1/flows", {"name": "warm", "nodes": chain(3)}, expect=(201,))
        measure(api, "warm", chain(3), 2)
        print("flow latency through pagoda dev (%s), %d runs each" % (dev.url, args.runs))
        print("%-22s %6s %9s %9s %9s %11s %13s" % ("flow", "nodes", "p50 ms", "p99 ms", "max ms",
                                                 "wall ms", "overhead ms"))
        for name, nodes in (("chain-20", chain(20)), ("fan-out-in-100", fan(100))):
            edges, walls, over, sinks = measure(api, name, nodes, args.runs)
            print("%-22s %6d %9.3f %9.3f %9.3f %11.1f %13.1f   last node p50 %.3f ms" % (
                name, len(edges), pct(edges, 50), pct(edges, 99), max(edges),
                sum(walls) / len(walls), sum(over) / len(over), pct(sinks, 50)))
            print("%-22s %6s   %s" % ("", "", "   ".join(
                "%s p50 %.3f / p99 %.3f ms" % (k, pct(v, 50), pct(v, 99)) for k, v in PARTS.items())))
    finally:
        dev.stop()
    __import__("shutil").rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
