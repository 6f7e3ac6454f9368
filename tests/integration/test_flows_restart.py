"""Flows across failures (issue 6): a master restart in the middle of a flow
resumes it without running any node twice, and a worker killed under a node
relaunches that node only (master + 2 workers)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_cluster_base import ClusterCase  # noqa: E402


class FlowsAcrossFailures(ClusterCase):
    MASTER_ARGS = ["--kill-grace-ms", "300", "--recovery-grace-ms", "3000"]
    WORKERS = {"fw-1": ["--slots", "2"], "fw-2": ["--slots", "2"]}

    def fexec(self, fid):
        return self.api.ok("GET", "/api/v1/flow-executions/%d" % fid, expect=(200,))

    def wait_flow(self, fid, timeout=40):
        return harness.wait_until(
            lambda: (lambda f: f if f["state"] != "running" else None)(self.fexec(fid)),
            timeout, 0.05, "flow execution %d ends" % fid)

    def marks_of(self, d):
        out = {}
        for n in os.listdir(d):
            with open(os.path.join(d, n)) as f:
                out[n] = f.read().count("x")
        return out

    def flow(self, name, marks, nodes):
        """nodes: [(id, extra script, deps)]; each node appends an x to marks/ID."""
        return self.api.ok("POST", "/api/v1/flows", {"name": name, "nodes": [
            {"id": nid, "depends_on": list(deps),
             "job": {"type": "shell", "params": {"script": "echo x >> %s/%s; %s" % (marks, nid, extra)}}}
            for nid, extra, deps in nodes]}, expect=(201,))

    def test_master_restart_resumes_flow(self):
        marks = os.path.join(self.tmp, "marks-restart")
        os.makedirs(marks)
        self.flow("across", marks, [
            ("first", "echo ::output k=v1", ()),
            ("slow", self.gate("across-slow") + "; echo ::output s=done", ("first",)),
            ("side", "true", ("first",)),
            ("last", "echo got=${node.slow.outputs.s}-${node.first.outputs.k}", ("slow", "side"))])
        fid = self.api.ok("POST", "/api/v1/flows/across/run", expect=(201,))["flow_execution_id"]
        harness.wait_until(lambda: self.fexec(fid)["nodes"]["side"]["state"] == "succeeded" and
                           self.fexec(fid)["nodes"]["slow"]["state"] == "running", 15, 0.05, "slow running")
        before = self.fexec(fid)
        slow_exec = before["nodes"]["slow"]["execution_id"]
        self.assertStopsCleanly(self.master)
        self.master.start(fixed_ports=True)
        type(self).api = self.api = self.master.api()
        self.assertEqual(self.fexec(fid)["state"], "running")
        self.open_gate("across-slow")  # slow ends after the restart
        fe = self.wait_flow(fid)
        self.assertEqual(fe["state"], "succeeded", fe)
        self.assertEqual(fe["nodes"]["slow"]["execution_id"], slow_exec)
        for n in ("first", "side"):
            self.assertEqual(fe["nodes"][n]["execution_id"], before["nodes"][n]["execution_id"])
        self.assertEqual(self.marks_of(marks), {"first": 1, "slow": 1, "side": 1, "last": 1})
        self.assertIn("got=done-v1", self.api.log(fe["nodes"]["last"]["execution_id"]))
        for n in ("first", "slow", "side", "last"):
            self.assertEqual(len(self.api.executions(job="across.%s" % n)), 1, n)

    def test_master_restart_while_node_ends_during_downtime(self):
        marks = os.path.join(self.tmp, "marks-down")
        os.makedirs(marks)
        self.flow("downtime", marks, [("a", "sleep 1", ()), ("b", "true", ("a",))])
        fid = self.api.ok("POST", "/api/v1/flows/downtime/run", expect=(201,))["flow_execution_id"]
        harness.wait_until(lambda: self.fexec(fid)["nodes"]["a"]["state"] == "running", 10, 0.05, "a running")
        self.master.stop()
        import time
        time.sleep(1.5)  # a ends while the master is down; its worker reports after reconnecting
        self.master.start(fixed_ports=True)
        type(self).api = self.api = self.master.api()
        fe = self.wait_flow(fid)
        self.assertEqual(fe["state"], "succeeded", fe)
        self.assertEqual(self.marks_of(marks), {"a": 1, "b": 1})

    def test_worker_kill_relaunches_that_node_only(self):
        marks = os.path.join(self.tmp, "marks-kill")
        os.makedirs(marks)
        self.flow("wk", marks, [("one", "true", ()),
                                ("victim", self.gate("wk-victim"), ("one",)),
                                ("after", "true", ("victim",))])
        fid = self.api.ok("POST", "/api/v1/flows/wk/run", expect=(201,))["flow_execution_id"]

        def victim_worker():
            fe = self.fexec(fid)
            if fe["nodes"]["victim"]["state"] != "running" or not fe["nodes"]["victim"]["execution_id"]:
                return None
            e = self.api.execution(fe["nodes"]["victim"]["execution_id"])
            return e["worker_id"] if e["state"] == "running" else None
        wid = harness.wait_until(victim_worker, 15, 0.05, "victim running")
        victim_exec = self.fexec(fid)["nodes"]["victim"]["execution_id"]
        self.workers[wid].kill9()
        # The relaunched attempt waits at the gate on the other worker.
        self.wait_attempts(victim_exec, lambda a: len(a) == 2 and a[1]["state"] == "running", 20,
                           "relaunched")
        self.open_gate("wk-victim")
        fe = self.wait_flow(fid)
        self.assertEqual(fe["state"], "succeeded", fe)
        self.assertEqual(fe["nodes"]["victim"]["execution_id"], victim_exec)
        e = self.api.execution(victim_exec)
        self.assertEqual([a["state"] for a in e["attempts"]], ["lost", "succeeded"])
        self.assertNotEqual(e["attempts"][1]["worker_id"], wid)
        m = self.marks_of(marks)
        self.assertEqual((m["one"], m["after"]), (1, 1))
        self.assertEqual(m["victim"], 2)  # the lost attempt and its relaunch, nothing else
        for n in ("one", "victim", "after"):
            self.assertEqual(len(self.api.executions(job="wk.%s" % n)), 1, n)
        # Bring the worker back for the other tests.
        self.workers[wid] = self.start_worker(wid, self.WORKERS[wid])
        self.wait_workers({wid})


if __name__ == "__main__":
    harness.main()
