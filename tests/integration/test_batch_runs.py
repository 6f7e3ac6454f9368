"""Batch runs (issue 17, item 2): POST /api/v1/runs submits many runs in one
request, all checked before any is submitted and answered once their first
records are durable; each run may carry params, an idempotency key and a
run index (PAGODA_RUN_INDEX in the job's environment). The CLI's
`job run NAME --count N` and `--params-file FILE` use it."""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class BatchRuns(harness.PagodaTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dev = cls.start("dev", ["--slots", "4"])
        cls.api = cls.dev.api()
        cls.marks = os.path.join(cls.tmp, "marks")
        os.makedirs(cls.marks)
        # Each run writes "<run index>|<param x>" to a file named by its id.
        cls.api.create_job({"name": "arr", "type": "shell", "params": {
            "script": 'printf "%s|%s" "${PAGODA_RUN_INDEX-none}" "$X" > ' + cls.marks +
                      '/$PAGODA_EXECUTION_ID', "env": {"X": "default"}}})
        cls.api.shell_job("other", "true")

    def mark(self, eid):
        self.assertEqual(self.api.wait_final(eid, timeout=60)["state"], "succeeded")
        with open(os.path.join(self.marks, str(eid))) as f:
            return f.read()

    def count(self, job):
        return len(self.api.executions(job=job, limit=10000))

    def cli(self, *args, input=None):
        env = dict(os.environ)
        env["PAGODA_ADDR"] = self.dev.url
        env.pop("PAGODA_CONFIG", None)
        p = subprocess.run([harness.pagoda_bin()] + list(args), env=env, capture_output=True,
                           timeout=120, input=input, cwd=self.tmp)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def test_batch_answer_order_params_index_and_replay(self):
        runs = [{"job": "arr", "run_index": 7},
                {"job": "arr", "params": {"env": {"X": "second"}}},
                {"job": "other", "idempotency_key": "batch-key-1"}]
        r = self.api.post("/api/v1/runs", {"runs": runs})
        self.assertEqual(r.status, 201, r.text)
        ex = r.json["executions"]
        self.assertEqual(len(ex), 3)
        ids = [e["execution_id"] for e in ex]
        self.assertEqual(len(set(ids)), 3)
        self.assertEqual(ids, sorted(ids), "ids are given in the order of the runs")
        self.assertNotIn("replayed", ex[0])
        self.assertIs(ex[2]["replayed"], False)
        for e in ex:
            self.assertIn(e["state"], ("pending", "dispatched"))
        self.assertEqual(self.mark(ids[0]), "7|default")
        self.assertEqual(self.mark(ids[1]), "none|second")
        self.assertEqual(self.api.execution(ids[0])["run_index"], 7)
        self.assertNotIn("run_index", self.api.execution(ids[1]))
        self.assertEqual(self.api.wait_final(ids[2], timeout=60)["job"], "other")
        # The same key again: the first run, nothing new submitted.
        before = self.count("other")
        again = self.api.post("/api/v1/runs", {"runs": [{"job": "other",
                                                          "idempotency_key": "batch-key-1"}]})
        self.assertEqual(again.status, 201, again.text)
        self.assertEqual(again.json["executions"][0]["execution_id"], ids[2])
        self.assertIs(again.json["executions"][0]["replayed"], True)
        self.assertEqual(self.count("other"), before)
        # The key for other params: refused like a keyed single run.
        clash = self.api.post("/api/v1/runs", {"runs": [{"job": "other", "params": {"a": 1},
                                                          "idempotency_key": "batch-key-1"}]})
        self.assertEqual(clash.status, 422, clash.text)

    def test_a_bad_run_refuses_the_whole_batch(self):
        before = self.count("arr")
        cases = [
            ({"runs": [{"job": "arr"}, {"job": "nope"}]}, 404, 1),
            ({"runs": [{"job": "arr"}, {"job": "arr", "idempotency_key": "k"},
                       {"job": "arr", "idempotency_key": "k"}]}, 400, 2),
            ({"runs": [{"job": "arr"}, {"job": "arr", "idempotency_key": "bad key"}]}, 400, 1),
        ]
        for body, status, index in cases:
            r = self.api.post("/api/v1/runs", body)
            self.assertEqual(r.status, status, r.text)
            self.assertEqual(r.json["index"], index, r.text)
        # Refused by the body schema before any run is looked at.
        for body in ({"runs": []}, {"runs": {}}, {}, {"runs": [{"job": "arr", "param": {}}]},
                     {"runs": [{"job": "arr", "params": []}]},
                     {"runs": [{"job": "arr", "run_index": -1}]},
                     {"runs": [{"job": "arr", "run_index": 1.5}]},
                     {"runs": [{"job": "arr"}] * 10001}):
            r = self.api.post("/api/v1/runs", body)
            self.assertEqual(r.status, 400, "%s -> %s" % (str(body)[:80], r.text))
        self.assertEqual(self.count("arr"), before, "a refused batch submits nothing")

    def test_cli_count_and_params_file(self):
        rc, out, err = self.cli("job", "run", "arr", "--count", "5")
        self.assertEqual(rc, 0, err)
        ids = [int(x) for x in out.split()]
        self.assertEqual(len(ids), 5)
        self.assertEqual(sorted(self.mark(i) for i in ids), ["%d|default" % i for i in range(5)])

        path = os.path.join(self.tmp, "params.jsonl")
        with open(path, "w") as f:
            for x in ("a", "b", "c"):
                f.write(json.dumps({"env": {"X": x}}) + "\n")
            f.write("\n")  # blank lines are skipped
        rc, out, err = self.cli("job", "run", "arr", "--params-file", path, "--wait")
        self.assertEqual(rc, 0, err)
        ids = [int(x) for x in out.split() if x.isdigit()]
        self.assertEqual(len(ids), 3, out)
        self.assertEqual([self.mark(i) for i in ids], ["0|a", "1|b", "2|c"])

        with open(path, "a") as f:
            f.write("not json\n")
        before = self.count("arr")
        rc, out, err = self.cli("job", "run", "arr", "--params-file", path)
        self.assertEqual(rc, 1, out)
        self.assertIn("line 5", err)
        self.assertEqual(self.count("arr"), before)
        rc, out, err = self.cli("job", "run", "arr", "--params-file", path, "--count", "2")
        self.assertEqual(rc, 2, err)
        rc, out, err = self.cli("job", "run", "arr", "--count", "0")
        self.assertEqual(rc, 2, err)


if __name__ == "__main__":
    import unittest
    unittest.main(verbosity=2)
