"""Alarms and high availability (docs/alarms.md "Delivery"): an alarm that
is still pending when the leader is killed (its webhook receiver is down)
is delivered by the next leader, exactly once since no send had succeeded
before the kill; the new leader raises a leader_change alarm."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import ha_harness  # noqa: E402
from alarm_receivers import WebhookReceiver  # noqa: E402

SECRET = "ha-alarm-secret"


class AlarmFailover(ha_harness.HaCase):
    MASTERS = 2
    WORKERS = {"hw-1": ["--slots", "2"]}

    @classmethod
    def _set_up_cluster(cls):
        cls.receiver = WebhookReceiver(secret=SECRET)  # not started: "down"
        secret = os.path.join(cls.tmp, "hook.secret")
        with open(secret, "w") as f:
            f.write(SECRET)
        os.chmod(secret, 0o600)
        cls.conf = os.path.join(cls.tmp, "pagoda.conf")
        with open(cls.conf, "w") as f:
            f.write("""
master: { alarms: {
  backoff_initial = "1s"; backoff_max = "2s";
  channels = ( { name = "hook"; type = "webhook"; url = "%s"; secret_file = "%s"; timeout = "2s"; } );
  rules = ( { on = ["failed"]; job = "ha-fail"; },
            { on = ["leader_change"]; } );
}; };
""" % (cls.receiver.url, secret))
        super()._set_up_cluster()

    @classmethod
    def master_args(cls):
        return super().master_args() + ["--config", cls.conf]

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.receiver.stop()

    def test_pending_alarm_delivered_by_the_next_leader(self):
        old = self.leader
        api = old.api()
        api.shell_job("ha-fail", "exit 7")
        eid = api.run("ha-fail")
        api.wait_final(eid, timeout=30)

        def pending_alarm():
            for a in api.ok("GET", "/api/v1/alarms?state=pending")["alarms"]:
                if a.get("execution_id") == eid and a["deliveries"]["hook"]["attempts"] >= 1:
                    return a
            return None
        alarm = harness.wait_until(pending_alarm, timeout=30, what="a pending alarm with a failed attempt")
        old_epoch = ha_harness.cluster_view(old)["epoch"]
        old.kill9()
        survivors = self.alive_masters()
        new, took = self.wait_new_leader(survivors, self.SESSION_MS / 1000.0 + 20)
        type(self).leader = new
        napi = new.api()
        self.receiver.start()
        posts = harness.wait_until(lambda: self.receiver.matching(lambda j: j.get("id") == alarm["id"]),
                                   timeout=60, what="the pending alarm delivered by the new leader")
        self.assertTrue(posts[0]["signature_ok"])
        self.assertEqual(posts[0]["json"]["execution_id"], eid)
        self.assertEqual(posts[0]["headers"]["x-pagoda-alarm-id"], str(alarm["id"]))
        done = harness.wait_until(
            lambda: [a for a in napi.ok("GET", "/api/v1/alarms?state=delivered")["alarms"]
                     if a["id"] == alarm["id"]], timeout=30, what="the alarm recorded as delivered")[0]
        self.assertEqual(done["deliveries"]["hook"]["state"], "sent")
        # no send had succeeded before the kill, so exactly one arrived
        self.assertEqual(len(self.receiver.matching(lambda j: j.get("id") == alarm["id"])), 1)
        # the new leader said so; its alarm has an id after the old leader's
        lc = harness.wait_until(
            lambda: self.receiver.matching(lambda j: j.get("event") == "leader_change"
                                           and ("epoch %d" % ha_harness.cluster_view(new)["epoch"])
                                           in j.get("subject", "")),
            timeout=30, what="a leader_change alarm from the new leader")
        self.assertGreater(lc[0]["json"]["id"], alarm["id"])
        self.assertGreater(ha_harness.cluster_view(new)["epoch"], old_epoch)
        sys.stderr.write("\n[ha-alarms] new leader after %.2f s; alarm %d delivered once\n" %
                         (took, alarm["id"]))


if __name__ == "__main__":
    harness.main()
