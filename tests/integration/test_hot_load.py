#!/usr/bin/env python3
"""Hot loading: a plugin .so copied into the plugins directory of a running
`pagoda dev` is loaded without a restart, its job type is advertised by the
worker and runs; a broken .so dropped there later is refused with a reason
and changes nothing else."""

import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class HotLoad(harness.PagodaTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pdir = harness.plugin_dir(cls.tmp)
        cls.extra = harness.test_plugin("plugins-mixed", "c_inproc.so")
        cls.dev = cls.start("dev", ["--plugins", cls.pdir, "--slots", "2"])
        cls.api = cls.dev.api()

    def types(self):
        return {p.get("type") for p in self.api.ok("GET", "/api/v1/plugins")["plugins"]
                if p.get("status") == "loaded"}

    def worker_types(self):
        ws = self.api.ok("GET", "/api/v1/workers")["workers"]
        return set(ws[0]["types"]) if ws else set()

    def test_a_plugin_dropped_in_is_loaded_and_runs(self):
        job = {"name": "inproc", "type": "test_inproc", "params": {}}
        r = self.api.post("/api/v1/jobs", job)
        self.assertEqual(r.status, 400, r)
        self.assertIn("test_inproc", r.json["error"])

        # Copy under a temporary name, then rename: what an operator's deploy does.
        tmp = os.path.join(self.pdir, ".c_inproc.so.part")
        shutil.copy(self.extra, tmp)
        os.rename(tmp, os.path.join(self.pdir, "c_inproc.so"))
        harness.wait_until(lambda: "test_inproc" in self.types(), timeout=10,
                           what="the master to load c_inproc.so")
        harness.wait_until(lambda: "test_inproc" in self.worker_types(), timeout=10,
                           what="the worker to advertise test_inproc")

        self.api.ok("POST", "/api/v1/jobs", job)
        eid = self.api.run("inproc")
        ex = self.api.wait_final(eid, timeout=15)
        self.assertEqual(ex["state"], "succeeded", ex)
        log = self.api.log(eid)
        self.assertIn("start", log)
        self.assertIn("done", log)

    def test_b_a_broken_plugin_dropped_in_is_refused(self):
        with open(os.path.join(self.pdir, "garbage.so"), "w") as f:
            f.write("not an ELF file\n")

        def refused():
            for p in self.api.ok("GET", "/api/v1/plugins")["plugins"]:
                if os.path.basename(p.get("file") or "") == "garbage.so":
                    return p if p.get("status") == "refused" else None
            return None

        harness.wait_until(lambda: refused() is not None, timeout=10,
                           what="garbage.so to be listed as refused")
        self.assertIn("garbage.so", refused()["reason"])
        # Everything else keeps working.
        self.api.shell_job("after-garbage", script="echo still fine")
        eid = self.api.run("after-garbage")
        self.assertEqual(self.api.wait_final(eid)["state"], "succeeded")
        self.assertIn("shell", self.types())


if __name__ == "__main__":
    harness.main()
