"""Tokens, roles and the audit log (issue 12; docs/security.md "Tokens and
roles", "Audit log"): every route of docs/api.md's table (which
tests/unit/test_api_routes.c checks against the route table) x no token, a
wrong token, a revoked token, an expired token and each role; cross-origin
and DNS-rebinding requests; the first start's admin token file; tokens shown
once; the audit log; the CLI's token commands and token sources.
"""

import json
import os
import re
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ROLES = ["viewer", "operator", "admin"]


def route_table():
    """(method, pattern, role) of every row of docs/api.md's Routes table."""
    path = os.path.join(harness.source_dir(), "docs", "api.md")
    rows = []
    with open(path) as f:
        for line in f:
            m = re.match(r"\|\s*`(GET|POST|PUT|DELETE)`\s*\|\s*`(/api/v1/[^`]*)`\s*\|\s*(\w+)\s*\|", line)
            if m:
                rows.append((m.group(1), m.group(2), m.group(3)))
    return rows


def concrete(pattern):
    """A path of the pattern whose {x} segments name nothing that exists."""
    return re.sub(r"\{[^}]+\}", lambda m: "999999" if m.group(0) == "{id}" else "no-such-thing",
                  pattern)


class Auth(harness.PagodaTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dev = cls.start("dev", ["--slots", "2"])
        cls.admin = cls.dev.api()
        cls.tokens = {}
        for role in ROLES:
            r = cls.admin.post("/api/v1/tokens", {"name": "t-" + role, "role": role})
            assert r.status == 201, r
            cls.tokens[role] = r.json["token"]
        r = cls.admin.post("/api/v1/tokens", {"name": "t-revoked", "role": "admin"})
        assert r.status == 201, r
        cls.revoked = r.json["token"]
        assert cls.admin.delete("/api/v1/tokens/t-revoked").status == 200

    def as_(self, token):
        return harness.Api(self.dev.url, token=token if token is not None else False)

    def assert_json_error(self, r, status):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.headers.get("content-type"), "application/json", r)
        self.assertIsInstance(r.json.get("error"), str, r)

    # ------------------------------------------------------------ the table

    def test_every_route_by_credential(self):
        rows = route_table()
        self.assertGreater(len(rows), 40, "docs/api.md's Routes table was not found")
        wrong = "pgd_" + "0" * 64
        for method, pattern, need in rows:
            path = concrete(pattern)
            is_health = (method, pattern) == ("GET", "/api/v1/health")
            for label, token in (("no token", None), ("wrong token", wrong),
                                 ("revoked token", self.revoked)):
                r = self.as_(token).request(method, path)
                if is_health and token is None:
                    self.assertEqual(r.status, 200, "%s %s, %s: %r" % (method, path, label, r))
                    continue
                self.assertEqual(r.status, 401, "%s %s, %s: %r" % (method, path, label, r))
                self.assert_json_error(r, 401)
                self.assertIn("Bearer", r.headers.get("www-authenticate", ""))
            for role in ROLES:
                r = self.as_(self.tokens[role]).request(method, path)
                what = "%s %s as %s (needs %s): %r" % (method, path, role, need, r)
                if ROLES.index(role) < ROLES.index(need):
                    self.assert_json_error(r, 403)
                    self.assertIn(need, r.json["error"], what)
                else:
                    self.assertNotIn(r.status, (401, 403), what)

    def test_health_without_a_token_says_up_and_role_only(self):
        h = self.as_(None).get("/api/v1/health")
        self.assertEqual(h.status, 200, h)
        self.assertEqual(h.json, {"status": "ok", "role": "leader"})
        full = self.as_(self.tokens["viewer"]).get("/api/v1/health").json
        self.assertEqual(full["rpc_port"], self.dev.rpc_port)

    def test_expired_token_is_401(self):
        r = self.admin.post("/api/v1/tokens", {"name": "short", "role": "viewer", "expires": "1s"})
        self.assertEqual(r.status, 201, r)
        api = self.as_(r.json["token"])
        harness.wait_until(lambda: api.get("/api/v1/jobs").status == 401, 15, 0.1,
                           "the 1 s token to expire")
        self.assertIn("expired", api.get("/api/v1/jobs").json["error"])
        listed = {t["name"]: t for t in self.admin.ok("GET", "/api/v1/tokens")["tokens"]}
        self.assertEqual(listed["short"]["state"], "expired")

    # ------------------------------------------------------------ browsers

    def test_cross_origin_text_plain_post_is_refused(self):
        self.admin.shell_job("csrf-target", "echo ran")
        before = len(self.admin.executions(job="csrf-target"))
        body = b'{"params":{}}'
        # what a page elsewhere can send without a preflight: text/plain, its Origin
        r = self.admin.request("POST", "/api/v1/jobs/csrf-target/run", raw=body,
                               headers={"Content-Type": "text/plain", "Origin": "http://evil.example"})
        self.assert_json_error(r, 403)
        self.assertIn("cross-origin", r.json["error"])
        # even with no Origin, text/plain is not JSON
        r = self.admin.request("POST", "/api/v1/jobs/csrf-target/run", raw=body,
                               headers={"Content-Type": "text/plain"})
        self.assert_json_error(r, 415)
        r = self.admin.request("POST", "/api/v1/jobs", raw=b"name=x",
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assert_json_error(r, 415)
        self.assertEqual(len(self.admin.executions(job="csrf-target")), before)
        # the same origin (a console served by the master itself) is fine
        r = self.admin.request("POST", "/api/v1/jobs/csrf-target/run", body={},
                               headers={"Origin": self.dev.url})
        self.assertEqual(r.status, 201, r)

    def test_dns_rebinding_host_is_refused(self):
        r = self.admin.request("GET", "/api/v1/jobs", headers={"Host": "attacker.example:%d" % self.dev.http_port})
        self.assert_json_error(r, 403)
        self.assertIn("allowed_hosts", r.json["error"])
        r = self.admin.request("GET", "/api/v1/jobs", headers={"Host": "localhost:%d" % self.dev.http_port})
        self.assertEqual(r.status, 200, r)

    def test_no_cors_preflight_without_configured_origins(self):
        r = self.admin.request("OPTIONS", "/api/v1/jobs",
                               headers={"Origin": "http://evil.example",
                                        "Access-Control-Request-Method": "POST"})
        self.assertEqual(r.status, 403, r)
        self.assertNotIn("access-control-allow-origin", r.headers)

    # ------------------------------------------------------------ tokens

    def test_bootstrap_token_file(self):
        path = self.dev.token_file()
        st = os.stat(path)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        with open(path) as f:
            token = f.read().strip()
        self.assertRegex(token, r"^pgd_[0-9a-f]{64}$")
        self.assertNotIn(token, self.dev.stderr() + self.dev.stdout())
        self.assertIn("admin.token", self.dev.stderr())
        listed = {t["name"]: t for t in self.admin.ok("GET", "/api/v1/tokens")["tokens"]}
        self.assertEqual(listed["admin"]["role"], "admin")

    def test_token_shown_once_never_listed(self):
        r = self.admin.post("/api/v1/tokens", {"name": "once", "role": "operator"})
        self.assertEqual(r.status, 201, r)
        token = r.json["token"]
        self.assertRegex(token, r"^pgd_[0-9a-f]{64}$")
        r2 = self.admin.get("/api/v1/tokens")
        self.assertEqual(r2.status, 200)
        self.assertNotIn(token, r2.text)
        self.assertNotIn(token[4:], r2.text)
        for t in r2.json["tokens"]:
            self.assertNotIn("token", t)
            self.assertNotIn("hash", t)
        self.assertEqual(self.admin.post("/api/v1/tokens", {"name": "once", "role": "viewer"}).status, 409)
        for bad in ({"name": "x y", "role": "viewer"}, {"name": "ok", "role": "root"},
                    {"name": "ok", "role": "viewer", "expires": "soon"}, {"role": "viewer"}):
            self.assert_json_error(self.admin.post("/api/v1/tokens", bad), 400)
        # revoked: refused at once on this master
        api = self.as_(token)
        self.assertEqual(api.get("/api/v1/jobs").status, 200)
        self.assertEqual(self.admin.delete("/api/v1/tokens/once").status, 200)
        r = api.get("/api/v1/jobs")
        self.assert_json_error(r, 401)
        self.assertIn("revoked", r.json["error"])
        self.assertEqual(self.admin.delete("/api/v1/tokens/once").status, 404)
        # the name is free again
        self.assertEqual(self.admin.post("/api/v1/tokens", {"name": "once", "role": "viewer"}).status, 201)

    # ------------------------------------------------------------ audit

    def test_audit_records_changes_with_who_what_when_where_result(self):
        op = self.as_(self.tokens["operator"])
        since = int(time.time() * 1e6) - 1
        self.admin.shell_job("audited", "true")
        r = op.post("/api/v1/jobs/audited/run")
        self.assertEqual(r.status, 201, r)
        self.assertEqual(op.delete("/api/v1/jobs/audited").status, 403)  # operator may not delete
        self.as_(self.tokens["viewer"]).get("/api/v1/jobs")                # reads are not audited
        want = {("admin", "POST", "/api/v1/jobs", "/api/v1/jobs", 201),
                ("t-operator", "POST", "/api/v1/jobs/{name}/run", "/api/v1/jobs/audited/run", 201),
                ("t-operator", "DELETE", "/api/v1/jobs/{name}", "/api/v1/jobs/audited", 403)}

        def audited():
            # a row is stored once its answer is sent: durable moments later
            rows = self.admin.ok("GET", "/api/v1/audit?since=%d" % since)["audit"]
            mine = {(a["token"], a["method"], a["route"], a["target"], a["status"]) for a in rows}
            return rows if want <= mine else None
        rows = harness.wait_until(audited, 10, 0.05, "the three audit rows")
        self.assertFalse([a for a in rows if a["method"] == "GET"], rows)
        created = [a for a in rows if a["route"] == "/api/v1/jobs" and a["token"] == "admin"][0]
        self.assertEqual(created["name"], "audited")
        self.assertEqual(created["peer"], harness.HOST)
        self.assertGreaterEqual(created["time_us"], since)
        self.assertIn("time_at", created)
        # newest first, filters, paging
        ids = [a["id"] for a in rows]
        self.assertEqual(ids, sorted(ids, reverse=True))
        by_op = self.admin.ok("GET", "/api/v1/audit?token=t-operator&since=%d" % since)["audit"]
        self.assertEqual({a["token"] for a in by_op}, {"t-operator"})
        page = self.admin.ok("GET", "/api/v1/audit?limit=1")
        self.assertEqual(len(page["audit"]), 1)
        nxt = self.admin.ok("GET", "/api/v1/audit?limit=1&before=%d" % page["next_before"])["audit"]
        self.assertLess(nxt[0]["id"], page["audit"][0]["id"])
        # the audit log is the admin's
        self.assertEqual(op.get("/api/v1/audit").status, 403)

    # ------------------------------------------------------------ the CLI

    def cli(self, *args, env_extra=None, drop=(), cwd=None):
        env = dict(os.environ)
        for k in ("PAGODA_TOKEN", "PAGODA_TOKEN_FILE", "PAGODA_ADDR") + tuple(drop):
            env.pop(k, None)
        env["HOME"] = self.tmp  # no ~/.config/pagoda/token of the machine
        env.pop("XDG_CONFIG_HOME", None)
        env.update(env_extra or {})
        p = subprocess.run([harness.pagoda_bin(), "--addr", self.dev.url] + list(args), env=env,
                           capture_output=True, text=True, timeout=30, cwd=cwd or self.tmp)
        return p.returncode, p.stdout, p.stderr

    def test_cli_token_commands_and_sources(self):
        tf = {"PAGODA_TOKEN_FILE": self.dev.token_file()}
        rc, out, err = self.cli("token", "create", "--name", "cli-made", "--role", "viewer",
                                "--expires", "30d", env_extra=tf)
        self.assertEqual(rc, 0, err)
        token = re.search(r"pgd_[0-9a-f]{64}", out).group(0)
        rc, out, err = self.cli("token", "list", env_extra=tf)
        self.assertEqual(rc, 0, err)
        self.assertIn("cli-made", out)
        self.assertNotIn(token, out)
        # PAGODA_TOKEN wins over PAGODA_TOKEN_FILE: the viewer may list jobs, not tokens
        rc, out, err = self.cli("token", "list", env_extra=dict(tf, PAGODA_TOKEN=token))
        self.assertEqual(rc, 1, out)
        self.assertIn("HTTP 403", err)
        # --token wins over both
        rc, out, err = self.cli("--token", self.dev.token, "token", "list", env_extra={"PAGODA_TOKEN": token})
        self.assertEqual(rc, 0, err)
        rc, out, err = self.cli("job", "list", env_extra={"PAGODA_TOKEN": token})
        self.assertEqual(rc, 0, err)
        # ~/.config/pagoda/token
        conf = os.path.join(self.tmp, ".config", "pagoda")
        os.makedirs(conf, exist_ok=True)
        with open(os.path.join(conf, "token"), "w") as f:
            f.write(token + "\n")
        try:
            rc, out, err = self.cli("job", "list")
            self.assertEqual(rc, 0, err)
        finally:
            os.unlink(os.path.join(conf, "token"))
        # no token anywhere: 401 and a hint where tokens come from
        rc, out, err = self.cli("job", "list")
        self.assertEqual(rc, 1)
        self.assertIn("HTTP 401", err)
        self.assertIn("PAGODA_TOKEN", err)
        # a named token file that cannot be read is an error of its own
        rc, out, err = self.cli("job", "list", env_extra={"PAGODA_TOKEN_FILE": "/nonexistent/t"})
        self.assertEqual(rc, 1)
        self.assertIn("/nonexistent/t", err)
        # pagoda dev's data directory in the working directory, for a loopback address
        devdir = os.path.join(self.tmp, "devcwd")
        os.makedirs(os.path.join(devdir, "pagoda-dev-data"), exist_ok=True)
        with open(os.path.join(devdir, "pagoda-dev-data", "admin.token"), "w") as f:
            f.write(self.dev.token + "\n")
        rc, out, err = self.cli("token", "list", cwd=devdir)
        self.assertEqual(rc, 0, err)
        # revoke and audit
        rc, out, err = self.cli("token", "revoke", "cli-made", env_extra=tf)
        self.assertEqual(rc, 0, err)
        self.assertIn("token cli-made revoked", out)
        rc, out, err = self.cli("job", "list", env_extra={"PAGODA_TOKEN": token})
        self.assertEqual(rc, 1)
        def audited():
            # rows are stored in batches, moments after their answers
            rc, out, err = self.cli("audit", "--since", "1h", "--by", "admin", env_extra=tf)
            self.assertEqual(rc, 0, err)
            return "/api/v1/tokens/cli-made" in out
        harness.wait_until(audited, 10, 0.1, "the revocation in `pagoda audit`")
        rc, out, err = self.cli("audit", "list", "--json", "--limit", "2", env_extra=tf)
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(json.loads(out)["audit"]), 2)


