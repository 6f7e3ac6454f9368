"""Alarms on `pagoda dev` (docs/alarms.md) against real receivers: a signed
webhook reaches a local HTTP server after a failure, again after the
receiver was down for 10 s; repeats of one cause are grouped; an e-mail
reaches an SMTP sink (aiosmtpd), plain and over STARTTLS with AUTH (a test
CA); acknowledging stops retries; a Lua alarm hook drops one alarm and
rewords another; an SLA miss and a schedule misfire raise alarms; the REST
list and `pagoda alarm list` show the delivery state."""

import datetime
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from alarm_receivers import SmtpSink, WebhookReceiver  # noqa: E402

SECRET = "s3cret-for-the-test"
SMTP_PASSWORD = "smtp-pass-for-the-test"
HOOK = r'''
function on_alarm(a)
  if a.job == "hooked-drop" then return false end
  if a.job == "hooked-reword" then
    return {subject = "REWORDED " .. a.subject, text = "reworded by the hook"}
  end
  return nil
end
'''


def config_text(tmp, webhook_url, smtp_url, secure_url, ca):
    return """
master: {
  alarms: {
    backoff_initial = "1s";
    backoff_max = "2s";
    group_window = "10m";
    hooks_dir = "%(hooks)s";
    channels = (
      { name = "hook"; type = "webhook"; url = "%(webhook)s"; secret_file = "%(secret)s"; timeout = "3s"; },
      { name = "mail"; type = "email"; url = "%(smtp)s"; from = "pagoda@example.com"; to = ["ops@example.com"]; },
      { name = "secure-mail"; type = "email"; url = "%(secure)s"; starttls = true; ca_file = "%(ca)s";
        username = "pagoda"; password_file = "%(password)s";
        from = "pagoda@example.com"; to = ["oncall@example.com"]; },
      { name = "tls-required"; type = "email"; url = "%(smtp)s"; starttls = true;
        from = "pagoda@example.com"; to = ["ops@example.com"]; }
    );
    rules = (
      { on = ["failed", "timed_out", "lost"]; job = "fail-*"; channels = ["hook"]; },
      { on = ["failed"]; job = "hooked-*"; channels = ["hook"]; },
      { on = ["failed"]; job = "mailme"; channels = ["mail"]; },
      { on = ["failed"]; job = "securemail"; channels = ["secure-mail"]; },
      { on = ["failed"]; job = "needtls"; channels = ["tls-required"]; }
    );
  };
};
""" % {"hooks": os.path.join(tmp, "alarm-hooks"), "webhook": webhook_url,
       "secret": os.path.join(tmp, "hook.secret"), "smtp": smtp_url, "secure": secure_url,
       "ca": ca, "password": os.path.join(tmp, "smtp.password")}


