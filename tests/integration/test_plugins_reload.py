#!/usr/bin/env python3
"""POST /api/v1/plugins/reload: a plugin .so copied into the plugins
directory of a running `pagoda dev` is loaded by the reload request itself
(the answer already lists it, and a job of its type can be created at
once), a broken .so is answered as refused with its reason, a second reload
loads nothing, and the route takes only POST (405 with Allow)."""

import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def by_file(plugins, name):
    for p in plugins:
        if os.path.basename(p.get("file") or "") == name:
            return p
    return None


class PluginsReload(harness.PagodaTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pdir = harness.plugin_dir(cls.tmp)
        cls.extra = harness.test_plugin("plugins-mixed", "c_inproc.so")
        cls.dev = cls.start("dev", ["--plugins", cls.pdir, "--slots", "2"])
        cls.api = cls.dev.api()

    def test_a_reload_loads_a_new_plugin(self):
        job = {"name": "inproc", "type": "test_inproc", "params": {}}
        self.assertEqual(self.api.post("/api/v1/jobs", job).status, 400)

        tmp = os.path.join(self.pdir, ".c_inproc.so.part")
        shutil.copy(self.extra, tmp)
        os.rename(tmp, os.path.join(self.pdir, "c_inproc.so"))
        out = self.api.ok("POST", "/api/v1/plugins/reload")
        # The periodic rescan (every 2 s) may have won the race by a hair;
        # either way the answer already shows the plugin loaded.
        self.assertIn(out["loaded"], (0, 1), out)
        p = by_file(out["plugins"], "c_inproc.so")
        self.assertIsNotNone(p, out)
        self.assertEqual(p["status"], "loaded", p)
        self.assertEqual(p["type"], "test_inproc", p)
        self.assertEqual(out["refused"], 0, out)
        self.assertEqual(by_file(out["plugins"], "shell.so")["status"], "loaded")

        # No waiting: the master validates jobs of the new type now.
        self.api.ok("POST", "/api/v1/jobs", job)
        listed = self.api.ok("GET", "/api/v1/plugins")["plugins"]
        self.assertEqual(by_file(listed, "c_inproc.so")["status"], "loaded")

        again = self.api.ok("POST", "/api/v1/plugins/reload")
        self.assertEqual(again["loaded"], 0, again)

    def test_b_a_broken_plugin_is_answered_refused(self):
        with open(os.path.join(self.pdir, "garbage.so"), "w") as f:
            f.write("not an ELF file\n")
        out = self.api.ok("POST", "/api/v1/plugins/reload")
        self.assertEqual(out["loaded"], 0, out)
        self.assertGreaterEqual(out["refused"], 1, out)
        p = by_file(out["plugins"], "garbage.so")
        self.assertIsNotNone(p, out)
        self.assertEqual(p["status"], "refused", p)
        self.assertIn("garbage.so", p["reason"])
        # Everything else keeps working.
        self.api.shell_job("after-garbage", script="echo still fine")
        eid = self.api.run("after-garbage")
        self.assertEqual(self.api.wait_final(eid)["state"], "succeeded")

    def test_c_reload_takes_only_post(self):
        r = self.api.get("/api/v1/plugins/reload")
        self.assertEqual(r.status, 405, r)
        self.assertIn("POST", r.json["error"])
        allow = {k.lower(): v for k, v in r.headers.items()}.get("allow")
        self.assertEqual(allow, "POST", r.headers)


if __name__ == "__main__":
    harness.main()
