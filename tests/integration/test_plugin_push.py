"""Plugins deployed to the whole cluster from one place (docs/plugins.md
"Pushing a plugin"): `pagoda plugin push` on a master with three workers
runs jobs of the new type on all three; a new version replaces it without a
restart and without failing a running job; a worker that joins later
fetches it; rollback returns to the previous version; a broken file is
refused with a clear error; only admins push; the reserved resource names
cannot be written through the resource API."""

import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_cluster_base import ClusterCase  # noqa: E402

TYPE = "pushed_echo"
DEADLINE = 60  # generous: the machine is loaded


def push_plugin(name):
    return harness.test_plugin("plugins-push", name)


class PluginPush(ClusterCase):
    WORKERS = {"w-a": ["--slots", "2"], "w-b": ["--slots", "2"], "w-c": ["--slots", "2"]}

    def cli(self, *args):
        env = dict(os.environ)
        env["PAGODA_ADDR"] = self.master.url
        env.pop("PAGODA_CONFIG", None)
        p = subprocess.run([harness.pagoda_bin()] + list(args), env=env, capture_output=True,
                           timeout=120, cwd=self.tmp)
        return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")

    def ok(self, *args):
        rc, out, err = self.cli(*args)
        self.assertEqual(rc, 0, "pagoda %s -> %d\nstdout: %s\nstderr: %s" % (" ".join(args), rc, out, err))
        return out

    def pushed(self):
        for p in self.api.ok("GET", "/api/v1/plugins/pushed")["pushed"]:
            if p["type"] == TYPE:
                return p
        return None

    def wait_active_everywhere(self, sha, workers):
        """Every worker of `workers` reports `sha` active, and the master
        offers the type on each of them."""
        def check():
            p = self.pushed()
            if not p or p["active"] != sha:
                return None
            active = {w["worker"] for w in p["workers"] if w["sha256"] == sha and w["status"] == "active"}
            if not set(workers) <= active:
                return None
            ws = self.worker_map()
            return p if all(TYPE in ws[w]["types"] for w in workers) else None
        return harness.wait_until(check, timeout=DEADLINE, interval=0.2,
                                  what="version %s active on %s" % (sha[:12], sorted(workers)))

    def run_everywhere(self, expect_version, workers):
        """A broadcast job of the pushed type: one task per worker, each
        printing the version of the plugin that made its process."""
        e = self.api.wait_final(self.api.run("push-all"), timeout=DEADLINE)
        self.assertEqual(e["state"], "succeeded", e)
        self.assertEqual(sorted(t["worker_id"] for t in e["tasks"]), sorted(workers), e)
        log = self.api.log(e["id"])
        self.assertIn("pushed_echo version %s" % expect_version, log)
        return e

    def test_push_replace_join_rollback(self):
        all3 = ["w-a", "w-b", "w-c"]
        pids = {w: d.proc.pid for w, d in self.workers.items()}
        master_pid = self.master.proc.pid
        # a broken file first: refused with the reason, nothing changes
        rc, out, err = self.cli("plugin", "push", push_plugin("pushed_echo_broken.so"))
        self.assertEqual(rc, 1, out + err)
        self.assertIn("plugin refused: init failed: pushed_echo: this build is broken on purpose", err)
        self.assertIsNone(self.pushed())
        not_elf = os.path.join(self.tmp, "not-a-plugin.so")
        with open(not_elf, "w") as f:
            f.write("#!/bin/sh\necho not a plugin\n")
        r = self.api.request("PUT", "/api/v1/plugins", raw=open(not_elf, "rb").read(),
                             headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 422, r)
        self.assertIn("not an ELF shared object", r.json["error"])

        # version 1: every worker fetches it, jobs run on all three
        out = self.ok("plugin", "push", push_plugin("pushed_echo_1.so"))
        self.assertIn("plugin %s: version" % TYPE, out)
        self.assertIn("(1) pushed and active", out)
        v1 = self.pushed()["active"]
        self.assertEqual(len(v1), 64)
        self.wait_active_everywhere(v1, all3)
        self.api.ok("POST", "/api/v1/jobs", {"name": "push-all", "type": TYPE, "mode": "broadcast"})
        self.api.ok("POST", "/api/v1/jobs", {"name": "push-slow", "type": TYPE, "params": {"sleep": "4"}})
        self.run_everywhere("1", all3)

        # version 2 while a job of version 1 runs: no restart, the job ends well
        slow = self.api.run("push-slow")
        self.api.wait_for_state(slow, ["running"], timeout=DEADLINE)
        out = self.ok("plugin", "push", push_plugin("pushed_echo_2.so"))
        self.assertIn("(2) pushed and active; previous %s" % v1[:12], out)
        v2 = self.pushed()["active"]
        self.assertNotEqual(v1, v2)
        self.wait_active_everywhere(v2, all3)
        e = self.api.wait_final(slow, timeout=DEADLINE)
        self.assertEqual(e["state"], "succeeded", e)
        self.assertIn("pushed_echo version 1", self.api.log(slow))
        self.run_everywhere("2", all3)
        self.assertEqual({w: d.proc.pid for w, d in self.workers.items()}, pids)
        self.assertEqual(self.master.proc.pid, master_pid)
        self.assertTrue(all(d.alive() for d in self.workers.values()))

        # a worker that joins later fetches the active version
        self.workers["w-d"] = self.start_worker("w-d", ["--slots", "2"])
        self.wait_workers({"w-d"})
        self.wait_active_everywhere(v2, all3 + ["w-d"])
        self.run_everywhere("2", all3 + ["w-d"])

        # rollback: version 1 again, everywhere
        out = self.ok("plugin", "rollback", TYPE)
        self.assertIn("plugin %s: back to version %s (1)" % (TYPE, v1[:12]), out)
        self.wait_active_everywhere(v1, all3 + ["w-d"])
        self.run_everywhere("1", all3 + ["w-d"])
        rc, out, err = self.cli("plugin", "rollback", TYPE)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("no earlier pushed version", err)

        # the list shows which worker holds what
        out = self.ok("plugin", "list")
        self.assertIn("PUSHED TYPE", out)
        for w in all3 + ["w-d"]:
            self.assertRegex(out, r"%s\s+%s\s+\S+\s+%s\s+%s\s+active" % (TYPE, v1[:12], w, v1[:12]))

        # a worker that cannot load the version: it says why, and gets no job of the type
        self.workers["w-x"] = self.start_worker("w-x", ["--slots", "2"],
                                                env={"PUSHED_ECHO_REFUSE": "1"})
        self.wait_workers({"w-x"})

        def refused():
            for w in self.pushed()["workers"]:
                if w["worker"] == "w-x" and w["sha256"] == v1 and w["status"] == "refused":
                    return w
            return None
        w = harness.wait_until(refused, timeout=DEADLINE, interval=0.2, what="w-x refusing the version")
        self.assertIn("init failed: pushed_echo: refused on this host", w["reason"])
        self.assertNotIn(TYPE, self.worker_map()["w-x"]["types"])
        self.run_everywhere("1", all3 + ["w-d"])  # not on w-x
        out = self.ok("plugin", "list")
        self.assertRegex(out, r"w-x\s+%s\s+refused\s+init failed: pushed_echo: refused on this host" % v1[:12])

    def test_only_admins_push_and_reserved_names(self):
        tok = self.api.ok("POST", "/api/v1/tokens", {"name": "push-op", "role": "operator"})["token"]
        op = harness.Api(self.master.url, token=tok)
        r = op.request("PUT", "/api/v1/plugins", raw=open(push_plugin("pushed_echo_1.so"), "rb").read(),
                       headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 403, r)
        r = op.post("/api/v1/plugins/%s/rollback" % TYPE)
        self.assertEqual(r.status, 403, r)
        r = self.api.request("PUT", "/api/v1/resources/_plugin.%s" % TYPE, raw=b"x",
                             headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 403, r)
        self.assertIn("pushed plugins", r.json["error"])
        r = self.api.post("/api/v1/plugins/no_such_type/rollback")
        self.assertEqual(r.status, 404, r)



