"""High availability (issue 8): three masters on one PostgreSQL store and
one ZooKeeper cluster name, three workers. Exactly one master leads; the
standbys serve reads from the shared store and answer writes with 503 and
the leader's address; the CLI follows that answer; the workers find the
leader by themselves. (Real ZooKeeper and PostgreSQL servers: ha_harness.)
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import ha_harness  # noqa: E402
from ha_harness import strip_http  # noqa: E402


class Basics(ha_harness.HaCase):
    def standbys(self):
        return [m for m in self.alive_masters() if m is not self.leader]

    def test_1_exactly_one_leader_and_consistent_views(self):
        lead = self.one_leader()
        self.assertIs(lead, self.leader)
        views = self.views()
        for m in self.masters:
            v = views[m.name]
            self.assertEqual(v.get("cluster"), self.cluster, v)
            self.assertEqual(v.get("role"), "leader" if m is lead else "standby", v)
            ms = v.get("masters")
            self.assertIsInstance(ms, list, v)
            self.assertEqual(len(ms), 3, v)
            self.assertEqual(sum(1 for x in ms if x.get("self")), 1, v)
            self.assertEqual(sum(1 for x in ms if x.get("leader")), 1, v)
            me = [x for x in ms if x.get("self")][0]
            self.assertEqual(strip_http(me.get("http")), strip_http(m.url), v)
            le = [x for x in ms if x.get("leader")][0]
            self.assertEqual(strip_http(le.get("http")), strip_http(lead.url), v)
            self.assertIsInstance(v.get("leader"), dict, "%s: no leader object: %s" % (m.name, v))
            self.assertEqual(strip_http(v["leader"].get("http")), strip_http(lead.url), v)
            self.assertEqual(v["leader"].get("rpc"), "%s:%d" % (harness.HOST, lead.rpc_port), v)
            self.assertEqual(v["leader"].get("id"), le.get("id"), v)
            self.assertEqual({strip_http(x.get("http")) for x in ms},
                             {strip_http(x.url) for x in self.masters}, v)
            h = m.api().health()
            self.assertEqual(h.get("role"), "leader" if m is lead else "standby", h)
        ep = views[lead.name].get("epoch")
        self.assertIsInstance(ep, int, views[lead.name])
        self.assertGreater(ep, 0, views[lead.name])

    def test_2_standbys_serve_reads_and_redirect_writes(self):
        api = self.leader.api()
        self.marker_job(api, "readme")
        eid = self.run_sleep(api, "readme", 0)
        api.wait_final(eid, timeout=20)
        for sb in self.standbys():
            sapi = sb.api()
            jobs = sapi.ok("GET", "/api/v1/jobs", expect=(200,))["jobs"]
            self.assertIn("readme", [j["name"] for j in jobs])
            self.assertEqual(sapi.ok("GET", "/api/v1/jobs/readme", expect=(200,))["type"], "shell")
            e = harness.wait_until(lambda: (lambda x: x if x["state"] == "succeeded" else None)(
                sapi.execution(eid)), 10, 0.05, "standby %s shows execution %s succeeded" % (sb.name, eid))
            self.assertEqual(len(e["attempts"]), 1, e)
            self.assertIn(eid, [x["id"] for x in sapi.executions(job="readme")])
            self.assertEqual(sapi.get("/api/v1/executions/999999").status, 404)

            before = len(api.executions(job="readme"))
            want_leader = "http://" + strip_http(self.leader.url)
            writes = [("POST", "/api/v1/jobs", {"name": "nope", "type": "shell",
                                                 "params": {"script": "true"}}),
                      ("POST", "/api/v1/jobs/readme/run", None),
                      ("DELETE", "/api/v1/jobs/readme", None),
                      ("POST", "/api/v1/executions/%d/kill" % eid, None)]
            for method, path, body in writes:
                r = sapi.request(method, path, body=body)
                self.assertEqual(r.status, 503, "%s %s on standby %s: %r" % (method, path, sb.name, r))
                j = r.json
                self.assertEqual(j.get("leader"), want_leader, j)
                self.assertIn("standby", j.get("error", ""), j)
                self.assertIn(want_leader, j.get("error", ""), j)
            # Nothing of the refused writes happened.
            self.assertEqual(len(api.executions(job="readme")), before)
            self.assertEqual(api.get("/api/v1/jobs/nope").status, 404)
            self.assertEqual(api.get("/api/v1/jobs/readme").status, 200)
        self.assert_ran_once(eid)

    def test_3_cli_follows_a_standby_to_the_leader(self):
        api = self.leader.api()
        self.marker_job(api, "viacli", params={"script": ha_harness.MARKER_SCRIPT,
                                               "env": {"MARKERS": self.markers, "SLEEP": "0"}})
        sb = self.standbys()[0]
        p = self.cli(sb, "job", "run", "viacli")
        eid = int(p.stdout.strip().splitlines()[0])
        self.assertEqual(api.wait_final(eid, timeout=20)["state"], "succeeded")
        p = self.cli(sb, "job", "run", "viacli", "--wait")
        lines = p.stdout.strip().splitlines()
        self.assertEqual(lines[-1], "succeeded", p.stdout)
        eid2 = int(lines[0])
        # Exactly the two runs the CLI asked for, each once.
        ids = sorted(x["id"] for x in api.executions(job="viacli"))
        self.assertEqual(ids, sorted([eid, eid2]))
        for i in ids:
            self.assert_ran_once(i)
        # Reads through a standby need no redirect.
        js = json.loads(self.cli(sb, "exec", "show", str(eid)).stdout)
        self.assertEqual(js["state"], "succeeded")

    def test_4_workers_follow_the_leader(self):
        ws = self.wait_workers_alive(self.leader, set(self.WORKERS))
        self.assertEqual({i for i, w in ws.items() if w["state"] == "alive"}, set(self.WORKERS), ws)
        for wid in self.WORKERS:
            self.assertEqual(ws[wid]["slots"], 3, ws[wid])
        # They really take work from the leader: nine 1 s runs fill the 9 slots.
        api = self.leader.api()
        self.marker_job(api, "spread")
        ids = [self.run_sleep(api, "spread", 1) for _ in range(9)]
        done = self.wait_all_final(api, ids, timeout=30)
        self.assertEqual(set(done.values()), {"succeeded"}, done)
        used = {api.execution(i)["worker_id"] for i in ids}
        self.assertEqual(used, set(self.WORKERS))
        for i in ids:
            self.assert_ran_once(i)


if __name__ == "__main__":
    harness.main()
