"""Observability (docs/observability.md) against real servers:

- a real Prometheus server (Debian's `prometheus`) scrapes a `pagoda master`
  (with a viewer token through `authorization: credentials_file`) and a
  `pagoda worker` (--metrics-addr) on loopback; the executions just run are
  seen through a PromQL query over Prometheus' HTTP API;
- `promtool check metrics` passes on both daemons' output, and
  `promtool check rules` on the alert rules of docs/observability.md;
- /metrics needs a viewer token unless master.metrics.public, and answers
  404 with master.metrics.enabled = false;
- --log-format json: every stderr line is one JSON object; the access log
  names the route pattern and the token's name, never the token;
- GET /api/v1/ready (a viewer's route): 200 when ready, 503 with reasons
  (no plugin loaded), while liveness (health) stays 200.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")


def promtool(*args, stdin=None):
    harness.require(PROMTOOL, "promtool (Debian package prometheus; sbin/setup-deps.sh installs it)")
    return subprocess.run([PROMTOOL] + list(args), input=stdin, capture_output=True, timeout=60)


def alert_rules_from_doc():
    """The YAML block after the '### Alert rules' heading of the doc."""
    with open(os.path.join(harness.source_dir(), "docs", "observability.md")) as f:
        doc = f.read()
    m = re.search(r"### Alert rules.*?```yaml\n(.*?)```", doc, re.S)
    if not m:
        raise AssertionError("docs/observability.md has no '### Alert rules' yaml block")
    return m.group(1)


def documented_queries():
    """The queries of the table under '## PromQL' in the doc."""
    with open(os.path.join(harness.source_dir(), "docs", "observability.md")) as f:
        doc = f.read()
    section = doc.split("## PromQL", 1)[1].split("\n## ", 1)[0]
    return [m.group(1) for m in re.finditer(r"^\|[^|]+\| `(.+)` \|$", section, re.M)]


class MetricsTest(harness.PagodaTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        harness.require(PROMETHEUS, "prometheus (Debian package prometheus; sbin/setup-deps.sh)")
        cls.master = cls.start("master", ["--log-format", "json"])
        cls.api = cls.master.api()
        cls.worker_metrics_port = harness.free_port()
        cls.worker = cls.start("worker", ["--master", "%s:%d" % (harness.HOST, cls.master.rpc_port),
                                          "--id", "w-metrics", "--slots", "2", "--log-format", "json",
                                          "--metrics-addr", "%s:%d" % (harness.HOST, cls.worker_metrics_port)])
        harness.wait_until(lambda: any(w["id"] == "w-metrics" and w["state"] == "alive"
                                       for w in cls.api.ok("GET", "/api/v1/workers")["workers"]),
                           timeout=20, what="worker w-metrics alive")
        made = cls.api.ok("POST", "/api/v1/tokens", {"name": "prometheus", "role": "viewer"},
                          expect=(201,))
        cls.viewer_token = made["token"]
        cls.api.shell_job("m-ok", script="true")
        cls.api.shell_job("m-fail", script="exit 3")
        cls.ran = {"m-ok": 3, "m-fail": 2}
        for name, n in cls.ran.items():
            for _ in range(n):
                eid = cls.api.run(name)
                cls.api.wait_final(eid, timeout=30)
        cls.prom = None

    @classmethod
    def tearDownClass(cls):
        if cls.prom is not None and cls.prom.poll() is None:
            cls.prom.terminate()
            try:
                cls.prom.wait(timeout=15)
            except subprocess.TimeoutExpired:
                cls.prom.kill()
                cls.prom.wait(timeout=10)
        super().tearDownClass()

    def master_metrics(self, token=None):
        return harness.Api(self.master.url, token=token or self.viewer_token).get("/metrics")

    def worker_metrics(self):
        return harness.Api("http://%s:%d" % (harness.HOST, self.worker_metrics_port),
                           token=False).get("/metrics")

    # -- the endpoints

    def test_master_metrics_need_a_viewer_token(self):
        anon = harness.Api(self.master.url, token=False).get("/metrics")
        self.assertEqual(anon.status, 401, anon.text)
        r = self.master_metrics()
        self.assertEqual(r.status, 200, r.text[:300])
        self.assertTrue(r.headers["content-type"].startswith("text/plain; version=0.0.4"))
        self.assertRegex(r.text, r'pagoda_executions_total\{pagoda_job="m-ok",state="succeeded",reason="ok"\} 3\n')
        self.assertRegex(r.text, r'pagoda_executions_total\{pagoda_job="m-fail",state="failed",reason="exit_code"\} 2\n')
        self.assertRegex(r.text, r"pagoda_execution_start_delay_seconds_count [1-9]")
        self.assertRegex(r.text, r'pagoda_workers\{state="connected"\} 1\n')
        self.assertRegex(r.text, r'pagoda_http_requests_total\{route="/api/v1/jobs/\{name\}/run",method="POST",code="201"\} 5\n')
        # route patterns, never raw paths, label the requests
        self.assertNotIn('route="/api/v1/jobs/m-ok/run"', r.text)

    def test_storage_and_batch_figures(self):
        def value(text, name):
            m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
            self.assertIsNotNone(m, "%s missing" % name)
            return float(m.group(1))
        before = self.master_metrics().text
        self.assertGreater(value(before, "pagoda_store_size_bytes"), 0)
        self.assertGreaterEqual(value(before, "pagoda_logs_size_bytes"), 0)  # present (these jobs print nothing)
        self.assertGreaterEqual(value(before, "pagoda_executions_in_memory"), 0)
        self.assertGreaterEqual(value(before, "pagoda_placement_lookups_total"), 5)  # 5 runs placed
        self.assertGreaterEqual(value(before, "pagoda_placement_index_rebuilds_total"), 1)
        for st in ("connected", "draining", "leaving", "left", "lost"):
            self.assertRegex(before, r'pagoda_workers\{state="%s"\} \d' % st)
        batches = value(before, "pagoda_run_batches_total")
        runs = value(before, "pagoda_run_batch_runs_total")
        # a job no worker can take (a label none has): the batch stays pending,
        # so the other tests' counts of runs and launches do not move
        self.api.shell_job("m-batch", script="true", labels=["m-nowhere"])
        out = self.api.ok("POST", "/api/v1/runs", {"runs": [{"job": "m-batch"}, {"job": "m-batch"}]},
                          expect=(201,))
        after = self.master_metrics().text
        self.assertRegex(after, r'pagoda_queue_length [1-9]')
        for e in out["executions"]:
            self.api.ok("POST", "/api/v1/executions/%d/kill" % e["execution_id"], expect=(202,))
        self.assertEqual(value(after, "pagoda_run_batches_total"), batches + 1)
        self.assertEqual(value(after, "pagoda_run_batch_runs_total"), runs + 2)
        # the store's writer: the batch is one urgent commit (a client waits
        # for it); every commit carries at least one write, and merging only
        # ever lowers the statements below the writes
        self.assertGreaterEqual(value(after, "pagoda_store_commits_urgent_total"),
                                value(before, "pagoda_store_commits_urgent_total") + 1)
        for text in (before, after):
            commits = value(text, "pagoda_store_commit_seconds_count")
            self.assertGreater(commits, 0)
            self.assertGreaterEqual(value(text, "pagoda_store_writes_total"), commits)
            self.assertLessEqual(value(text, "pagoda_store_rows_total"),
                                 value(text, "pagoda_store_writes_total"))
            self.assertLessEqual(value(text, "pagoda_store_commits_urgent_total")
                                 + value(text, "pagoda_store_commits_held_total"), commits)
            self.assertGreaterEqual(value(text, "pagoda_store_writes_coalesced_total"), 0)

    def test_build_info_names_the_allocator_in_use(self):
        # The label is asked of the running process; check it against what
        # the process has mapped, and against the build's PAGODA_ALLOCATOR
        # (jemalloc by default outside sanitizer builds).
        text = self.master_metrics().text
        m = re.search(r'^pagoda_build_info\{version="([^"]+)",allocator="([^"]+)"\} 1$', text, re.M)
        self.assertIsNotNone(m, "no pagoda_build_info sample")
        self.assertRegex(m.group(1), r"^\d+\.\d+\.\d+$")
        with open("/proc/%d/maps" % self.master.proc.pid) as f:
            mapped = "jemalloc" if "libjemalloc" in f.read() else "libc"
        self.assertEqual(m.group(2), mapped)
        cache = os.path.join(os.environ["PAGODA_BUILD_DIR"], "CMakeCache.txt")
        with open(cache) as f:
            conf = re.search(r"^PAGODA_ALLOCATOR:\w+=(\w+)$", f.read(), re.M)
        self.assertIsNotNone(conf, "PAGODA_ALLOCATOR not in %s" % cache)
        self.assertEqual(m.group(2), conf.group(1))

    def test_worker_metrics_endpoint(self):
        r = self.worker_metrics()
        self.assertEqual(r.status, 200, r.text[:300])
        self.assertRegex(r.text, r"pagoda_worker_connected 1\n")
        self.assertRegex(r.text, r"pagoda_worker_slots_capacity 2\n")
        self.assertRegex(r.text, r'pagoda_worker_attempts_total\{state="succeeded"\} 3\n')
        self.assertRegex(r.text, r'pagoda_rpc_messages_total\{type="launch",direction="in"\} 5\n')
        self.assertEqual(harness.Api("http://%s:%d" % (harness.HOST, self.worker_metrics_port),
                                     token=False).get("/other").status, 404)

    def test_promtool_checks_both_outputs(self):
        for what, r in (("master", self.master_metrics()), ("worker", self.worker_metrics())):
            p = promtool("check", "metrics", stdin=r.body)
            self.assertEqual(p.returncode, 0, "%s: %s%s" % (what, p.stdout.decode(), p.stderr.decode()))

    def test_promtool_checks_the_documented_alert_rules(self):
        path = os.path.join(self.tmp, "pagoda-rules.yml")
        with open(path, "w") as f:
            f.write(alert_rules_from_doc())
        p = promtool("check", "rules", path)
        self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode())
        self.assertIn("SUCCESS", p.stdout.decode())

    # -- a real Prometheus server

    def start_prometheus(self):
        cred = os.path.join(self.tmp, "prometheus.token")
        with open(cred, "w") as f:
            f.write(self.viewer_token)
        os.chmod(cred, 0o600)
        master_target = self.master.url.split("://", 1)[1]
        config = os.path.join(self.tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write("""global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: pagoda-master
    authorization:
      credentials_file: %s
    static_configs:
      - targets: ["%s"]
  - job_name: pagoda-worker
    static_configs:
      - targets: ["%s:%d"]