class PluginPushRestart(ClusterCase):
    """A master that restarts (its copy of the file gone) loads the pushed
    version again from the store, and its worker keeps running it."""

    WORKERS = {"w-r": ["--slots", "2"]}

    def test_master_restart_keeps_the_pushed_version(self):
        with open(push_plugin("pushed_echo_2.so"), "rb") as f:
            r = self.api.request("PUT", "/api/v1/plugins", raw=f.read(),
                                 headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 201, r)
        sha = r.json["sha256"]
        self.master.stop()
        # only the store's copy (the resource _plugin.pushed_echo) is left
        shutil.rmtree(os.path.join(self.master.data, "plugins-pushed"))
        self.master.start(fixed_ports=True)
        self.api = self.master.api()

        def active():
            p = [x for x in self.api.ok("GET", "/api/v1/plugins")["plugins"]
                 if x["type"] == TYPE and x["active"]]
            return p[0] if p else None
        p = harness.wait_until(active, timeout=DEADLINE, interval=0.2, what="the version loaded again")
        self.assertEqual((p["sha256"], p["version"]), (sha, "2"))
        self.assertTrue(os.path.exists(os.path.join(self.master.data, "plugins-pushed", sha + ".so")))
        self.wait_workers({"w-r"})
        self.api.ok("POST", "/api/v1/jobs", {"name": "push-r", "type": TYPE})
        harness.wait_until(lambda: TYPE in self.worker_map()["w-r"]["types"], timeout=DEADLINE,
                           what="w-r offering the type again")
        e = self.api.wait_final(self.api.run("push-r"), timeout=DEADLINE)
        self.assertEqual(e["state"], "succeeded", e)
        self.assertIn("pushed_echo version 2", self.api.log(e["id"]))


if __name__ == "__main__":
    harness.main()
