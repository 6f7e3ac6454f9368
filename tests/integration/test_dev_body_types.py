"""Every request body field of every route that takes a body, sent as each
JSON type (null, number, string, array, object, true): the master answers
each one with 2xx or a 4xx JSON error (never a 5xx, never a dropped
connection) and keeps serving. Fields whose documented type does not
include the type sent must be a 400 naming the field (the route's body
schema, core/api/api_schemas.c). Also the crash of issue 13: a schedule
whose "at" is null killed the master."""

import copy
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

KINDS = {"null": None, "number": 5, "string": "x", "array": [], "object": {}, "boolean": True}

# Documented types of each field (docs/api.md, docs/flows.md,
# docs/schedules.md); "integer" is a number here.
JOB = {"name": {"string"}, "type": {"string"}, "params": {"object"},
       "timeout": {"number", "null"}, "slots": {"number", "null"}, "priority": {"number", "null"},
       "retries": {"number", "null"}, "retry_delay": {"number", "null"},
       "retry_max_delay": {"number", "null"}, "max_relaunches": {"number", "null"},
       "labels": {"array"}, "mode": {"string"}, "shards": {"number", "null"},
       "retry_backoff": {"string", "object"}, "retry_on": {"array"},
       "relaunch_on_lost": {"boolean"}, "run_as": {"string", "null"}, "balancer": {"string"},
       "balancer_args": {"object"}, "env": {"object"}, "resources": {"array", "null"}}
SCHEDULE = {"name": {"string"}, "job": {"string"}, "flow": {"string"},
            "params": {"object", "null"}, "concurrency": {"string", "null"},
            "cron": {"string"}, "every": {"string", "number"}, "delay": {"string", "number"},
            "at": {"string"}, "timezone": {"string", "null"}, "start": {"string", "null"},
            "end": {"string", "null"}, "misfire": {"string", "null"},
            "max_catchup": {"number", "null"}, "misfire_grace": {"string", "number", "null"},
            "enabled": {"boolean", "null"}}
FLOW = {"name": {"string"}, "nodes": {"array"}, "params": {"object", "null"},
        "failure_strategy": {"string", "null"}, "max_parallel": {"number", "null"},
        "hooks": {"object", "null"}, "hooks_error": {"string", "null"}}
NODE = {"id": {"string"}, "job": {"string", "object"}, "params": {"object", "null"},
        "depends_on": {"array", "null"}, "trigger_rule": {"string", "null"},
        "timeout": {"number", "null"}, "retries": {"number", "null"},
        "labels": {"array", "null"}, "balancer": {"string", "null"}}
HOOKS = {"script": {"string"}, "file": {"string"}}
RUN = {"params": {"object"}}
FLOW_RUN = {"params": {"object", "null"}, "logical_time_us": {"number"}}
RERUN = {"from_failed": {"boolean", "null"}, "nodes": {"array"}, "params": {"object", "null"}}


