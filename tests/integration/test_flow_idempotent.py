"""Idempotent flow runs (issue 16 follow-up; docs/api.md "Idempotency-Key"):
POST /api/v1/flows/{name}/run with an `Idempotency-Key` header returns the
first flow execution for the same key instead of starting another, also
after a restart (the key is a stored document); the same key with other
params, another logical time or for another flow is refused (422); a
malformed key is refused (400); a run without a key is a new run."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class IdempotentFlowRuns(harness.PagodaTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dev = cls.start("dev", ["--slots", "4"])
        cls.api = cls.dev.api()

    def run_keyed(self, flow, key, params=None, **body):
        if params is not None:
            body["params"] = params
        return self.api.post("/api/v1/flows/%s/run" % flow, body or None,
                             headers={"Idempotency-Key": key})

    def fexecs(self, flow):
        r = self.api.ok("GET", "/api/v1/flow-executions?flow=%s" % flow, expect=(200,))
        return sorted(f["id"] for f in r["flow_executions"])

    def wait_flow(self, fid):
        def done():
            f = self.api.ok("GET", "/api/v1/flow-executions/%d" % fid, expect=(200,))
            return f if f["state"] in ("succeeded", "failed", "killed") else None
        return harness.wait_until(done, 30, 0.05, "flow execution %d ends" % fid)

    def test_same_key_one_flow_execution(self):
        marks = os.path.join(self.tmp, "flow-idem-marks")
        os.makedirs(marks)
        for name in ("fidem", "fidem-other"):
            self.api.ok("POST", "/api/v1/flows", {
                "name": name,
                "nodes": [{"id": "a", "job": {"type": "shell", "params": {
                    "script": "echo x >> %s/${flow.execution_id}" % marks}}}]},
                expect=(200, 201))

        first = self.run_keyed("fidem", "fk-1", {"a": 1, "b": {"y": 2, "x": 1}})
        self.assertEqual(first.status, 201, first.text)
        self.assertIs(first.json["replayed"], False)
        self.assertNotIn("idempotent-replayed", first.headers)
        fid = first.json["flow_execution_id"]

        again = self.run_keyed("fidem", "fk-1", {"b": {"x": 1, "y": 2}, "a": 1})
        self.assertEqual(again.status, 200, again.text)
        self.assertEqual(again.json["flow_execution_id"], fid)
        self.assertIs(again.json["replayed"], True)
        self.assertEqual(again.headers.get("idempotent-replayed"), "true")

        self.assertEqual(self.wait_flow(fid)["state"], "succeeded")
        after_end = self.run_keyed("fidem", "fk-1", {"a": 1, "b": {"y": 2, "x": 1}})
        self.assertEqual((after_end.status, after_end.json["flow_execution_id"]), (200, fid))
        self.assertEqual(after_end.json["state"], "succeeded")

        # other params, another logical time, another flow, a bad key
        other = self.run_keyed("fidem", "fk-1", {"a": 2})
        self.assertEqual(other.status, 422, other.text)
        self.assertIn("fk-1", other.json["error"])
        self.assertEqual(self.run_keyed("fidem", "fk-1", {"a": 1, "b": {"y": 2, "x": 1}},
                                        logical_time_us=1000000).status, 422)
        self.assertEqual(self.run_keyed("fidem-other", "fk-1").status, 422)
        self.assertEqual(self.run_keyed("fidem", "bad key").status, 400)
        self.assertEqual(self.run_keyed("fidem", "x" * 256).status, 400)
        self.assertEqual(self.fexecs("fidem"), [fid])
        self.assertEqual(self.fexecs("fidem-other"), [])

        # no key, another key: new flow executions
        plain = self.api.ok("POST", "/api/v1/flows/fidem/run", None, expect=(201,))
        self.assertNotIn("replayed", plain)
        k2 = self.run_keyed("fidem", "fk-2")
        self.assertEqual(k2.status, 201, k2.text)
        self.assertNotIn(k2.json["flow_execution_id"], (fid, plain["flow_execution_id"]))
        self.wait_flow(plain["flow_execution_id"])
        self.wait_flow(k2.json["flow_execution_id"])

        # after a restart the key is read back from the store
        self.dev.stop()
        self.dev.start()
        type(self).api = self.dev.api()
        self.api = type(self).api
        back = self.run_keyed("fidem", "fk-1", {"a": 1, "b": {"y": 2, "x": 1}})
        self.assertEqual(back.status, 200, back.text)
        self.assertEqual(back.json["flow_execution_id"], fid)
        self.assertEqual(self.run_keyed("fidem", "fk-1", {"a": 3}).status, 422)
        self.assertEqual(len(self.fexecs("fidem")), 3)
        with open(os.path.join(marks, str(fid))) as f:
            self.assertEqual(f.read(), "x\n", "the keyed flow ran more than once")


if __name__ == "__main__":
    harness.main()
