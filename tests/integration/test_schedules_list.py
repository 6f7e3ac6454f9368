"""GET /api/v1/schedules?next=N&runs=N (docs/schedules.md "REST API"): the
list with each schedule's next fire times and latest runs, as
GET /api/v1/schedules/{name} shows them, in one request (the console's
schedules page); without them the list is as before; bad values are 400."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class SchedulesList(harness.PagodaTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dev = cls.start("dev", ["--slots", "4"])
        cls.api = cls.dev.api()
        cls.api.shell_job("tick", "echo tick")

    def create(self, body):
        r = self.api.post("/api/v1/schedules", body)
        self.assertEqual(r.status, 201, r)

    def test_list_with_next_and_runs(self):
        self.create({"name": "list-cron", "job": "tick", "cron": "30 2 * * *", "timezone": "Europe/Berlin"})
        self.create({"name": "list-every", "job": "tick", "every": "1s"})

        def fired_twice():
            v = self.api.get("/api/v1/schedules/list-every?runs=5").json
            return len(v["runs"]) >= 2 and all(r.get("execution_state") == "succeeded" for r in v["runs"])
        harness.wait_until(fired_twice, timeout=60, what="two finished runs of list-every")
        r = self.api.post("/api/v1/schedules/list-every/pause")
        self.assertEqual(r.status, 200, r)

        def runs_settled():
            v = self.api.get("/api/v1/schedules/list-every?runs=20").json
            return not v["running"] and all(r.get("execution_state") in ("succeeded", "failed") for r in v["runs"])
        harness.wait_until(runs_settled, timeout=60, what="list-every's runs to end")

        plain = self.api.get("/api/v1/schedules")
        self.assertEqual(plain.status, 200, plain)
        for v in plain.json["schedules"]:
            self.assertNotIn("next", v)
            self.assertNotIn("runs", v)

        listed = self.api.get("/api/v1/schedules?next=3&runs=2")
        self.assertEqual(listed.status, 200, listed)
        by_name = {v["name"]: v for v in listed.json["schedules"]}
        self.assertEqual(sorted(by_name), ["list-cron", "list-every"])
        for name, v in by_name.items():
            one = self.api.get("/api/v1/schedules/%s?next=3&runs=2" % name).json
            self.assertEqual(v["next"], one["next"], name)
            self.assertEqual(v["next_us"], one["next_us"], name)
            self.assertEqual([r["fire_us"] for r in v["runs"]], [r["fire_us"] for r in one["runs"]], name)
            self.assertEqual(v["enabled"], one["enabled"], name)
        self.assertEqual(len(by_name["list-cron"]["next"]), 3)
        self.assertEqual(by_name["list-cron"]["runs"], [])
        self.assertEqual(len(by_name["list-every"]["runs"]), 2)
        for run in by_name["list-every"]["runs"]:
            self.assertEqual(run["execution_state"], "succeeded")
        self.assertFalse(by_name["list-every"]["enabled"])

        only_next = self.api.get("/api/v1/schedules?next=1").json["schedules"]
        self.assertTrue(all("runs" not in v and "next" in v for v in only_next))
        no_runs = self.api.get("/api/v1/schedules?runs=0").json["schedules"]
        self.assertTrue(all(v["runs"] == [] and "next" not in v for v in no_runs))

    def test_bad_values(self):
        for q, key, top in (("next=101", "next", 100), ("runs=21", "runs", 20), ("next=x", "next", 100),
                            ("runs=-1", "runs", 20)):
            r = self.api.get("/api/v1/schedules?" + q)
            self.assertEqual(r.status, 400, (q, r))
            self.assertEqual(r.json["error"], "%s must be an integer from 0 to %d" % (key, top), q)


if __name__ == "__main__":
    harness.main()
