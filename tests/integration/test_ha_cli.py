"""The CLI for a cluster (issue 16, docs/cli.md "Addresses"): with a list of
masters whose first is dead or a standby, and with zk://HOSTS/CLUSTER, the
CLI finds the leader; a standby's `worker list` shows the workers' states
as the leader recorded them in the shared store, including `left` after a
clean stop. (Real ZooKeeper and PostgreSQL: ha_harness.)"""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import ha_harness  # noqa: E402


class HaCli(ha_harness.HaCase):
    MASTERS = 2
    WORKERS = {"cw-1": ["--slots", "2"], "cw-2": ["--slots", "2"]}

    def run_cli(self, addr, *args, env_addr=False, timeout=60):
        env = dict(os.environ)
        env.pop("PAGODA_ADDR", None)
        cmd = [harness.pagoda_bin()]
        if env_addr:
            env["PAGODA_ADDR"] = addr
        else:
            cmd += ["--addr", addr]
        return subprocess.run(cmd + list(args), capture_output=True, text=True, env=env,
                              timeout=timeout)

    def standby(self):
        return [m for m in self.alive_masters() if m is not self.leader][0]

    def dead_url(self):
        return "http://%s:%d" % (harness.HOST, harness.free_port())

    def test_1_list_with_a_dead_master_then_a_standby(self):
        api = self.leader.api()
        self.marker_job(api, "via-list")
        addr = "%s,%s" % (self.dead_url(), self.standby().url)
        p = self.run_cli(addr, "job", "run", "via-list", "--wait", env_addr=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.split()
        self.assertEqual(lines[-1], "succeeded", p.stdout)
        self.assert_ran_once(int(lines[0]))

    def test_2_zookeeper_address(self):
        api = self.leader.api()
        self.marker_job(api, "via-zk")
        addr = "zk://%s/%s" % (self.zk.hosts, self.cluster)
        p = self.run_cli(addr, "job", "run", "via-zk", "--wait")
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.split()
        self.assertEqual(lines[-1], "succeeded", p.stdout)
        self.assert_ran_once(int(lines[0]))
        p = self.run_cli("zk://%s/no-such-cluster" % self.zk.hosts, "job", "list")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("no-such-cluster", p.stderr)

    def test_3_standby_worker_list_shows_states(self):
        sb = self.standby()

        def states():
            p = self.run_cli(sb.url, "worker", "list", "--json")
            if p.returncode != 0:
                return None
            return {w["id"]: w.get("state") for w in json.loads(p.stdout)["workers"]}
        harness.wait_until(lambda: all(states().get(w) == "alive" for w in self.WORKERS)
                           and states(), 20, 0.2, "alive on the standby")
        # a clean stop: `left` on the leader and, through the store, the standby
        w = self.workers["cw-2"]
        self.assertEqual(w.stop(timeout=30), 0, harness.tail(w.stderr_path))
        harness.wait_until(lambda: states().get("cw-2") == "left", 20, 0.2, "cw-2 left on the standby")
        lead = {x["id"]: x["state"] for x in self.leader.api().ok("GET", "/api/v1/workers")["workers"]}
        self.assertEqual(lead.get("cw-2"), "left", lead)
        p = self.run_cli(sb.url, "worker", "list")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"cw-2\s.*left")


if __name__ == "__main__":
    harness.main()
