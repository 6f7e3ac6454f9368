"""The server side of the console's admin pages (docs/console.md,
docs/api.md "Paging" and the plugins' console views): limit/after paging of
jobs, resources, flows and schedules, the views a plugin ships beside its .so listed and
served with their sandboxing CSP, and the refusals (unknown type, unknown
view, a name that is not a view, no token, a bad limit)."""

import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

VIEW = b"<!doctype html><p>view of the shell type</p><script>parent.postMessage({pagoda:1},'*')</script>\n"


class ConsoleAdminApi(harness.PagodaTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        pdir = harness.plugin_dir(cls.tmp)
        os.makedirs(os.path.join(pdir, "shell.console"))
        with open(os.path.join(pdir, "shell.console", "result.html"), "wb") as f:
            f.write(VIEW)
        # A file that is not one of the two view names is never served.
        with open(os.path.join(pdir, "shell.console", "secret.html"), "wb") as f:
            f.write(b"not a view")
        cls.dev = cls.start("dev", ["--plugins", pdir])
        cls.api = cls.dev.api()

    def test_jobs_paged_by_name(self):
        names = ["page-%02d" % i for i in range(7)]
        for n in reversed(names):  # created out of order: the pages follow the names
            self.api.shell_job(n, "true")
        seen, after = [], None
        while True:
            path = "/api/v1/jobs?limit=3" + ("&after=" + after if after else "")
            page = self.api.ok("GET", path)
            got = [j["name"] for j in page["jobs"] if j["name"].startswith("page-")]
            seen += got
            self.assertLessEqual(len(page["jobs"]), 3)
            after = page["next_after"]
            if after is None:
                break
            self.assertEqual(after, page["jobs"][-1]["name"])
        self.assertEqual(seen, names)
        whole = self.api.ok("GET", "/api/v1/jobs")
        self.assertIsNone(whole["next_after"])
        self.assertEqual(len([j for j in whole["jobs"] if j["name"].startswith("page-")]), 7)
        for bad in ("0", "10001", "x"):
            r = self.api.get("/api/v1/jobs?limit=" + bad)
            self.assertEqual(r.status, 400, r.text)
            self.assertIn("limit", r.json["error"])

    def test_resources_paged_by_name(self):
        for n in ("res-c", "res-a", "res-b"):
            r = self.api.request("PUT", "/api/v1/resources/" + n, raw=n.encode(),
                                 headers={"Content-Type": "application/octet-stream"})
            self.assertIn(r.status, (200, 201), r.text)
        first = self.api.ok("GET", "/api/v1/resources?limit=2")
        self.assertEqual([x["name"] for x in first["resources"]], ["res-a", "res-b"])
        self.assertEqual(first["next_after"], "res-b")
        rest = self.api.ok("GET", "/api/v1/resources?limit=2&after=res-b")
        self.assertEqual([x["name"] for x in rest["resources"]], ["res-c"])
        self.assertIsNone(rest["next_after"])

    def test_flows_and_schedules_paged_by_name(self):
        self.api.shell_job("paged-target", "true")
        for n in ("fl-b", "fl-c", "fl-a"):
            self.api.ok("POST", "/api/v1/flows", {"name": n, "nodes": [{"id": "one", "job": "paged-target"}]})
            self.api.ok("POST", "/api/v1/schedules", {"name": "sc-" + n, "job": "paged-target", "every": "1h",
                                                      "enabled": False})
        for kind, prefix in (("flows", "fl-"), ("schedules", "sc-fl-")):
            first = self.api.ok("GET", "/api/v1/%s?limit=2" % kind)
            self.assertEqual([x["name"] for x in first[kind]], [prefix + "a", prefix + "b"], first)
            self.assertEqual(first["next_after"], prefix + "b")
            rest = self.api.ok("GET", "/api/v1/%s?limit=2&after=%s" % (kind, first["next_after"]))
            self.assertEqual([x["name"] for x in rest[kind]], [prefix + "c"])
            self.assertIsNone(rest["next_after"])
            self.assertEqual(len(self.api.ok("GET", "/api/v1/" + kind)[kind]), 3)

    def test_views_listed_and_served_with_csp(self):
        plugins = {p.get("type"): p for p in self.api.ok("GET", "/api/v1/plugins")["plugins"]}
        self.assertEqual(plugins["shell"]["console"], ["result"])
        r = self.api.get("/api/v1/plugins/shell/console/result.html")
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(r.body, VIEW)
        self.assertTrue(r.headers["content-type"].startswith("text/html"))
        csp = r.headers["content-security-policy"]
        for part in ("default-src 'none'", "sandbox allow-scripts", "frame-ancestors 'self'",
                     "form-action 'none'"):
            self.assertIn(part, csp)
        self.assertNotIn("allow-same-origin", csp)
        self.assertEqual(r.headers["x-content-type-options"], "nosniff")

    def test_view_refusals(self):
        for path, status in (("/api/v1/plugins/shell/console/form.html", 404),       # not shipped
                             ("/api/v1/plugins/nosuch/console/result.html", 404),    # no such type
                             ("/api/v1/plugins/shell/console/secret.html", 404),     # not a view name
                             ("/api/v1/plugins/shell/console/result.htm", 404),
                             ("/api/v1/plugins/shell/console/..%2Fshell.so", 404)):
            r = self.api.get(path)
            self.assertEqual(r.status, status, "%s: %s" % (path, r.text))
            self.assertNotIn(b"not a view", r.body)
        anon = harness.Api(self.dev.url, token=False)
        self.assertEqual(anon.get("/api/v1/plugins/shell/console/result.html").status, 401)


if __name__ == "__main__":
    harness.main()