class Alarms(harness.PagodaTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.receiver = WebhookReceiver(secret=SECRET).start()
        cls.smtp = SmtpSink().start()
        certs = os.path.join(cls.tmp, "certs")
        os.makedirs(certs)
        ca, cert, key = harness.make_test_ca(certs)
        cls.secure_smtp = SmtpSink(tls=(cert, key), login=("pagoda", SMTP_PASSWORD)).start()
        with open(os.path.join(cls.tmp, "smtp.password"), "w") as f:
            f.write(SMTP_PASSWORD + "\n")
        os.chmod(os.path.join(cls.tmp, "smtp.password"), 0o600)
        os.makedirs(os.path.join(cls.tmp, "alarm-hooks"))
        with open(os.path.join(cls.tmp, "alarm-hooks", "route.lua"), "w") as f:
            f.write(HOOK)
        secret_path = os.path.join(cls.tmp, "hook.secret")
        with open(secret_path, "w") as f:
            f.write(SECRET + "\n")
        os.chmod(secret_path, 0o600)
        conf = os.path.join(cls.tmp, "pagoda.conf")
        with open(conf, "w") as f:
            f.write(config_text(cls.tmp, cls.receiver.url, cls.smtp.url,
                                "smtp://localhost:%d" % cls.secure_smtp.port, ca))
        cls.dev = cls.start("dev", ["--config", conf, "--slots", "8"])
        cls.api = cls.dev.api()
        for name in ("fail-once", "fail-down", "fail-group", "mailme", "hooked-drop",
                     "hooked-reword", "fail-acked", "fail-probe", "fail-metrics", "securemail", "needtls", "hooked-late"):
            cls.api.shell_job(name, "echo failing; exit 3")

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.receiver.stop()
            cls.smtp.stop()
            cls.secure_smtp.stop()

    # ------------------------------------------------------------ helpers

    def alarms(self, **q):
        qs = "&".join("%s=%s" % kv for kv in q.items())
        return self.api.ok("GET", "/api/v1/alarms" + ("?" + qs if qs else ""))["alarms"]

    def alarm_of(self, exec_id, event="failed"):
        def find():
            for a in self.alarms(limit=1000):
                if a.get("execution_id") == exec_id and a["event"] == event:
                    return a
            return None
        return harness.wait_until(find, timeout=30, what="alarm of execution %d" % exec_id)

    def fail(self, job):
        exec_id = self.api.run(job)
        self.api.wait_final(exec_id, timeout=30)
        return exec_id

    def posts_for(self, exec_id):
        return self.receiver.matching(lambda j: j.get("execution_id") == exec_id)

    # ------------------------------------------------------------ tests

    def test_signed_webhook_after_a_failure(self):
        t0 = time.time()
        exec_id = self.fail("fail-once")
        posts = harness.wait_until(lambda: self.posts_for(exec_id), timeout=30,
                                   what="the webhook of execution %d" % exec_id)
        p = posts[0]
        self.assertTrue(p["signature_ok"], "HMAC signature does not verify: %r" % p["headers"])
        self.assertEqual(p["headers"]["content-type"], "application/json")
        self.assertEqual(p["json"]["event"], "failed")
        self.assertEqual(p["json"]["job"], "fail-once")
        self.assertEqual(p["headers"]["x-pagoda-alarm-id"], str(p["json"]["id"]))
        self.assertIn("fail-once", p["json"]["subject"])
        self.assertGreaterEqual(p["received"], t0)
        # the stored alarm says it was delivered, and the secret is nowhere in the API
        a = harness.wait_until(lambda: [x for x in self.alarms(state="delivered")
                                        if x.get("execution_id") == exec_id],
                               timeout=30, what="alarm delivered")[0]
        self.assertEqual(a["deliveries"]["hook"]["state"], "sent")
        self.assertEqual(a["deliveries"]["hook"]["attempts"], 1)
        r = self.api.get("/api/v1/alarms?limit=1000")
        self.assertNotIn(SECRET, r.text)
        # the CLI lists it
        env = dict(os.environ, PAGODA_ADDR=self.dev.url)
        env.pop("PAGODA_CONFIG", None)
        out = subprocess.run([harness.pagoda_bin(), "alarm", "list", "--state", "delivered"],
                             env=env, capture_output=True, timeout=30, cwd=self.tmp)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("hook:sent", out.stdout.decode())
        self.assertIn(str(a["id"]), out.stdout.decode())
        with open(self.dev.stderr_path, encoding="utf-8", errors="replace") as f:
            self.assertNotIn(SECRET, f.read())

    def test_alarm_counters_in_metrics(self):
        """The alarm counters reach /metrics (docs/observability.md "Alarms")."""
        def sample(text, name, channel):
            for line in text.splitlines():
                if line.startswith('%s{channel="%s"} ' % (name, channel)):
                    return float(line.split()[-1])
            return None
        before = self.api.get("/metrics").text
        sent0 = sample(before, "pagoda_alarm_deliveries_total", "hook")
        self.assertIsNotNone(sent0, "no pagoda_alarm_deliveries_total{channel=\"hook\"}")
        self.assertIn("# TYPE pagoda_alarms_raised_total counter", before)
        self.assertIn("# TYPE pagoda_alarms_pending gauge", before)
        exec_id = self.fail("fail-metrics")
        harness.wait_until(lambda: self.posts_for(exec_id), timeout=30,
                           what="the webhook of execution %d" % exec_id)
        after = harness.wait_until(
            lambda: (lambda t: t if sample(t, "pagoda_alarm_deliveries_total", "hook") > sent0
                     else None)(self.api.get("/metrics").text),
            timeout=30, what="pagoda_alarm_deliveries_total to grow")
        raised = [l for l in after.splitlines() if l.startswith("pagoda_alarms_raised_total ")]
        self.assertTrue(raised and float(raised[0].split()[-1]) >= 1, raised)

    def test_webhook_retried_after_the_receiver_was_down(self):
        self.receiver.stop()
        down_since = time.monotonic()
        try:
            exec_id = self.fail("fail-down")
            a = self.alarm_of(exec_id)
            # failed attempts are recorded while the receiver is down
            harness.wait_until(
                lambda: [x for x in self.alarms(state="pending") if x["id"] == a["id"]
                         and x["deliveries"]["hook"]["attempts"] >= 2
                         and time.monotonic() - down_since >= 10],
                timeout=60, what="two failed attempts and 10 s of outage")
            self.assertEqual(self.posts_for(exec_id), [])
        finally:
            self.receiver.start()
        posts = harness.wait_until(lambda: self.posts_for(exec_id), timeout=30,
                                   what="the webhook after the outage")
        self.assertTrue(posts[0]["signature_ok"])
        done = harness.wait_until(lambda: [x for x in self.alarms(state="delivered")
                                           if x["id"] == a["id"]], timeout=30,
                                  what="delivered after the outage")[0]
        self.assertGreaterEqual(done["deliveries"]["hook"]["attempts"], 3)

    def test_repeats_are_grouped(self):
        ids = [self.fail("fail-group") for _ in range(5)]
        first = self.alarm_of(ids[0])
        grouped = harness.wait_until(
            lambda: [x for x in self.alarms(limit=1000) if x["id"] == first["id"]
                     and x["count"] == 5], timeout=30, what="a count of 5 on one alarm")
        self.assertEqual(grouped[0]["job"], "fail-group")
        harness.wait_until(lambda: self.receiver.matching(lambda j: j.get("job") == "fail-group"),
                           timeout=30, what="the group's webhook")
        others = [x for x in self.alarms(limit=1000) if x.get("job") == "fail-group"]
        self.assertEqual(len(others), 1, others)
        self.assertEqual(len(self.receiver.matching(lambda j: j.get("job") == "fail-group")), 1)

    def test_email_reaches_the_smtp_sink(self):
        exec_id = self.fail("mailme")
        msg = harness.wait_until(lambda: [m for m in self.smtp.messages
                                          if b"mailme" in m[2]], timeout=30,
                                 what="the e-mail of execution %d" % exec_id)[0]
        mail_from, rcpt, content = msg
        self.assertEqual(mail_from, "pagoda@example.com")
        self.assertEqual(rcpt, ["ops@example.com"])
        self.assertIn(b"Subject: Pagoda: job mailme execution %d failed" % exec_id, content)
        self.assertIn(b"X-Pagoda-Alarm-Id:", content)
        harness.wait_until(lambda: [x for x in self.alarms(state="delivered")
                                    if x.get("execution_id") == exec_id
                                    and x["deliveries"]["mail"]["state"] == "sent"],
                           timeout=30, what="the mail delivery recorded")

    def test_email_with_starttls_and_auth(self):
        exec_id = self.fail("securemail")
        msg = harness.wait_until(lambda: [m for m in self.secure_smtp.messages
                                          if b"securemail" in m[2]], timeout=30,
                                 what="the e-mail over STARTTLS with AUTH")[0]
        self.assertEqual(msg[1], ["oncall@example.com"])
        self.assertIn("pagoda", self.secure_smtp.logins)
        self.assertIn(b"execution %d" % exec_id, msg[2])
        with open(self.dev.stderr_path, encoding="utf-8", errors="replace") as f:
            self.assertNotIn(SMTP_PASSWORD, f.read())

    def test_starttls_required_refuses_a_plain_server(self):
        exec_id = self.fail("needtls")
        a = self.alarm_of(exec_id)
        failed = harness.wait_until(
            lambda: [x for x in self.alarms(limit=1000) if x["id"] == a["id"]
                     and x["deliveries"]["tls-required"]["attempts"] >= 1], timeout=30,
            what="a failed attempt without STARTTLS")[0]
        self.assertEqual(failed["deliveries"]["tls-required"]["state"], "pending")
        self.assertTrue(failed["deliveries"]["tls-required"]["error"])
        self.assertEqual([m for m in self.smtp.messages if b"needtls" in m[2]], [])

    def test_lua_hook_drops_and_rewords(self):
        dropped = self.fail("hooked-drop")
        reworded = self.fail("hooked-reword")
        a = self.alarm_of(dropped)
        self.assertEqual(a["state"], "dropped")
        self.assertEqual(a["dropped_by"], "route.lua")
        posts = harness.wait_until(lambda: self.posts_for(reworded), timeout=30,
                                   what="the reworded webhook")
        self.assertTrue(posts[0]["json"]["subject"].startswith("REWORDED Pagoda: job hooked-reword"))
        self.assertEqual(posts[0]["json"]["text"], "reworded by the hook")
        self.assertEqual(self.posts_for(dropped), [])

    def test_sla_miss_raises_an_alarm(self):
        self.api.shell_job("sla-slow", "sleep 6")
        at = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=2))
        r = self.api.post("/api/v1/schedules", {
            "name": "sla-sched", "job": "sla-slow", "at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "alarms": [{"on": ["sla_missed"], "channels": ["hook"],
                        "sla": {"finish_within": "2s"}}]})
        self.assertEqual(r.status, 201, r)
        posts = harness.wait_until(
            lambda: self.receiver.matching(lambda j: j.get("event") == "sla_missed"
                                           and j.get("schedule") == "sla-sched"),
            timeout=40, what="the SLA alarm")
        self.assertIn("not finished", posts[0]["json"]["subject"])
        self.assertTrue(posts[0]["signature_ok"])

    def test_hooks_reload_on_sighup(self):
        with open(os.path.join(self.tmp, "alarm-hooks", "late.lua"), "w") as f:
            f.write('function on_alarm(a) if a.job == "hooked-late" then '
                    'return {subject = "LATE " .. a.subject} end end\n')
        os.kill(self.dev.proc.pid, signal.SIGHUP)

        def reloaded():
            with open(self.dev.stderr_path, encoding="utf-8", errors="replace") as f:
                return "alarm hooks reloaded: 2 hook(s)" in f.read()
        harness.wait_until(reloaded, timeout=30, what="the hooks reloaded")
        exec_id = self.fail("hooked-late")
        posts = harness.wait_until(lambda: self.posts_for(exec_id), timeout=30,
                                   what="the webhook reworded by the new hook")
        self.assertTrue(posts[0]["json"]["subject"].startswith("LATE Pagoda: job hooked-late"))

    def test_misfire_raises_an_alarm(self):
        self.api.shell_job("tick-job", "true")
        r = self.api.post("/api/v1/schedules", {
            "name": "misfiring", "job": "tick-job", "every": "1s", "misfire_grace": "1s",
            "alarms": [{"on": ["misfire"], "channels": ["hook"]}]})
        self.assertEqual(r.status, 201, r)
        self.api.ok("POST", "/api/v1/schedules/misfiring/pause")
        paused = time.monotonic()
        # fire times pass while it is paused; once they are older than the
        # grace, resuming finds them missed
        harness.wait_until(lambda: time.monotonic() - paused > 3.5, timeout=10,
                           what="fire times older than the grace")
        self.api.ok("POST", "/api/v1/schedules/misfiring/resume")
        posts = harness.wait_until(
            lambda: self.receiver.matching(lambda j: j.get("event") == "misfire"
                                           and j.get("schedule") == "misfiring"),
            timeout=30, what="the misfire alarm")
        self.assertIn("misfired", posts[0]["json"]["subject"])
        self.api.ok("POST", "/api/v1/schedules/misfiring/pause")

    def test_ack_stops_retries(self):
        # a receiver that answers 500: the alarm stays pending, retried
        bad = WebhookReceiver(secret=SECRET, port=self.receiver.port, status=500)
        self.receiver.stop()
        bad.start()
        try:
            exec_id = self.fail("fail-acked")
            a = self.alarm_of(exec_id)
            harness.wait_until(lambda: [x for x in self.alarms(state="pending") if x["id"] == a["id"]
                                        and x["deliveries"]["hook"]["attempts"] >= 1],
                               timeout=30, what="a failed attempt (HTTP 500)")
            self.assertTrue(bad.matching(lambda j: j.get("id") == a["id"]))
            self.assertIn("HTTP status 500", [x for x in self.alarms(limit=1000)
                                              if x["id"] == a["id"]][0]["deliveries"]["hook"]["error"])
            env = dict(os.environ, PAGODA_ADDR=self.dev.url)
            env.pop("PAGODA_CONFIG", None)
            out = subprocess.run([harness.pagoda_bin(), "alarm", "ack", str(a["id"])], env=env,
                                 capture_output=True, timeout=30, cwd=self.tmp)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("alarm %d acknowledged" % a["id"], out.stdout.decode())
            acked = [x for x in self.alarms(state="acked") if x["id"] == a["id"]]
            self.assertEqual(len(acked), 1)
            self.assertEqual(acked[0]["acked_by"], "admin")
            self.assertEqual(acked[0]["deliveries"]["hook"]["state"], "cancelled")
            # a second ack is refused; an unknown id is 404
            r = self.api.post("/api/v1/alarms/%d/ack" % a["id"])
            self.assertEqual(r.status, 409, r)
            r = self.api.post("/api/v1/alarms/999999/ack")
            self.assertEqual(r.status, 404, r)
            # no retry follows: while another alarm goes through three
            # attempts (two backoff periods), the acknowledged one gets none
            n = len(bad.matching(lambda j: j.get("id") == a["id"]))
            probe = self.alarm_of(self.fail("fail-probe"))
            harness.wait_until(lambda: len(bad.matching(lambda j: j.get("id") == probe["id"])) >= 3,
                               timeout=30, what="three attempts of another alarm")
            self.assertEqual(len(bad.matching(lambda j: j.get("id") == a["id"])), n)
        finally:
            bad.stop()
            self.receiver.start()

    def test_definitions_with_bad_rules_are_refused(self):
        cases = [
            ("/api/v1/jobs", {"name": "bad-rule-job", "type": "shell", "params": {"script": "true"},
                              "alarms": [{"on": ["exploded"]}]}, "unknown event 'exploded'"),
            ("/api/v1/jobs", {"name": "bad-rule-job", "type": "shell", "params": {"script": "true"},
                              "alarms": [{"on": ["failed"], "channels": ["pager"]}]},
             "unknown channel 'pager'"),
            ("/api/v1/schedules", {"name": "bad-rule-sched", "job": "fail-once", "every": "1h",
                                   "alarms": [{"on": ["misfire"], "sla": {"finish_by": "25:00"}}]},
             "finish_by"),
            ("/api/v1/flows", {"name": "bad-rule-flow", "nodes": [{"id": "a", "job": "fail-once"}],
                               "alarms": [{"on": ["failed"], "job": "x"}]},
             "'job' is for rules in the configuration"),
        ]
        for path, body, msg in cases:
            r = self.api.post(path, body)
            self.assertEqual(r.status, 400, r)
            self.assertIn(msg, r.json["error"])
            self.assertIn("alarms[0]", r.json["error"])
        self.assertEqual(self.api.get("/api/v1/jobs/bad-rule-job").status, 404)

    def test_list_filters_and_refuses_bad_input(self):
        r = self.api.get("/api/v1/alarms?state=bogus")
        self.assertEqual(r.status, 400, r)
        r = self.api.get("/api/v1/alarms?before=x")
        self.assertEqual(r.status, 400, r)
        r = self.api.get("/api/v1/alarms?limit=1")
        self.assertEqual(r.status, 200, r)
        self.assertLessEqual(len(r.json["alarms"]), 1)


