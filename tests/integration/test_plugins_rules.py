"""Plugins loaded off the loop, and the type rules (docs/plugins.md):

- a file that sorts before shell.so and declares type "shell" is refused,
  and shell jobs still run on the real shell.so;
- two files offering one new type are both refused, with a reason naming
  both;
- a plugin whose constructor sleeps a minute (ignoring SIGALRM) is refused
  once the load deadline (--plugin-load-timeout-ms) kills its probe, and
  the daemon keeps answering /api/v1/health while that rescan runs."""

import os
import shutil
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

DEADLINE_MS = 6000


def by_file(plugins, name):
    for p in plugins:
        if os.path.basename(p.get("file") or "") == name:
            return p
    return None


def rules_plugin(name):
    return harness.test_plugin("plugins-rules", name)


class PluginRules(harness.PagodaTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pdir = harness.plugin_dir(cls.tmp, *(rules_plugin(n) for n in
                                                  ("a_fake_shell.so", "twice_1.so", "twice_2.so")))
        cls.slow = rules_plugin("slow_ctor.so")
        cls.dev = cls.start("dev", ["--plugins", cls.pdir, "--slots", "2",
                                    "--plugin-load-timeout-ms", str(DEADLINE_MS)])
        cls.api = cls.dev.api()

    def plugins(self):
        return self.api.ok("GET", "/api/v1/plugins")["plugins"]

    def test_a_builtin_type_is_not_taken_over(self):
        ps = self.plugins()
        fake = by_file(ps, "a_fake_shell.so")
        self.assertEqual(fake["status"], "refused", fake)
        self.assertIn('type "shell" is built in', fake["reason"])
        real = by_file(ps, "shell.so")
        self.assertEqual(real["status"], "loaded", real)
        self.assertEqual(real["type"], "shell")
        self.api.shell_job("still-shell", "echo real-shell")
        eid = self.api.run("still-shell")
        e = self.api.wait_for_state(eid, {"succeeded"}, timeout=20)
        self.assertEqual(e["exit_code"], 0)
        self.assertIn("real-shell", self.api.log(eid))

    def test_two_files_with_one_new_type_are_both_refused(self):
        ps = self.plugins()
        for name in ("twice_1.so", "twice_2.so"):
            p = by_file(ps, name)
            self.assertEqual(p["status"], "refused", p)
            self.assertIn('type "test_twice" is offered by more than one file', p["reason"])
            self.assertIn("twice_1.so", p["reason"])
            self.assertIn("twice_2.so", p["reason"])
        r = self.api.post("/api/v1/jobs", {"name": "twice", "type": "test_twice", "params": {}})
        self.assertEqual(r.status, 400, r)

    def test_z_a_hanging_plugin_does_not_stall_the_daemon(self):
        shutil.copy(self.slow, self.pdir)
        answer = {}

        def reload():
            answer["r"] = self.dev.api().request("POST", "/api/v1/plugins/reload",
                                                 timeout=DEADLINE_MS / 1000 + 30)

        t = threading.Thread(target=reload)
        t.start()
        # While the slow file is being probed (its constructor sleeps 60 s,
        # the deadline is 6 s), the loop keeps answering.
        answered_during = 0
        health = self.dev.api()
        while t.is_alive():
            r = health.get("/api/v1/health", timeout=30)
            self.assertEqual(r.status, 200, r)
            if t.is_alive():
                answered_during += 1
            t.join(0.2)
        self.assertGreater(answered_during, 0,
                           "no health answer while the rescan ran: the loop was blocked")
        # The rescan (the reload's own, or the periodic one that raced it)
        # refused the file with the deadline as its reason.
        p = harness.wait_until(lambda: (lambda x: x if x and x["status"] == "refused" else None)(
            by_file(self.plugins(), "slow_ctor.so")), 30, 0.1, "slow_ctor.so refused")
        self.assertIn("did not finish loading within %d ms" % DEADLINE_MS, p["reason"])
        self.assertIn("killed", p["reason"])
        self.assertEqual(answer["r"].status, 200, answer["r"])
        r = self.api.post("/api/v1/jobs", {"name": "slow", "type": "test_slow", "params": {}})
        self.assertEqual(r.status, 400, r)
        self.api.health()  # still serving

if __name__ == "__main__":
    harness.main()
