"""Schedules on `pagoda dev` (docs/schedules.md): firing with short
intervals (every, 6-field cron, at, delay), the scheduled time in the
execution and its environment, bad input, next fire times, pause/resume,
delete, the CLI, and the concurrency policies forbid and replace.
Misfires and restarts are in test_schedules_restart.py."""

import datetime
import os
import subprocess
import sys
import time
import zoneinfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def iso(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Schedules(harness.PagodaTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dev = cls.start("dev", ["--kill-grace-ms", "300", "--slots", "8"])
        cls.api = cls.dev.api()
        cls.api.shell_job("tick", 'echo "at=$PAGODA_SCHEDULED_TIME sched=$PAGODA_SCHEDULE"')
        cls.api.shell_job("slow", "sleep 2.5")
        cls.api.shell_job("long", "sleep 30")
        cls.api.shell_job("half", "sleep 0.5")

    # ------------------------------------------------------------ helpers

    def create(self, body, expect=(201,)):
        r = self.api.post("/api/v1/schedules", body)
        self.assertIn(r.status, expect, r)
        return r.json

    def execs_of(self, name, job):
        return [e for e in self.api.executions(job=job, limit=1000) if e.get("schedule") == name]

    def delete(self, name):
        r = self.api.delete("/api/v1/schedules/" + name)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, {"deleted": name})

    # ------------------------------------------------------------ firing

    def test_every_fires_each_second_with_scheduled_time(self):
        s = self.create({"name": "every1", "job": "tick", "every": "1s"})
        self.assertEqual(s["name"], "every1")
        self.assertTrue(s["enabled"])
        self.assertIsNotNone(s["next_fire_us"])
        self.assertEqual(s["next_fire_us"] % 1000000, 0)
        time.sleep(4.4)
        self.delete("every1")
        runs = self.execs_of("every1", "tick")
        self.assertTrue(3 <= len(runs) <= 5, [r["scheduled_for"] for r in runs])
        times = sorted(r["scheduled_for_us"] for r in runs)
        self.assertEqual(len(set(times)), len(times), "a fire time ran twice")
        for a, b in zip(times, times[1:]):
            self.assertEqual(b - a, 1000000, times)
        for r in runs:
            self.assertEqual(r["trigger"], "schedule")
            self.assertEqual(r["scheduled_for_us"] % 1000000, 0)
            self.assertEqual(r["scheduled_for"], iso(r["scheduled_for_us"] / 1e6))
            # fired within a few milliseconds of its time (the master's own clock)
            self.assertLess(r["submitted_us"] - r["scheduled_for_us"], 200000, r)
            self.assertGreaterEqual(r["submitted_us"], r["scheduled_for_us"])
        e = self.api.wait_final(runs[0]["id"])
        self.assertEqual(e["state"], "succeeded", e)
        self.assertIn("at=%s sched=every1\n" % runs[0]["scheduled_for"], self.api.log(runs[0]["id"]))
        time.sleep(1.2)
        self.assertEqual(len(self.execs_of("every1", "tick")), len(runs), "fired after delete")

    def test_cron_with_seconds(self):
        self.create({"name": "cron6", "job": "tick", "cron": "*/1 * * * * *"})
        time.sleep(3.3)
        self.delete("cron6")
        runs = self.execs_of("cron6", "tick")
        self.assertTrue(2 <= len(runs) <= 4, len(runs))
        self.assertEqual(len({r["scheduled_for_us"] for r in runs}), len(runs))

    def test_at_fires_once(self):
        at = iso(time.time() + 1.5)
        s = self.create({"name": "once", "job": "tick", "at": at})
        self.assertEqual(s["next_fire_at"], at)
        time.sleep(3.0)
        runs = self.execs_of("once", "tick")
        self.assertEqual(len(runs), 1, runs)
        self.assertEqual(runs[0]["scheduled_for"], at)
        g = self.api.ok("GET", "/api/v1/schedules/once", expect=(200,))
        self.assertIsNone(g["next_fire_us"])
        self.assertEqual(g["last_fired_at"], at)
        self.assertEqual(g["last_execution_id"], runs[0]["id"])
        self.assertEqual(len(g["runs"]), 1)
        self.assertEqual(g["runs"][0]["state"], "started")
        self.assertEqual(g["runs"][0]["execution_id"], runs[0]["id"])
        self.delete("once")

    def test_delay_never_overlaps(self):
        self.create({"name": "delay1", "job": "half", "delay": "1s"})
        time.sleep(4.5)
        self.delete("delay1")
        runs = sorted(self.execs_of("delay1", "half"), key=lambda r: r["id"])
        self.assertTrue(2 <= len(runs) <= 4, len(runs))
        done = [self.api.wait_final(r["id"]) for r in runs]
        for a, b in zip(done, done[1:]):
            # the next run starts a delay after the previous one ended
            self.assertGreaterEqual(b["scheduled_for_us"], a["finished_us"] + 1000000 - 1000)
            self.assertGreaterEqual(b["submitted_us"], a["finished_us"] + 900000)

    # ------------------------------------------------------------ bad input

    def test_bad_input_names_the_wrong_part(self):
        cases = [
            ({"cron": "0 0 30 2 *"}, 'cron "0 0 30 2 *" never fires'),
            ({"cron": "0 0 32 * *"}, "cron field 3 (day of month): 32 is out of range 1-31"),
            ({"cron": "61 * * * *"}, "cron field 1 (minute)"),
            ({"cron": "* * * *"}, "has 4 fields"),
            ({"every": "1m", "timezone": "Mars/Base"}, 'unknown time zone "Mars/Base"'),
            ({"every": "0s"}, 'every "0s" must be greater than zero'),
            ({"delay": "soon"}, 'delay "soon" is not a duration'),
            ({"at": "2020-01-01T00:00:00Z"}, 'at "2020-01-01T00:00:00Z" is in the past'),
            ({"cron": "* * * * *", "every": "1m"}, 'only one of "cron", "every", "delay" or "at"'),
            ({"every": "1m", "misfire": "later"}, 'misfire "later" is not one of skip, run_once, run_all'),
            ({"every": "1m", "concurrency": "queue"}, 'concurrency "queue" is not one of allow, forbid, replace'),
            ({"every": "1m", "start": "2030-01-02T00:00:00Z", "end": "2030-01-01T00:00:00Z"},
             'end "2030-01-01T00:00:00Z" is before start'),
            ({}, 'needs one of "cron", "every", "delay" or "at"'),
        ]
        for extra, msg in cases:
            body = {"name": "bad", "job": "tick"}
            body.update(extra)
            r = self.api.post("/api/v1/schedules", body)
            self.assertEqual(r.status, 400, (extra, r))
            self.assertIn(msg, r.json["error"], extra)
        r = self.api.post("/api/v1/schedules", {"name": "bad", "job": "nope", "every": "1m"})
        self.assertEqual(r.status, 404, r)
        self.assertIn("job 'nope' not found", r.json["error"])
        r = self.api.post("/api/v1/schedules", {"name": "b a d", "job": "tick", "every": "1m"})
        self.assertEqual(r.status, 400, r)
        self.assertIn("name", r.json["error"])
        r = self.api.post("/api/v1/schedules", {"name": "bad", "every": "1m"})
        self.assertEqual(r.status, 400, r)
        self.assertIn("target", r.json["error"])
        self.assertEqual(self.api.get("/api/v1/schedules/bad").status, 404)
        self.assertEqual(self.api.post("/api/v1/schedules", raw=b"{nope").status, 400)

    # ------------------------------------------------------------ next fire times

    def test_next_fire_times_in_a_zone(self):
        s = self.create({"name": "ny-monday", "job": "tick", "cron": "30 9 * * MON",
                         "timezone": "America/New_York", "misfire": "run_once"})
        self.assertEqual(s["timezone"], "America/New_York")
        g = self.api.ok("GET", "/api/v1/schedules/ny-monday?next=5", expect=(200,))
        tz = zoneinfo.ZoneInfo("America/New_York")
        now = datetime.datetime.now(tz)
        want = []
        d = now.date()
        while len(want) < 5:
            if d.weekday() == 0:
                t = datetime.datetime(d.year, d.month, d.day, 9, 30, tzinfo=tz)
                if t > now:
                    want.append(iso(t.timestamp()))
            d += datetime.timedelta(days=1)
        self.assertEqual(g["next"], want)
        self.assertEqual(g["next_fire_at"], want[0])
        self.assertEqual(len(g["next_us"]), 5)
        self.assertEqual(self.api.get("/api/v1/schedules/ny-monday?next=1000").status, 400)
        # replace by name -> 200
        r = self.api.post("/api/v1/schedules", {"name": "ny-monday", "job": "tick", "cron": "0 12 * * *"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["cron"], "0 12 * * *")
        names = [x["name"] for x in self.api.ok("GET", "/api/v1/schedules", expect=(200,))["schedules"]]
        self.assertIn("ny-monday", names)
        self.assertEqual(names, sorted(names))
        self.delete("ny-monday")
        self.assertEqual(self.api.get("/api/v1/schedules/ny-monday").status, 404)
        self.assertEqual(self.api.delete("/api/v1/schedules/ny-monday").status, 404)

    # ------------------------------------------------------------ pause / resume

    def test_pause_and_resume(self):
        self.create({"name": "pr", "job": "tick", "every": "1s"})
        time.sleep(1.5)
        p = self.api.ok("POST", "/api/v1/schedules/pr/pause", expect=(200,))
        self.assertFalse(p["enabled"])
        self.assertIsNone(p["next_fire_us"])
        n = len(self.execs_of("pr", "tick"))
        self.assertGreaterEqual(n, 1)
        time.sleep(2.5)
        self.assertEqual(len(self.execs_of("pr", "tick")), n, "fired while paused")
        r = self.api.ok("POST", "/api/v1/schedules/pr/resume", expect=(200,))
        self.assertTrue(r["enabled"])
        time.sleep(2.2)
        self.delete("pr")
        self.assertGreater(len(self.execs_of("pr", "tick")), n + 1)

    def test_run_now(self):
        self.create({"name": "manual", "job": "tick", "cron": "0 0 1 1 *"})
        r = self.api.ok("POST", "/api/v1/schedules/manual/run", expect=(201,))
        e = self.api.wait_final(r["execution_id"])
        self.assertEqual(e["trigger"], "manual")
        self.assertEqual(e["schedule"], "manual")
        self.delete("manual")

    # ------------------------------------------------------------ concurrency

    def test_concurrency_forbid_skips_and_records(self):
        self.create({"name": "forbid", "job": "slow", "every": "1s", "concurrency": "forbid"})
        time.sleep(4.6)
        g = self.api.ok("GET", "/api/v1/schedules/forbid?runs=50", expect=(200,))
        self.delete("forbid")
        runs = g["runs"]
        skipped = [r for r in runs if r["state"] == "skipped"]
        started = [r for r in runs if r["state"] == "started"]
        self.assertGreaterEqual(len(skipped), 2, runs)
        self.assertGreaterEqual(len(started), 1, runs)
        for r in skipped:
            self.assertIn("still running (concurrency: forbid)", r["reason"])
        execs = [self.api.wait_final(e["id"], timeout=10) for e in self.execs_of("forbid", "slow")]
        self.assertEqual(len(execs), len(started))
        spans = sorted((e["started_us"], e["finished_us"]) for e in execs)
        for a, b in zip(spans, spans[1:]):
            self.assertGreaterEqual(b[0], a[1], "two runs overlapped under forbid")

    def test_concurrency_replace_kills_the_running_one(self):
        self.create({"name": "replace", "job": "long", "every": "2s", "concurrency": "replace"})
        harness.wait_until(lambda: len(self.execs_of("replace", "long")) >= 2, timeout=8,
                           what="two fires")
        g = self.api.ok("GET", "/api/v1/schedules/replace?runs=10", expect=(200,))
        self.delete("replace")
        execs = sorted(self.execs_of("replace", "long"), key=lambda e: e["id"])
        first = self.api.wait_final(execs[0]["id"], timeout=10)
        self.assertEqual(first["state"], "killed", first)
        replaced = [r for r in g["runs"] if r.get("replaced")]
        self.assertTrue(any(execs[0]["id"] in r["replaced"] for r in replaced), g["runs"])
        for e in execs[1:]:
            self.api.ok("POST", "/api/v1/executions/%d/kill" % e["id"], expect=(202, 409))

    # ------------------------------------------------------------ CLI

    def test_cli(self):
        path = os.path.join(self.tmp, "sched.json")
        with open(path, "w") as f:
            f.write('{"name": "cli-s", "job": "tick", "cron": "0 6 * * *", "timezone": "Asia/Kolkata"}')

        def cli(*args):
            p = subprocess.run([harness.pagoda_bin(), "--addr", self.dev.url] + list(args),
                               capture_output=True, text=True, timeout=20)
            return p.returncode, p.stdout, p.stderr

        rc, out, err = cli("schedule", "create", path)
        self.assertEqual(rc, 0, err)
        self.assertIn("schedule cli-s created", out)
        rc, out, err = cli("schedule", "list")
        self.assertEqual(rc, 0, err)
        self.assertIn("NAME", out)
        self.assertIn("cli-s", out)
        self.assertIn("0 6 * * *", out)
        rc, out, err = cli("schedule", "next", "cli-s", "--count", "3")
        self.assertEqual(rc, 0, err)
        lines = out.split()
        self.assertEqual(len(lines), 3, out)
        for ln in lines:  # 06:00 in Kolkata is 00:30 UTC
            self.assertTrue(ln.endswith("T00:30:00.000Z"), out)
        rc, out, err = cli("schedule", "pause", "cli-s")
        self.assertEqual((rc, out.strip()), (0, "schedule cli-s paused"), err)
        rc, out, err = cli("schedule", "show", "cli-s")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r'"enabled":\s*false')
        rc, out, err = cli("schedule", "resume", "cli-s")
        self.assertEqual((rc, out.strip()), (0, "schedule cli-s resumed"), err)
        rc, out, err = cli("schedule", "delete", "cli-s")
        self.assertEqual((rc, out.strip()), (0, "schedule cli-s deleted"), err)
        rc, out, err = cli("schedule", "show", "cli-s")
        self.assertEqual(rc, 1)
        self.assertIn("schedule 'cli-s' not found", err)
        rc, out, err = cli("schedule", "next", "x", "--count", "zero")
        self.assertEqual(rc, 2)


if __name__ == "__main__":
    harness.main()