class WorkerLost(harness.PagodaTestCase):
    """A master and a worker: the worker killed with SIGKILL raises a
    worker_lost alarm once its heartbeats are missed."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.receiver = WebhookReceiver(secret=SECRET).start()
        secret_path = os.path.join(cls.tmp, "hook.secret")
        with open(secret_path, "w") as f:
            f.write(SECRET)
        conf = os.path.join(cls.tmp, "pagoda.conf")
        with open(conf, "w") as f:
            f.write('master: { alarms: { channels = ( { name = "hook"; type = "webhook"; url = "%s"; '
                    'secret_file = "%s"; } ); rules = ( { on = ["worker_lost"]; worker = "w-*"; } ); }; };\n'
                    % (cls.receiver.url, secret_path))
        cls.master = cls.start("master", ["--config", conf])
        cls.worker = cls.start("worker", ["--master", "%s:%d" % (harness.HOST, cls.master.rpc_port),
                                          "--id", "w-doomed"], name="w-doomed")

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.receiver.stop()

    def test_worker_lost(self):
        api = self.master.api()
        harness.wait_until(lambda: [w for w in api.ok("GET", "/api/v1/workers")["workers"]
                                    if w["id"] == "w-doomed" and w["state"] == "alive"],
                           timeout=20, what="the worker connected")
        self.worker.kill9()
        posts = harness.wait_until(
            lambda: self.receiver.matching(lambda j: j.get("event") == "worker_lost"),
            timeout=40, what="the worker_lost webhook")
        self.assertEqual(posts[0]["json"]["worker"], "w-doomed")
        self.assertTrue(posts[0]["signature_ok"])


class SlaAcrossRestart(harness.PagodaTestCase):
    """A scheduled run that cannot start (no worker has its label): the
    master is stopped before the run's start deadline and started again;
    the new master watches the run again and raises sla_missed."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.receiver = WebhookReceiver(secret=SECRET).start()
        secret_path = os.path.join(cls.tmp, "hook.secret")
        with open(secret_path, "w") as f:
            f.write(SECRET)
        cls.conf = os.path.join(cls.tmp, "pagoda.conf")
        with open(cls.conf, "w") as f:
            f.write('master: { alarms: { channels = ( { name = "hook"; type = "webhook"; url = "%s"; '
                    'secret_file = "%s"; } ); }; };\n' % (cls.receiver.url, secret_path))
        cls.dev = cls.start("dev", ["--config", cls.conf])

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.receiver.stop()

    def test_sla_watched_again_after_a_restart(self):
        api = self.dev.api()
        api.shell_job("unplaceable", "true", labels=["no-such-label"])
        at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=2)
        r = api.post("/api/v1/schedules", {
            "name": "sla-restart", "job": "unplaceable", "at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "alarms": [{"on": ["sla_missed"], "sla": {"start_within": "10s"}}]})
        self.assertEqual(r.status, 201, r)
        ex = harness.wait_until(lambda: api.executions(job="unplaceable"), timeout=30,
                                what="the scheduled execution")
        self.assertEqual(ex[0]["state"], "pending")
        self.assertEqual(self.dev.stop(), 0)
        restarted = time.time()
        self.dev.start()
        api = self.dev.api()
        posts = harness.wait_until(
            lambda: self.receiver.matching(lambda j: j.get("event") == "sla_missed"
                                           and j.get("schedule") == "sla-restart"),
            timeout=60, what="the SLA alarm raised by the restarted master")
        self.assertGreaterEqual(posts[0]["received"], restarted)
        self.assertIn("not started", posts[0]["json"]["subject"])
        self.assertEqual(len(posts), 1)


if __name__ == "__main__":
    harness.main()
