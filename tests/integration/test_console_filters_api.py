"""The server-side filters the console's lists use (docs/api.md):
GET /api/v1/executions?since=T&until=T keeps the executions submitted at or
after `since` and before `until`, each given as microseconds since the epoch
or RFC 3339, combined with job, state, limit and before; anything else is a
400. GET /api/v1/jobs?q=TEXT keeps the jobs whose name or type contains
TEXT (ignoring case), combined with limit/after paging."""

import datetime
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def rfc3339(us, offset_hours=0):
    tz = datetime.timezone(datetime.timedelta(hours=offset_hours))
    t = datetime.datetime.fromtimestamp(us / 1e6, tz)
    return t.isoformat(timespec="microseconds")


class ExecutionsTimeFilter(harness.PagodaTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dev = cls.start("dev", ["--slots", "4"])
        cls.api = cls.dev.api()
        cls.api.shell_job("tf-a", "echo a")
        cls.api.shell_job("tf-b", "exit 3")
        # Five executions, alternating jobs, each submitted after the one
        # before ended and at least 2 ms later (distinct submitted times).
        cls.execs = []
        for i in range(5):
            if cls.execs:
                last = cls.execs[-1]["submitted_us"]
                harness.wait_until(lambda: time.time() * 1e6 > last + 2000, timeout=5,
                                   what="the clock to move on")
            eid = cls.api.run("tf-a" if i % 2 == 0 else "tf-b")
            cls.execs.append(cls.api.wait_final(eid, timeout=30))

    def ids(self, query):
        r = self.api.get("/api/v1/executions?" + query)
        self.assertEqual(r.status, 200, r)
        return [e["id"] for e in r.json["executions"]]

    def expect(self, pred):
        """The ids (newest first) of our executions for which pred holds."""
        return [e["id"] for e in reversed(self.execs) if pred(e)]

    def test_since_and_until_in_microseconds(self):
        t = [e["submitted_us"] for e in self.execs]
        self.assertEqual(self.ids("since=%d" % t[2]), self.expect(lambda e: e["submitted_us"] >= t[2]))
        self.assertEqual(self.ids("until=%d" % t[2]), self.expect(lambda e: e["submitted_us"] < t[2]))
        self.assertEqual(self.ids("since=%d&until=%d" % (t[1], t[4])),
                         self.expect(lambda e: t[1] <= e["submitted_us"] < t[4]))
        # since is inclusive, until exclusive: one microsecond either way
        self.assertEqual(self.ids("since=%d&until=%d" % (t[3], t[3] + 1)), [self.execs[3]["id"]])
        self.assertEqual(self.ids("since=%d&until=%d" % (t[3] + 1, t[4])), [])
        # nothing before the first; everything before a time in the future
        self.assertEqual(self.ids("until=%d" % t[0]), [])
        future = int(time.time() * 1e6) + 3600 * 10**6
        self.assertEqual(self.ids("until=%d" % future), self.expect(lambda e: True))
        self.assertEqual(self.ids("since=%d" % future), [])

    def test_rfc3339(self):
        t = [e["submitted_us"] for e in self.execs]
        z = rfc3339(t[2]).replace("+00:00", "Z")
        self.assertEqual(self.ids("since=" + urllib.parse.quote(z)),
                         self.expect(lambda e: e["submitted_us"] >= t[2]))
        plus_two = urllib.parse.quote(rfc3339(t[2], 2))
        self.assertEqual(self.ids("until=" + plus_two), self.expect(lambda e: e["submitted_us"] < t[2]))
        # the submitted_at the API shows (ms) is a valid bound, too
        at = urllib.parse.quote(self.execs[1]["submitted_at"])
        self.assertEqual(self.ids("since=%s&until=%d" % (at, t[2])), [self.execs[1]["id"]])

    def test_with_job_state_limit_and_before(self):
        t = [e["submitted_us"] for e in self.execs]
        self.assertEqual(self.ids("job=tf-a&since=%d" % t[1]),
                         self.expect(lambda e: e["job"] == "tf-a" and e["submitted_us"] >= t[1]))
        self.assertEqual(self.ids("state=failed&until=%d" % t[4]),
                         self.expect(lambda e: e["state"] == "failed" and e["submitted_us"] < t[4]))
        want = self.expect(lambda e: t[0] <= e["submitted_us"] < t[4])
        page1 = self.ids("since=%d&until=%d&limit=2" % (t[0], t[4]))
        self.assertEqual(page1, want[:2])
        page2 = self.ids("since=%d&until=%d&limit=2&before=%d" % (t[0], t[4], page1[-1]))
        self.assertEqual(page2, want[2:4])
        # before and until together: the tighter bound wins
        self.assertEqual(self.ids("until=%d&before=%d" % (t[4], self.execs[2]["id"])),
                         self.expect(lambda e: e["id"] < self.execs[2]["id"]))

    def test_jobs_search(self):
        for name, typ in (("Search-ETL-1", "shell"), ("search-etl-2", "shell"), ("other-x", "lua"),
                          ("search-etl-3", "shell")):
            body = {"name": name, "type": typ,
                    "params": {"script": "echo" if typ == "shell" else "return 1"}}
            self.api.create_job(body)

        def names(query):
            r = self.api.get("/api/v1/jobs?" + query)
            self.assertEqual(r.status, 200, r)
            return [j["name"] for j in r.json["jobs"]], r.json.get("next_after")
        everything = names("")[0]
        self.assertEqual(names("q=etl")[0], [n for n in everything if "etl" in n.lower()])
        self.assertEqual(len(names("q=etl")[0]), 3)
        self.assertEqual(names("q=LUA")[0], ["other-x"])  # by type, any case
        self.assertEqual(names("q=")[0], everything)
        self.assertEqual(names("q=no-such-thing")[0], [])
        page1, nxt = names("q=search&limit=2")
        self.assertEqual(page1, ["Search-ETL-1", "search-etl-2"])
        self.assertEqual(nxt, "search-etl-2")
        page2, nxt = names("q=search&limit=2&after=" + nxt)
        self.assertEqual((page2, nxt), (["search-etl-3"], None))
        r = self.api.get("/api/v1/jobs?q=" + "x" * 201)
        self.assertEqual(r.status, 400, r)

    def test_bad_times_are_400(self):
        for q in ("since=yesterday", "until=2026-13-45T00:00:00Z", "since=-5", "until=",
                  "since=12abc", "until=2026-11-22T10:00:00Zjunk"):
            r = self.api.get("/api/v1/executions?" + q)
            self.assertEqual(r.status, 400, q)
            self.assertIn("must be a time", r.json["error"], q)


if __name__ == "__main__":
    harness.main()
