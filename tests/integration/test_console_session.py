"""The web console's server side (issue 14; docs/console.md, docs/security.md
"Console sessions"): the files served at / with page routes falling back to
index.html and no way out of the directory; login with a token into an
HttpOnly SameSite=Strict cookie; the cookie accepted instead of a token, its
changes refused without the CSRF value; whoami; logout; a revoked token ends
its sessions. The browser half is tests/browser/test_console.mjs.
"""

import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def raw_get(port, target):
    """GET `target` sent as is (no client-side normalising of '..')."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as s:
        s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" % target).encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), head.decode("latin-1"), body


class ConsoleSession(harness.PagodaTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dev = cls.start("dev", ["--slots", "2"])
        cls.admin = cls.dev.api()
        cls.anon = harness.Api(cls.dev.url, token=False)
        with open(os.path.join(harness.source_dir(), "console", "index.html"), "rb") as f:
            cls.index = f.read()

    def login(self, token):
        r = self.anon.post("/api/v1/session", {"token": token})
        self.assertEqual(r.status, 201, r)
        m = re.match(r"pagoda_session=([0-9a-f]{64});", r.headers["set-cookie"])
        self.assertTrue(m, r.headers["set-cookie"])
        return "pagoda_session=" + m.group(1), r.json["csrf_token"], r

    def as_cookie(self, method, path, cookie, csrf=None, body=None):
        headers = {"Cookie": cookie}
        if csrf:
            headers["X-CSRF-Token"] = csrf
        return self.anon.request(method, path, body=body, headers=headers)

    # ------------------------------------------------------------ files

    def test_files_types_and_page_fallback(self):
        r = self.anon.get("/")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, self.index)
        self.assertTrue(r.headers["content-type"].startswith("text/html"), r.headers)
        self.assertEqual(r.headers.get("x-content-type-options"), "nosniff")
        self.assertIn("frame-ancestors 'none'", r.headers.get("content-security-policy", ""))
        for path, ctype in (("/app.js", "text/javascript"), ("/app.css", "text/css"),
                            ("/pages/jobs.js", "text/javascript")):
            r = self.anon.get(path)
            self.assertEqual(r.status, 200, path)
            self.assertTrue(r.headers["content-type"].startswith(ctype), (path, r.headers))
        for page in ("/jobs", "/jobs/nightly", "/jobs/nightly.v2", "/executions/42", "/login"):
            r = self.anon.get(page)
            self.assertEqual((r.status, r.body), (200, self.index), page)
        for missing in ("/no-such.js", "/pages/nothing.css"):
            self.assertEqual(self.anon.get(missing).status, 404, missing)
        # /api/ is never a page: unknown routes stay JSON 404s
        r = self.anon.get("/api/v1/no-such-route")
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.headers.get("content-type"), "application/json")

    def test_no_way_out_of_the_directory(self):
        port = int(self.dev.url.rsplit(":", 1)[1])
        for target in ("/../../../../etc/passwd", "/pages/../../../../etc/passwd",
                       "/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2f..%2fetc/passwd",
                       "/pages/..%2f..%2f..%2f..%2fetc%2fpasswd"):
            status, head, body = raw_get(port, target)
            self.assertNotIn(b"root:", body, target)
            self.assertIn(status, (200, 400, 403, 404), (target, head))
            if status == 200:
                self.assertEqual(body, self.index, target)

    # ------------------------------------------------------------ sessions

    def test_login_cookie_flags_and_whoami(self):
        cookie, csrf, r = self.login(self.dev.token)
        sc = r.headers["set-cookie"]
        for flag in ("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="):
            self.assertIn(flag, sc)
        self.assertNotIn("Secure", sc)  # plain HTTP: a Secure cookie would never come back
        self.assertEqual((r.json["name"], r.json["role"]), ("admin", "admin"))
        self.assertRegex(csrf, r"^[0-9a-f]{64}$")
        w = self.as_cookie("GET", "/api/v1/whoami", cookie)
        self.assertEqual(w.status, 200, w)
        self.assertEqual((w.json["name"], w.json["role"], w.json["csrf_token"]), ("admin", "admin", csrf))
        # whoami with a bearer token: no session, no CSRF value
        w = self.admin.get("/api/v1/whoami")
        self.assertEqual((w.status, w.json["name"]), (200, "admin"))
        self.assertNotIn("csrf_token", w.json)

    def test_bad_logins_are_401(self):
        for body in ({"token": "pgd_" + "0" * 64}, {}, None):
            r = self.anon.post("/api/v1/session", body)
            self.assertEqual(r.status, 401, (body, r))
            self.assertNotIn("set-cookie", r.headers)
        r = self.anon.post("/api/v1/session", {"token": 5})
        self.assertEqual(r.status, 400, r)
        r = self.as_cookie("GET", "/api/v1/whoami", "pagoda_session=" + "a" * 64)
        self.assertEqual(r.status, 401, r)

    def test_changes_need_the_csrf_value(self):
        cookie, csrf, _ = self.login(self.dev.token)
        job = {"name": "csrf-probe", "type": "shell", "params": {"script": "true"}}
        for label, value in (("none", None), ("wrong", "0" * 64), ("short", csrf[:10])):
            r = self.as_cookie("POST", "/api/v1/jobs", cookie, csrf=value, body=job)
            self.assertEqual(r.status, 403, (label, r))
            self.assertIn("X-CSRF-Token", r.json["error"])
        self.assertEqual(self.admin.get("/api/v1/jobs/csrf-probe").status, 404)
        r = self.as_cookie("POST", "/api/v1/jobs", cookie, csrf=csrf, body=job)
        self.assertEqual(r.status, 201, r)
        # reads need no CSRF value
        self.assertEqual(self.as_cookie("GET", "/api/v1/jobs/csrf-probe", cookie).status, 200)
        # refused changes are audited under the session's token
        # (the audit log is written in batches: poll with a deadline)
        deadline = time.monotonic() + 30
        while True:
            audit = self.admin.get("/api/v1/audit?route=/api/v1/jobs&method=POST").json["audit"]
            if any(a["status"] == 403 and a["token"] == "admin" for a in audit):
                break
            self.assertLess(time.monotonic(), deadline, audit)
            time.sleep(0.05)

    def test_viewer_session_keeps_the_viewer_role(self):
        t = self.admin.post("/api/v1/tokens", {"name": "console-viewer", "role": "viewer"})
        self.assertEqual(t.status, 201, t)
        cookie, csrf, r = self.login(t.json["token"])
        self.assertEqual(r.json["role"], "viewer")
        self.assertEqual(self.as_cookie("GET", "/api/v1/jobs", cookie).status, 200)
        r = self.as_cookie("POST", "/api/v1/jobs/any/run", cookie, csrf=csrf, body={})
        self.assertEqual(r.status, 403, r)
        self.assertIn("role viewer", r.json["error"])

    def test_logout_and_revocation_end_sessions(self):
        cookie, csrf, _ = self.login(self.dev.token)
        r = self.as_cookie("DELETE", "/api/v1/session", cookie)  # a change: CSRF needed
        self.assertEqual(r.status, 403, r)
        r = self.as_cookie("DELETE", "/api/v1/session", cookie, csrf=csrf)
        self.assertEqual(r.status, 200, r)
        self.assertIn("Max-Age=0", r.headers["set-cookie"])
        self.assertEqual(self.as_cookie("GET", "/api/v1/whoami", cookie).status, 401)

        t = self.admin.post("/api/v1/tokens", {"name": "soon-revoked", "role": "operator"})
        cookie, csrf, _ = self.login(t.json["token"])
        self.assertEqual(self.as_cookie("GET", "/api/v1/whoami", cookie).status, 200)
        self.assertEqual(self.admin.delete("/api/v1/tokens/soon-revoked").status, 200)
        r = self.as_cookie("GET", "/api/v1/whoami", cookie)
        self.assertEqual(r.status, 401, r)
        self.assertIn("revoked", r.json["error"])

    def test_bearer_token_wins_over_a_cookie(self):
        # A request with both is judged by its Authorization header alone.
        cookie, csrf, _ = self.login(self.dev.token)
        r = harness.Api(self.dev.url, token="pgd_" + "1" * 64).request(
            "GET", "/api/v1/whoami", headers={"Cookie": cookie})
        self.assertEqual(r.status, 401, r)


if __name__ == "__main__":
    harness.main()