""" % (cred, master_target, harness.HOST, self.worker_metrics_port))
        p = promtool("check", "config", config)
        self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode())
        self.prom_port = harness.free_port()
        log = open(os.path.join(self.tmp, "prometheus.log"), "wb")
        type(self).prom = subprocess.Popen(
            [PROMETHEUS, "--config.file=" + config,
             "--storage.tsdb.path=" + os.path.join(self.tmp, "prom-data"),
             "--web.listen-address=%s:%d" % (harness.HOST, self.prom_port)],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()

    def promql(self, query):
        prom = harness.Api("http://%s:%d" % (harness.HOST, self.prom_port), token=False)
        try:
            r = prom.get("/api/v1/query?query=" + urllib.parse.quote(query))
        except OSError:
            return None  # not listening yet
        if r.status != 200:
            return None
        body = r.json
        return body["data"]["result"] if body.get("status") == "success" else None

    def test_prometheus_scrapes_master_and_worker(self):
        self.start_prometheus()

        def value(query):
            res = self.promql(query)
            return float(res[0]["value"][1]) if res else None

        def targets_up():
            return value('sum(up{job=~"pagoda-master|pagoda-worker"})') == 2

        harness.wait_until(targets_up, timeout=90, interval=0.5, what="both targets up in Prometheus")
        harness.wait_until(
            lambda: value('sum(pagoda_executions_total{pagoda_job="m-ok",state="succeeded"})') == 3,
            timeout=60, interval=0.5, what="the 3 succeeded executions seen by PromQL")
        self.assertEqual(value('sum(pagoda_executions_total{pagoda_job="m-fail",state="failed"})'), 2)
        self.assertEqual(value("pagoda_worker_connected"), 1)
        # every query of the doc's PromQL table evaluates
        queries = documented_queries()
        self.assertGreaterEqual(len(queries), 8)
        for q in queries:
            self.assertIsNotNone(self.promql(q), "documented query fails: " + q)

    # -- logs

    def test_json_log_lines_and_the_access_log(self):
        for d in (self.master, self.worker):
            lines = [l for l in d.stderr().splitlines() if l.strip()]
            self.assertTrue(lines, "%s wrote no log line" % d.name)
            for line in lines:
                try:
                    o = json.loads(line)
                except ValueError:
                    self.fail("%s: not a JSON line: %r" % (d.name, line))
                for key in ("ts", "level", "module", "msg"):
                    self.assertIn(key, o, line)
        access = [json.loads(l) for l in self.master.stderr().splitlines()
                  if l.strip() and json.loads(l).get("module") == "access"]
        runs = [a for a in access if a.get("route") == "/api/v1/jobs/{name}/run"]
        self.assertTrue(runs, "no access line of a job run")
        self.assertEqual(runs[0]["status"], 201)
        self.assertEqual(runs[0]["method"], "POST")
        self.assertEqual(runs[0]["token"], "admin")
        self.assertIsInstance(runs[0]["duration_ms"], (int, float))
        self.assertNotIn(self.master.token, self.master.stderr())
        self.assertNotIn(self.viewer_token, self.master.stderr())


class ScheduleMetricsTest(harness.PagodaTestCase):
    """Fire lateness and misfires of schedules, seen on /metrics."""

    def test_lateness_and_a_misfire_after_a_pause(self):
        d = self.start("dev", name="sched-dev")
        api = d.api()
        api.shell_job("tick", script="true")

        def metric(name):
            text = api.get("/metrics").text
            m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
            return float(m.group(1)) if m else None

        r = api.post("/api/v1/schedules", {"name": "every-second", "job": "tick", "every": "1s",
                                           "misfire_grace": "1s"})
        self.assertEqual(r.status, 201, r)
        harness.wait_until(lambda: (metric("pagoda_schedule_fire_lateness_seconds_count") or 0) >= 2,
                           timeout=30, what="two fires observed")
        self.assertIsNone(metric('pagoda_schedule_misfires_total{policy="skip"}'))
        self.assertEqual(api.post("/api/v1/schedules/every-second/pause").status, 200)
        paused_at = time.monotonic()
        # The fire times of the pause grow older than the 1 s grace.
        harness.wait_until(lambda: time.monotonic() - paused_at > 3, timeout=10,
                           what="3 s of pause")
        self.assertEqual(api.post("/api/v1/schedules/every-second/resume").status, 200)
        harness.wait_until(lambda: metric('pagoda_schedule_misfires_total{policy="skip"}') == 1,
                           timeout=30, what="one misfire counted after the resume")
        self.assertEqual(api.delete("/api/v1/schedules/every-second").status, 200)


class ReadyAndSwitchesTest(harness.PagodaTestCase):
    def conf(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_ready_and_health_are_apart(self):
        d = self.start("dev", name="ready-dev")
        self.assertEqual(harness.Api(d.url, token=False).get("/api/v1/ready").status, 401)
        r = d.api().get("/api/v1/ready")
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(r.json["ready"], True)
        self.assertEqual(r.json["role"], "leader")
        self.assertEqual(r.json["reasons"], [])
        self.assertEqual(harness.Api(d.url, token=False).get("/api/v1/health").status, 200)

    def test_not_ready_without_plugins(self):
        empty = os.path.join(self.tmp, "no-plugins")
        os.makedirs(empty, exist_ok=True)
        d = self.start("master", ["--plugins", empty], name="no-plugins")
        r = d.api().get("/api/v1/ready")
        self.assertEqual(r.status, 503, r.text)
        self.assertEqual(r.json["ready"], False)
        self.assertTrue(any("plugin" in why for why in r.json["reasons"]), r.json)
        # liveness is still fine: the process answers
        self.assertEqual(harness.Api(d.url, token=False).get("/api/v1/health").status, 200)

    def test_refused_settings(self):
        def run(*args):
            return subprocess.run([harness.pagoda_bin()] + list(args), capture_output=True,
                                  text=True, timeout=30, stdin=subprocess.DEVNULL, cwd=self.tmp)
        # plain HTTP without a token on a reachable address needs --insecure
        p = run("worker", "--data", os.path.join(self.tmp, "w-refused"), "--master", "127.0.0.1:1",
                "--metrics-addr", "0.0.0.0:%d" % harness.free_port())
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("refusing to serve metrics", p.stderr)
        self.assertIn("--insecure", p.stderr)
        p = run("worker", "--data", os.path.join(self.tmp, "w-refused"), "--master", "127.0.0.1:1",
                "--metrics-addr", "nonsense")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("--metrics-addr needs PORT or HOST:PORT", p.stderr)
        p = run("dev", "--log-format", "xml", "--data", os.path.join(self.tmp, "d-refused"))
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("log format must be text or json", p.stderr)
        # the store's group window: an integer number of microseconds, at most a second
        for bad in ('"1ms"', "-5", "2000000", "1.5"):
            conf = self.conf("gw.conf", "store = { group_window_us = %s; };\n" % bad)
            p = run("dev", "--config", conf, "--data", os.path.join(self.tmp, "d-refused"))
            self.assertEqual(p.returncode, 2, bad + ": " + p.stderr)
            self.assertIn("store.group_window_us must be an integer from 0 to 1000000", p.stderr)

    def test_metrics_off(self):
        conf = self.conf("off.conf", "master: { metrics: { enabled = false; }; };\n")
        d = self.start("dev", ["--config", conf], name="metrics-off")
        r = d.api().get("/metrics")
        self.assertEqual(r.status, 404, r.text)
        self.assertIn("master.metrics.enabled", r.json["error"])

    def test_metrics_public_and_access_log_off(self):
        conf = self.conf("public.conf", "master: { metrics: { public = true; };\n"
                                        "          http: { access_log = false; }; };\n")
        d = self.start("dev", ["--config", conf], name="metrics-public")
        r = harness.Api(d.url, token=False).get("/metrics")
        self.assertEqual(r.status, 200, r.text[:300])
        self.assertIn("pagoda_process_resident_memory_bytes", r.text)
        d.api().ok("GET", "/api/v1/jobs")
        self.assertNotIn("[access]", d.stderr())


if __name__ == "__main__":
    harness.main()
