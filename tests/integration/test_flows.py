"""Flows through `pagoda dev` (issue 6): validation on create, a diamond,
failure strategies, trigger rules, outputs, date variables, hooks, kill,
re-runs, and the `pagoda flow` CLI. Restarts and lost workers are in
test_flows_restart.py."""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def sh(script, **extra):
    job = {"type": "shell", "params": {"script": script}}
    job.update(extra)
    return job


def node(nid, script, deps=(), **extra):
    n = {"id": nid, "job": sh(script)}
    if deps:
        n["depends_on"] = list(deps)
    n.update(extra)
    return n


class Flows(harness.PagodaTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dev = cls.start("dev", ["--slots", "8", "--kill-grace-ms", "300"])
        cls.api = cls.dev.api()

    # -- helpers

    def create(self, flow, expect=(200, 201)):
        return self.api.ok("POST", "/api/v1/flows", flow, expect=expect)

    def run_flow(self, name, params=None, **body):
        if params is not None:
            body["params"] = params
        r = self.api.ok("POST", "/api/v1/flows/%s/run" % name, body or None, expect=(201,))
        self.assertEqual(r["state"], "running")
        return r["flow_execution_id"]

    def fexec(self, fid):
        return self.api.ok("GET", "/api/v1/flow-executions/%d" % fid, expect=(200,))

    def wait_flow(self, fid, timeout=20, states=("succeeded", "failed", "killed")):
        return harness.wait_until(lambda: (lambda f: f if f["state"] in states else None)(self.fexec(fid)),
                                  timeout, 0.05, "flow execution %d ends" % fid)

    def node_states(self, fe):
        return {k: v["state"] for k, v in fe["nodes"].items()}

    def cli(self, *args):
        return subprocess.run([harness.pagoda_bin(), "--addr", self.dev.url] + list(args),
                              capture_output=True, text=True, timeout=60)

    # -- validation

    def test_validation_refuses_and_stores_nothing(self):
        cases = [
            ({"name": "v-cycle", "nodes": [node("a", "true", ["c"]), node("b", "true", ["a"]),
                                           node("c", "true", ["b"])]},
             "cycle: a -> b -> c -> a"),
            ({"name": "v-missing", "nodes": [node("a", "true"), node("load", "true", ["claen"])]},
             "node 'load': depends_on names unknown node 'claen'"),
            ({"name": "v-rule", "nodes": [node("a", "true"), node("b", "true", ["a"], trigger_rule="sometimes")]},
             "trigger_rule 'sometimes'"),
            ({"name": "v-type", "nodes": [{"id": "a", "job": {"type": "cobol", "params": {}}}]},
             "node 'a': unknown job type 'cobol'"),
            ({"name": "v-job", "nodes": [{"id": "a", "job": "no_such_job"}]},
             "node 'a': job 'no_such_job' not found"),
            ({"name": "v-params", "nodes": [{"id": "a", "job": {"type": "shell", "params": "x"}}]},
             "node 'a': params must be an object"),
            ({"name": "v-dup", "nodes": [node("a", "true"), node("a", "true")]},
             "duplicate node id 'a'"),
        ]
        for flow, msg in cases:
            r = self.api.post("/api/v1/flows", flow)
            self.assertEqual(r.status, 400, (flow["name"], r))
            self.assertIn(msg, r.json["error"], flow["name"])
            self.assertEqual(self.api.get("/api/v1/flows/%s" % flow["name"]).status, 404)
            self.assertEqual(self.api.post("/api/v1/flows/%s/run" % flow["name"]).status, 404)
        names = [f["name"] for f in self.api.ok("GET", "/api/v1/flows")["flows"]]
        self.assertFalse([n for n in names if n.startswith("v-")], names)

    def test_create_replace_show_delete(self):
        r = self.api.post("/api/v1/flows", {"name": "crud", "nodes": [node("a", "true")]})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["failure_strategy"], "fail_fast")
        r = self.api.post("/api/v1/flows", {"name": "crud", "nodes": [node("a", "true"), node("b", "true", ["a"])]})
        self.assertEqual(r.status, 200, r)
        shown = self.api.ok("GET", "/api/v1/flows/crud", expect=(200,))
        self.assertEqual([n["id"] for n in shown["nodes"]], ["a", "b"])
        fid = self.run_flow("crud")
        self.assertEqual(self.wait_flow(fid)["state"], "succeeded")
        self.assertEqual(self.api.ok("DELETE", "/api/v1/flows/crud", expect=(200,)), {"deleted": "crud"})
        self.assertEqual(self.api.get("/api/v1/flows/crud").status, 404)
        # The history stays.
        self.assertEqual(self.fexec(fid)["state"], "succeeded")

    # -- shapes and strategies

    def test_diamond(self):
        self.create({"name": "diamond", "nodes": [
            node("a", "echo A"), node("b", "sleep 0.2; echo B", ["a"]), node("c", "echo C", ["a"]),
            node("d", "echo D", ["b", "c"])]})
        fid = self.run_flow("diamond")
        fe = self.wait_flow(fid)
        self.assertEqual(fe["state"], "succeeded", fe)
        self.assertEqual(set(self.node_states(fe).values()), {"succeeded"})
        ex = {k: self.api.execution(v["execution_id"]) for k, v in fe["nodes"].items()}
        for k, e in ex.items():
            self.assertEqual(e["flow_execution_id"], fid)
            self.assertEqual(e["flow_node"], k)
            self.assertEqual(e["trigger"], "flow")
            self.assertEqual(e["job"], "diamond.%s" % k)
        # d started only after both b and c finished; b and c after a.
        self.assertGreaterEqual(ex["d"]["started_us"], max(ex["b"]["finished_us"], ex["c"]["finished_us"]))
        self.assertGreaterEqual(min(ex["b"]["started_us"], ex["c"]["started_us"]), ex["a"]["finished_us"])
        # One execution per node, no more.
        for k in "abcd":
            self.assertEqual(len(self.api.executions(job="diamond.%s" % k)), 1)
        # Listing.
        lst = self.api.ok("GET", "/api/v1/flow-executions?flow=diamond", expect=(200,))["flow_executions"]
        self.assertEqual([x["id"] for x in lst], [fid])
        self.assertNotIn("definition", lst[0])

    def test_fail_fast(self):
        self.create({"name": "ff", "nodes": [
            node("bad", "sleep 0.2; exit 3"), node("slow", "sleep 30"),
            node("after", "echo never", ["bad"])]})
        fid = self.run_flow("ff")
        fe = self.wait_flow(fid)
        self.assertEqual(fe["state"], "failed")
        st = self.node_states(fe)
        self.assertEqual(st, {"bad": "failed", "slow": "killed", "after": "skipped"}, fe)
        self.assertEqual(fe["nodes"]["after"]["skip_cause"], "fail_fast")
        self.assertEqual(self.api.execution(fe["nodes"]["slow"]["execution_id"])["state"], "killed")
        self.assertEqual(fe["nodes"]["after"]["execution_id"], 0)

    def test_continue(self):
        self.create({"name": "cont", "failure_strategy": "continue", "nodes": [
            node("bad", "exit 1"), node("good", "sleep 0.2"),
            node("after_bad", "true", ["bad"]), node("after_good", "true", ["good"])]})
        fe = self.wait_flow(self.run_flow("cont"))
        self.assertEqual(fe["state"], "failed")
        self.assertEqual(self.node_states(fe), {"bad": "failed", "good": "succeeded",
                                                "after_bad": "upstream_failed", "after_good": "succeeded"})

    def test_trigger_rules(self):
        self.create({"name": "rules", "failure_strategy": "continue", "nodes": [
            node("ok", "true"), node("ko", "exit 1"),
            node("all_success", "true", ["ok", "ko"]),
            node("all_done", "true", ["ok", "ko"], trigger_rule="all_done"),
            node("one_success", "true", ["ok", "ko"], trigger_rule="one_success"),
            node("one_failed", "true", ["ok", "ko"], trigger_rule="one_failed"),
            node("one_failed_none", "true", ["ok"], trigger_rule="one_failed")]})
        fe = self.wait_flow(self.run_flow("rules"))
        self.assertEqual(self.node_states(fe), {
            "ok": "succeeded", "ko": "failed", "all_success": "upstream_failed",
            "all_done": "succeeded", "one_success": "succeeded", "one_failed": "succeeded",
            "one_failed_none": "skipped"})
        self.assertEqual(fe["state"], "failed")

    # -- outputs and variables

    def test_outputs_and_date_variables(self):
        self.create({"name": "outs", "params": {"region": "eu"}, "nodes": [
            node("extract", "echo noise; echo '::output path=/data/o-${flow.params.region}.csv'; "
                            "echo '::output rows=12' >&2; echo ::output rows=1234"),
            node("load", "echo file=${node.extract.outputs.path} rows=${node.extract.outputs.rows} "
                         "day=${date:-1d} compact=${date:%Y%m%d} m=${date:-1m} "
                         "t=${datetime:+1h:-30min:%H:%M} id=${execution.id}", ["extract"])]})
        # 2026-03-31T11:30:45Z
        fid = self.run_flow("outs", params={"region": "us"}, logical_time_us=1774956645000000)
        fe = self.wait_flow(fid)
        self.assertEqual(fe["state"], "succeeded", fe)
        self.assertEqual(fe["nodes"]["extract"]["outputs"], {"path": "/data/o-us.csv", "rows": "1234"})
        log = self.api.log(fe["nodes"]["load"]["execution_id"])
        self.assertIn("file=/data/o-us.csv rows=1234 day=2026-03-30 compact=20260331 m=2026-02-28 "
                      "t=12:00 id=%d" % fid, log)

    def test_unknown_variable_fails_node(self):
        self.create({"name": "unk", "failure_strategy": "continue", "nodes": [
            node("a", "true"), node("b", "echo ${node.a.outputs.nope}", ["a"])]})
        fe = self.wait_flow(self.run_flow("unk"))
        self.assertEqual(fe["nodes"]["b"]["state"], "failed")
        self.assertIn("unknown variable ${node.a.outputs.nope}", fe["nodes"]["b"]["reason"])
        self.assertEqual(fe["nodes"]["b"]["execution_id"], 0)

    def test_lua_result_outputs(self):
        plugins = [p["type"] for p in self.api.ok("GET", "/api/v1/plugins")["plugins"] if p.get("status", "loaded") == "loaded"]
        self.assertIn("lua", plugins, "the lua plugin is built with Pagoda and must be loaded")
        self.create({"name": "luaout", "nodes": [
            {"id": "calc", "job": {"type": "lua", "params": {"script": "return {outputs = {n = 6 * 7}}"}}},
            node("use", "echo n=${node.calc.outputs.n}", ["calc"])]})
        fe = self.wait_flow(self.run_flow("luaout"))
        self.assertEqual(fe["state"], "succeeded", fe)
        self.assertEqual(fe["nodes"]["calc"]["outputs"], {"n": "42"})
        self.assertIn("n=42", self.api.log(fe["nodes"]["use"]["execution_id"]))

    # -- hooks

    def test_hooks_skip_params_branch(self):
        hooks = """
function on_flow_start(flow) flow.vars.started = "yes" end
function on_node_ready(node, flow)
  if node.id == "skipme" then return "skip", "not today" end
  if node.id == "tuned" then return { mode = "bulk" } end
  if node.id == "small" or node.id == "big" then
    local rows = tonumber(flow.nodes.count.outputs.rows or "0")
    if node.id == "big" and rows < 100 then return "skip", "few rows" end
    if node.id == "small" and rows >= 100 then return "skip", "many rows" end
  end
  return "run"
end
function on_node_done(node, result, flow)
  set_var("done", (flow.vars.done or 0) + 1)
  return { ["last_" .. node.id] = result.state }
end
"""
        self.create({"name": "hooked", "hooks": {"script": hooks}, "nodes": [
            node("count", "echo ::output rows=7"),
            node("skipme", "echo should-not-run"),
            node("tuned", "echo mode=${flow.vars.started}-$(echo x)", params={"script": "echo placeholder"}),
            node("small", "echo small", ["count"]), node("big", "echo big", ["count"])]})
        # tuned: params from the hook merge over the node's.
        fe = self.wait_flow(self.run_flow("hooked"))
        self.assertEqual(fe["state"], "succeeded", fe)
        st = self.node_states(fe)
        self.assertEqual(st["skipme"], "skipped")
        self.assertEqual(fe["nodes"]["skipme"]["skip_cause"], "hook")
        self.assertIn("not today", fe["nodes"]["skipme"]["reason"])
        self.assertEqual((st["small"], st["big"]), ("succeeded", "skipped"))
        self.assertEqual(fe["vars"]["started"], "yes")
        self.assertEqual(fe["vars"]["done"], 3)  # count, tuned, small
        self.assertEqual(fe["vars"]["last_small"], "succeeded")
        e = self.api.execution(fe["nodes"]["tuned"]["execution_id"])
        self.assertEqual(e["params"]["mode"], "bulk")

    def test_hook_errors(self):
        bad = 'function on_node_ready(node, flow) if node.id == "b" then error("boom") end end'
        self.create({"name": "hookerr-run", "hooks": {"script": bad}, "nodes": [node("a", "true"), node("b", "true")]})
        fe = self.wait_flow(self.run_flow("hookerr-run"))
        self.assertEqual(fe["state"], "succeeded", fe)
        self.assertEqual(len(fe["hook_errors"]), 1)
        self.assertIn("boom", fe["hook_errors"][0]["error"])
        self.create({"name": "hookerr-fail", "hooks": {"script": bad}, "hooks_error": "fail",
                     "failure_strategy": "continue", "nodes": [node("a", "true"), node("b", "true")]})
        fe = self.wait_flow(self.run_flow("hookerr-fail"))
        self.assertEqual(fe["state"], "failed")
        self.assertEqual(self.node_states(fe), {"a": "succeeded", "b": "failed"})
        self.assertEqual(fe["nodes"]["b"]["execution_id"], 0)
        r = self.api.post("/api/v1/flows", {"name": "hookerr-syntax", "hooks": {"script": "function x("},
                                            "nodes": [node("a", "true")]})
        self.assertEqual(r.status, 400)
        self.assertIn("hooks", r.json["error"])

    # -- kill and re-run

    def test_kill(self):
        self.create({"name": "killme", "nodes": [node("long", "sleep 30"), node("next", "true", ["long"])]})
        fid = self.run_flow("killme")
        harness.wait_until(lambda: self.fexec(fid)["nodes"]["long"]["execution_id"] > 0 and
                           self.api.execution(self.fexec(fid)["nodes"]["long"]["execution_id"])["state"] == "running",
                           10, 0.05, "long running")
        r = self.api.post("/api/v1/flow-executions/%d/kill" % fid)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["killing"])
        fe = self.wait_flow(fid)
        self.assertEqual(fe["state"], "killed")
        self.assertEqual(self.node_states(fe), {"long": "killed", "next": "skipped"})
        self.assertEqual(self.api.post("/api/v1/flow-executions/%d/kill" % fid).status, 409)
        self.assertEqual(self.api.post("/api/v1/flow-executions/999999/kill").status, 404)

    def test_rerun_from_failed_and_nodes(self):
        marker = os.path.join(self.tmp, "rerun-ok")
        self.create({"name": "rr", "nodes": [
            node("a", "echo ::output v=1"), node("b", "test -e %s" % marker, ["a"]),
            node("c", "echo c=${node.a.outputs.v}", ["b"])]})
        fid = self.run_flow("rr")
        fe = self.wait_flow(fid)
        self.assertEqual(self.node_states(fe), {"a": "succeeded", "b": "failed", "c": "skipped"})
        self.assertEqual(fe["nodes"]["c"]["skip_cause"], "fail_fast")
        self.assertEqual(self.api.post("/api/v1/flow-executions/%d/rerun" % fid, {}).status, 400)
        open(marker, "w").close()
        r = self.api.ok("POST", "/api/v1/flow-executions/%d/rerun" % fid, {"from_failed": True}, expect=(201,))
        self.assertEqual(r["rerun_of"], fid)
        fe2 = self.wait_flow(r["flow_execution_id"])
        self.assertEqual(fe2["state"], "succeeded", fe2)
        self.assertEqual(fe2["rerun_of"], fid)
        self.assertTrue(fe2["nodes"]["a"].get("reused"))
        self.assertEqual(fe2["nodes"]["a"]["execution_id"], fe["nodes"]["a"]["execution_id"])
        self.assertNotEqual(fe2["nodes"]["b"]["execution_id"], fe["nodes"]["b"]["execution_id"])
        self.assertIn("c=1", self.api.log(fe2["nodes"]["c"]["execution_id"]))
        # The original is unchanged.
        self.assertEqual(self.fexec(fid)["state"], "failed")
        # nodes: re-run c only.
        r = self.api.ok("POST", "/api/v1/flow-executions/%d/rerun" % fe2["id"], {"nodes": ["c"]}, expect=(201,))
        fe3 = self.wait_flow(r["flow_execution_id"])
        self.assertEqual(fe3["state"], "succeeded")
        self.assertEqual(fe3["nodes"]["b"]["execution_id"], fe2["nodes"]["b"]["execution_id"])
        self.assertNotEqual(fe3["nodes"]["c"]["execution_id"], fe2["nodes"]["c"]["execution_id"])

    def test_rerun_while_running_is_409(self):
        self.create({"name": "busy", "nodes": [node("a", "sleep 30")]})
        fid = self.run_flow("busy")
        r = self.api.post("/api/v1/flow-executions/%d/rerun" % fid, {"from_failed": True})
        self.assertEqual(r.status, 409, r)
        self.api.ok("POST", "/api/v1/flow-executions/%d/kill" % fid, expect=(200,))
        self.assertEqual(self.wait_flow(fid)["state"], "killed")

    def test_node_job_refused_at_start(self):
        # A stored job deleted after the flow was created: the node fails with the reason.
        self.api.shell_job("tmpjob", "true")
        self.create({"name": "gone", "failure_strategy": "continue",
                     "nodes": [{"id": "a", "job": "tmpjob"}, node("b", "true")]})
        self.api.ok("DELETE", "/api/v1/jobs/tmpjob", expect=(200,))
        fe = self.wait_flow(self.run_flow("gone"))
        self.assertEqual(self.node_states(fe), {"a": "failed", "b": "succeeded"})
        self.assertIn("job 'tmpjob' not found", fe["nodes"]["a"]["reason"])

    # -- CLI

    def test_cli(self):
        path = os.path.join(self.tmp, "cliflow.json")
        with open(path, "w") as f:
            json.dump({"name": "cliflow", "params": {"who": "x"},
                       "nodes": [node("hello", "echo ::output said=hi-${flow.params.who}")]}, f)
        p = self.cli("flow", "create", path)
        self.assertEqual((p.returncode, p.stdout), (0, "flow cliflow created\n"), p.stderr)
        p = self.cli("flow", "list")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"(?m)^NAME\s+STRATEGY\s+NODES\s+UPDATED$")
        self.assertRegex(p.stdout, r"(?m)^cliflow\s+fail_fast\s+hello\s")
        p = self.cli("flow", "run", "cliflow", "--param", "who=you", "--wait")
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        fid = int(lines[0])
        self.assertEqual(lines[1], "flow execution %d of cliflow: succeeded" % fid)
        self.assertRegex(p.stdout, r"(?m)^hello\s+succeeded\s+\d+\s+said=hi-you\s+-$")
        p = self.cli("flow", "status", str(fid))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("said=hi-you", p.stdout)
        p = self.cli("flow", "status", str(fid), "--json")
        self.assertEqual(json.loads(p.stdout)["id"], fid)
        p = self.cli("flow", "show", "cliflow")
        self.assertEqual(json.loads(p.stdout)["name"], "cliflow")
        p = self.cli("flow", "rerun", str(fid))
        self.assertEqual(p.returncode, 2)
        self.assertIn("--from-failed or --nodes", p.stderr)
        p = self.cli("flow", "rerun", str(fid), "--nodes", "hello")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.wait_flow(int(p.stdout))["state"], "succeeded")
        p = self.cli("flow", "kill", str(fid))
        self.assertEqual(p.returncode, 1)
        self.assertIn("already finished", p.stderr)
        p = self.cli("flow", "run", "nope")
        self.assertEqual(p.returncode, 1)
        self.assertIn("flow 'nope' not found (HTTP 404)", p.stderr)
        p = self.cli("flow", "delete", "cliflow")
        self.assertEqual((p.returncode, p.stdout), (0, "flow cliflow deleted\n"))
        p = self.cli("help", "flow")
        self.assertIn("pagoda flow rerun ID --from-failed|--nodes a,b", p.stdout)


if __name__ == "__main__":
    harness.main()