class Cors(harness.PagodaTestCase):
    """With master.http.cors_origins set, that origin (only) gets preflights
    and cross-origin answers."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        conf = os.path.join(cls.tmp, "cors.conf")
        with open(conf, "w") as f:
            f.write('master = { http = { cors_origins = "https://console.example"; '
                    'allowed_hosts = "pagoda.internal"; }; };\n')
        cls.dev = cls.start("dev", ["--config", conf])
        cls.api = cls.dev.api()

    def test_preflight_and_cross_origin_for_the_configured_origin(self):
        r = self.api.request("OPTIONS", "/api/v1/jobs", headers={
            "Origin": "https://console.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type"})
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.headers.get("access-control-allow-origin"), "https://console.example")
        self.assertIn("Authorization", r.headers.get("access-control-allow-headers", ""))
        r = self.api.request("GET", "/api/v1/jobs", headers={"Origin": "https://console.example"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("access-control-allow-origin"), "https://console.example")
        r = self.api.request("OPTIONS", "/api/v1/jobs", headers={"Origin": "https://other.example"})
        self.assertEqual(r.status, 403, r)
        r = self.api.request("GET", "/api/v1/jobs", headers={"Origin": "https://other.example"})
        self.assertEqual(r.status, 403, r)

    def test_configured_host_name(self):
        r = self.api.request("GET", "/api/v1/jobs", headers={"Host": "pagoda.internal:%d" % self.dev.http_port})
        self.assertEqual(r.status, 200, r)
        r = self.api.request("GET", "/api/v1/jobs", headers={"Host": "pagoda.external"})
        self.assertEqual(r.status, 403, r)


if __name__ == "__main__":
    harness.main()
