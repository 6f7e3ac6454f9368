"""Idempotent runs (issue 13, item 7): POST /api/v1/jobs/{name}/run with an
`Idempotency-Key` header returns the first execution for the same key
instead of starting another, also after a master restart (the key is stored
with the execution's first record); the same key with other params or for
another job is refused (422); a malformed key is refused (400).
The CLI side (a key per `job run`, retries with the same key) is in
test_cli_idempotent.py."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_cluster_base import ClusterCase  # noqa: E402


class IdempotentRuns(ClusterCase):
    WORKERS = {"id-1": ["--slots", "2"]}

    def run_keyed(self, job, key, params=None):
        body = {"params": params} if params is not None else None
        return self.api.post("/api/v1/jobs/%s/run" % job, body, headers={"Idempotency-Key": key})

    def runs_of(self, job):
        return sorted(x["id"] for x in self.api.executions(job=job))

    def test_same_key_one_execution_across_restart(self):
        marks = os.path.join(self.tmp, "idem-marks")
        os.makedirs(marks)
        self.api.shell_job("idem", "echo x >> %s/$PAGODA_EXECUTION_ID" % marks)
        self.api.shell_job("idem-other", "true")

        first = self.run_keyed("idem", "k-1", {"a": 1, "b": [1, {"y": 2, "x": 1}]})
        self.assertEqual(first.status, 201, first.text)
        self.assertIs(first.json["replayed"], False)
        self.assertNotIn("idempotent-replayed", first.headers)
        eid = first.json["execution_id"]

        # The same request again (members in another order: same params).
        again = self.run_keyed("idem", "k-1", {"b": [1, {"x": 1, "y": 2}], "a": 1})
        self.assertEqual(again.status, 200, again.text)
        self.assertEqual(again.json["execution_id"], eid)
        self.assertIs(again.json["replayed"], True)
        self.assertEqual(sorted(again.json), sorted(first.json))
        self.assertEqual(again.headers.get("idempotent-replayed"), "true")

        self.assertEqual(self.api.wait_final(eid, timeout=20)["state"], "succeeded")
        after_end = self.run_keyed("idem", "k-1", {"a": 1, "b": [1, {"y": 2, "x": 1}]})
        self.assertEqual((after_end.status, after_end.json["execution_id"]), (200, eid))
        self.assertEqual(after_end.json["state"], "succeeded")

        # Other params, another job, a bad key: refused, nothing submitted.
        other = self.run_keyed("idem", "k-1", {"a": 2})
        self.assertEqual(other.status, 422, other.text)
        self.assertIn("k-1", other.json["error"])
        self.assertEqual(self.run_keyed("idem-other", "k-1").status, 422)
        self.assertEqual(self.run_keyed("idem", "bad key").status, 400)
        self.assertEqual(self.run_keyed("idem", "x" * 256).status, 400)
        self.assertEqual(self.runs_of("idem"), [eid])
        self.assertEqual(self.runs_of("idem-other"), [])

        # A run without a key, and another key: new executions.
        plain = self.api.run("idem")
        k2 = self.run_keyed("idem", "k-2")
        self.assertEqual(k2.status, 201)
        self.assertNotIn(k2.json["execution_id"], (eid, plain))

        # After a restart the key is read back from the store.
        self.assertStopsCleanly(self.master)
        self.master.start(fixed_ports=True)
        type(self).api = self.master.api()
        self.api = type(self).api
        back = self.run_keyed("idem", "k-1", {"a": 1, "b": [1, {"y": 2, "x": 1}]})
        self.assertEqual(back.status, 200, back.text)
        self.assertEqual(back.json["execution_id"], eid)
        self.assertEqual(back.headers.get("idempotent-replayed"), "true")
        self.assertEqual(self.run_keyed("idem", "k-1", {"a": 3}).status, 422)
        self.assertEqual(self.runs_of("idem"), sorted([eid, plain, k2.json["execution_id"]]))
        self.api.wait_final(k2.json["execution_id"], timeout=20)
        self.api.wait_final(plain, timeout=20)
        with open(os.path.join(marks, str(eid))) as f:
            self.assertEqual(f.read(), "x\n", "the keyed run ran more than once")
        self.assertEqual(self.api.execution(eid).get("idempotency_key"), "k-1")


if __name__ == "__main__":
    harness.main()
