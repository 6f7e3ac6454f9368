"""Process containment (docs/operations.md "Process containment"): kill,
timeout, the end of a job's main process and the loss of its worker kill the
job's whole process tree -- setsid children and TERM-ignoring processes
included -- with cgroups (the default when root) and without (--no-cgroups:
/proc scan + child subreaper); job limits (memory_mb, pids) are enforced
with cgroups, and an attempt killed by its memory limit ends `oom_killed`.

Processes are found by a unique argv marker: `sleep <N>` with a number no
other test uses, read from /proc/*/cmdline."""

import itertools
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

_numbers = itertools.count(int(os.getpid() % 1000) * 1000 + 1031000)


def marker():
    """A `sleep` duration no other process on the machine uses."""
    return str(next(_numbers))


def pids_with(mark):
    """Live (non-zombie) processes whose argv is `sleep <mark>`."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().split(b"\0")
            with open("/proc/%s/stat" % d, "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if len(argv) >= 2 and argv[0].endswith(b"sleep") and argv[1] == mark.encode() and state != b"Z":
            found.append(int(d))
    return found


def tree_script(a, b, c):
    """A background sleep, a TERM-ignoring bash with its sleep, a setsid
    sleep (another session and process group), then wait."""
    return ("sleep %s & bash -c \"trap '' TERM; sleep %s\" & setsid sleep %s & "
            "echo started; wait" % (a, b, c))


class ContainmentCases:
    """Tests shared by the cgroup and the /proc-scan classes (cls.dev, cls.api)."""

    def wait_running_tree(self, eid, marks):
        self.api.wait_for_state(eid, {"running"}, timeout=20)
        harness.wait_until(lambda: all(pids_with(m) for m in marks), 20, 0.05,
                           "processes %s started" % marks)

    def assert_all_gone(self, marks, timeout=20):
        harness.wait_until(lambda: not any(pids_with(m) for m in marks), timeout, 0.1,
                           "no process of %s left" % marks)

    def test_kill_ends_the_whole_tree(self):
        marks = [marker() for _ in range(3)]
        self.api.shell_job(self.prefix + "kill-tree", tree_script(*marks))
        eid = self.api.run(self.prefix + "kill-tree")
        self.wait_running_tree(eid, marks)
        self.assertEqual(self.api.post("/api/v1/executions/%d/kill" % eid).status, 202)
        e = self.api.wait_for_state(eid, {"killed"}, timeout=30)
        self.assertEqual(e["state"], "killed")
        # The TERM-ignoring sleep and the setsid one are gone as well: the
        # SIGKILL after the grace fires although the main process exited.
        self.assert_all_gone(marks)

    def test_timeout_ends_the_whole_tree(self):
        marks = [marker() for _ in range(3)]
        self.api.shell_job(self.prefix + "timeout-tree", tree_script(*marks), timeout=2)
        eid = self.api.run(self.prefix + "timeout-tree")
        self.wait_running_tree(eid, marks)
        e = self.api.wait_for_state(eid, {"timed_out"}, timeout=30)
        self.assertEqual(e["state"], "timed_out")
        self.assert_all_gone(marks)

    def test_background_children_of_a_finished_job_are_killed(self):
        marks = [marker() for _ in range(3)]
        # The main process exits at once; its children would run on.
        script = ("sleep %s & setsid sleep %s & bash -c \"trap '' TERM; sleep %s\" & "
                  "sleep 0.3; echo main-done" % tuple(marks))
        self.api.shell_job(self.prefix + "bg-tree", script)
        eid = self.api.run(self.prefix + "bg-tree")
        e = self.api.wait_final(eid, timeout=30)
        self.assertEqual(e["state"], "succeeded", e)
        self.assertIn("main-done", self.api.log(eid))
        # The end is reported once the tree is gone (SIGTERM, then SIGKILL
        # after the grace for the TERM-ignoring one).
        self.assertEqual([m for m in marks if pids_with(m)], [])

    def test_limits_are_validated(self):
        for bad in ({"memory_mb": "1g"}, {"pids": -1}, {"cpus": None}, {"memory_mb": 1.5},
                    {"disk": 1}, [1], "x"):
            r = self.api.post("/api/v1/jobs", {"name": self.prefix + "bad-limits", "type": "shell",
                                               "params": {"script": "true"}, "limits": bad})
            self.assertEqual(r.status, 400, "limits %r: %r" % (bad, r))
            self.assertIn("limits", str(r.json), r)


class WithCgroups(ContainmentCases, harness.PagodaTestCase):
    prefix = "cg-"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        harness.require(os.geteuid() == 0, "containment tests with cgroups need root")
        cls.dev = cls.start("dev", ["--kill-grace-ms", "500", "--slots", "4"])
        cls.api = cls.dev.api()

    def test_cgroup_mode_is_used(self):
        harness.wait_until(lambda: "containment: cgroup" in self.dev.stderr() +
                           self.dev.stdout(), 10, 0.1, "containment logged")

    def test_memory_limit_ends_oom_killed(self):
        self.api.shell_job(self.prefix + "oom", "python3 -c \"a = b'x' * (256 << 20); print(len(a))\"",
                           limits={"memory_mb": 32})
        eid = self.api.run(self.prefix + "oom")
        e = self.api.wait_final(eid, timeout=60)
        self.assertEqual(e["state"], "failed", e)
        self.assertTrue(e.get("error", "").startswith("oom_killed"), e)
        # The same job without the limit succeeds: the limit made the difference.
        self.api.shell_job(self.prefix + "no-oom", "python3 -c \"a = b'x' * (64 << 20); print(len(a))\"")
        e = self.api.wait_final(self.api.run(self.prefix + "no-oom"), timeout=60)
        self.assertEqual(e["state"], "succeeded", e)

    def test_pids_limit(self):
        mark = marker()
        self.api.shell_job(self.prefix + "pids",
                           "for i in $(seq 1 30); do sleep %s & done; echo forked; wait" % mark,
                           limits={"pids": 6})
        eid = self.api.run(self.prefix + "pids")
        harness.wait_until(lambda: "Resource temporarily unavailable" in self.api.log(eid), 60, 0.2,
                           "fork refused by pids.max")
        # bash itself is one of the 6
        self.assertLessEqual(len(pids_with(mark)), 5)
        self.assertEqual(self.api.post("/api/v1/executions/%d/kill" % eid).status, 202)
        self.api.wait_final(eid, timeout=30)
        self.assert_all_gone([mark])


class WithoutCgroups(ContainmentCases, harness.PagodaTestCase):
    prefix = "nocg-"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dev = cls.start("dev", ["--kill-grace-ms", "500", "--slots", "4", "--no-cgroups"])
        cls.api = cls.dev.api()

    def test_procscan_mode_is_used(self):
        harness.wait_until(lambda: "containment: process tracking by /proc scan" in
                           self.dev.stderr() + self.dev.stdout(), 10, 0.1, "containment logged")


class WorkerLoss:
    """A worker killed with SIGKILL: its guard kills the job's tree at once;
    with the guard killed as well, the next start of the worker (same data
    dir) kills what is left before it takes work."""

    FLAGS = []

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.master = cls.start("master", ["--kill-grace-ms", "300"])
        cls.api = cls.master.api()

    def start_worker(self, wid, data=None):
        args = ["--master", "%s:%d" % (harness.HOST, self.master.rpc_port), "--id", wid] + self.FLAGS
        w = harness.Daemon("worker", self.tmp, args, name=wid, data=data)
        type(self).daemons.append(w)
        w.start()
        harness.wait_until(lambda: any(x["id"] == wid and x["state"] == "alive"
                                       for x in self.api.ok("GET", "/api/v1/workers")["workers"]),
                           20, 0.05, "worker %s alive" % wid)
        return w

    def guard_of(self, w):
        """The worker's guard process (a child named pagoda-guard)."""
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % d) as f:
                    st = f.read()
            except OSError:
                continue
            comm = st[st.index("(") + 1:st.rindex(")")]
            ppid = int(st[st.rindex(")") + 2:].split()[1])
            if comm == "pagoda-guard" and ppid == w.proc.pid:
                return int(d)
        return None

    def run_tree(self, job, wid):
        marks = [marker() for _ in range(3)]
        self.api.shell_job(job, tree_script(*marks), relaunch_on_lost=False)
        eid = self.api.run(job)
        harness.wait_until(lambda: all(pids_with(m) for m in marks), 20, 0.05, "tree started")
        return eid, marks

    def test_guard_kills_the_tree_of_a_killed_worker(self):
        w = self.start_worker(self.prefix + "g1")
        self.assertIsNotNone(self.guard_of(w), "no guard process")
        eid, marks = self.run_tree(self.prefix + "loss", self.prefix + "g1")
        w.kill9()
        harness.wait_until(lambda: not any(pids_with(m) for m in marks), 20, 0.1,
                           "tree of the killed worker gone")

    def test_restart_kills_what_a_previous_run_left(self):
        w = self.start_worker(self.prefix + "g2")
        eid, marks = self.run_tree(self.prefix + "left", self.prefix + "g2")
        guard = self.guard_of(w)
        self.assertIsNotNone(guard)
        os.kill(guard, signal.SIGKILL)
        w.kill9()
        # PR_SET_PDEATHSIG ends the main shell; the rest runs on (nobody
        # guards it any more)...
        harness.wait_until(lambda: all(pids_with(m) for m in marks[1:]), 5, 0.1, "leftovers")
        # ... until the worker starts again on the same data dir.
        self.start_worker(self.prefix + "g2", data=w.data)
        harness.wait_until(lambda: not any(pids_with(m) for m in marks), 20, 0.1,
                           "leftovers killed by the next start")


class WorkerLossWithCgroups(WorkerLoss, harness.PagodaTestCase):
    prefix = "wcg-"
    FLAGS = []


class WorkerLossWithoutCgroups(WorkerLoss, harness.PagodaTestCase):
    prefix = "wnocg-"
    FLAGS = ["--no-cgroups"]


if __name__ == "__main__":
    harness.main()