class DevBodyTypes(harness.PagodaTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dev = cls.start("dev", ["--slots", "4"])
        cls.api = cls.dev.api()
        cls.api.shell_job("canary", "true")
        cls.api.ok("POST", "/api/v1/flows",
                   {"name": "f", "nodes": [{"id": "a", "job": "canary"}]})
        fe = cls.api.ok("POST", "/api/v1/flows/f/run", {})["flow_execution_id"]
        harness.wait_until(lambda: cls.api.ok("GET", "/api/v1/flow-executions/%d" % fe)["state"]
                           != "running", timeout=60, what="flow execution %d to end" % fe)
        cls.fexec = fe

    def send(self, path, body, where):
        r = self.api.post(path, body)
        what = "%s %s -> %r" % (path, where, r)
        self.assertLess(r.status, 500, what)
        self.assertTrue(r.body, what)
        doc = r.json
        self.assertIsInstance(doc, dict, what)
        if r.status >= 400:
            self.assertIsInstance(doc.get("error"), str, what)
        return r

    def sweep(self, path, base, types, prefix="", into=None):
        """Sends `base` with each field of `types` replaced (or added) with
        each kind; `into` navigates to the object holding the fields."""
        for field, allowed in types.items():
            for kind, value in KINDS.items():
                body = copy.deepcopy(base)
                target = into(body) if into else body
                target[field] = copy.deepcopy(value)
                where = "%s%s=%s" % (prefix, field, kind)
                r = self.send(path, body, where)
                if kind not in allowed:
                    self.assertEqual(r.status, 400, "%s %s: %r" % (path, where, r))
                    self.assertEqual(r.json.get("field"), prefix + field, "%s %s: %r" % (path, where, r))
                    self.assertTrue(r.json.get("expected"), r)
        self.assertEqual(self.api.health()["status"], "ok", path)

    def test_jobs(self):
        base = {"name": "bt-job", "type": "shell", "params": {"script": "true"}}
        self.sweep("/api/v1/jobs", base, JOB)
        self.sweep("/api/v1/jobs/canary/run", {}, RUN)

    def test_schedules(self):
        self.sweep("/api/v1/schedules", {"name": "bt-s", "job": "canary", "every": "1h"},
                   {k: v for k, v in SCHEDULE.items() if k not in ("cron", "delay", "at", "every", "flow")})
        for kind_key in ("cron", "every", "delay", "at"):
            self.sweep("/api/v1/schedules", {"name": "bt-s", "job": "canary"},
                       {kind_key: SCHEDULE[kind_key]})
        self.sweep("/api/v1/schedules", {"name": "bt-s", "every": "1h"}, {"flow": SCHEDULE["flow"]})

    def test_flows(self):
        base = {"name": "bt-f", "nodes": [{"id": "a", "job": "canary"}]}
        self.sweep("/api/v1/flows", base, FLOW)
        self.sweep("/api/v1/flows", base, NODE, prefix="nodes[0].", into=lambda b: b["nodes"][0])
        hooked = dict(base, hooks={"script": "function on_node_ready(n, f) return 'run' end"})
        self.sweep("/api/v1/flows", hooked, HOOKS, prefix="hooks.", into=lambda b: b["hooks"])
        self.sweep("/api/v1/flows/f/run", {}, FLOW_RUN)
        self.sweep("/api/v1/flow-executions/%d/rerun" % self.fexec, {"from_failed": True}, RERUN)

    def test_schedule_at_null_is_400_not_a_crash(self):
        # Before: the master dereferenced the null "at" and died (issue 13).
        for body, field in (({"name": "atnull", "job": "canary", "at": None}, "at"),
                            ({"name": "cronnum", "job": "canary", "cron": 5}, "cron"),
                            ({"name": "cronnull", "job": "canary", "cron": None}, "cron")):
            r = self.api.post("/api/v1/schedules", body)
            self.assertEqual(r.status, 400, r)
            self.assertEqual(r.json["field"], field, r)
            self.assertIn("string", r.json["expected"], r)
            self.assertIn(field, r.json["error"], r)
        self.assertTrue(self.dev.alive(), "the master died")
        self.assertEqual(self.api.health()["status"], "ok")
        self.assertEqual(self.api.get("/api/v1/schedules/atnull").status, 404)

    def test_body_not_utf8_is_400(self):
        body = b'{"name": "bt-utf8", "type": "shell", "params": {"script": "echo \xff\xfe"}}'
        r = self.api.post("/api/v1/jobs", raw=body)
        self.assertEqual(r.status, 400, r)
        self.assertIn("UTF-8", r.json["error"], r)
        self.assertEqual(self.api.get("/api/v1/jobs/bt-utf8").status, 404)

    def test_flow_hooks_file_with_non_string_script(self):
        # Before: {"file": ..., "script": 5} read the number's (NULL) string.
        r = self.api.post("/api/v1/flows", {"name": "bt-h", "hooks": {"file": "x.lua", "script": 5},
                                            "nodes": [{"id": "a", "job": "canary"}]})
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json["field"], "hooks.script", r)
        r = self.api.post("/api/v1/flows", {"name": "bt-h", "nodes": [{"id": [], "job": "canary"}]})
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json["field"], "nodes[0].id", r)
        self.assertTrue(self.dev.alive(), "the master died")


if __name__ == "__main__":
    harness.main()
