"""The event stream shows an execution as GET /api/v1/executions lists it:
without its `definition`, so a job's secret_env values never reach a stream
(docs/api.md "Events", "Secret variables"). They did: each execution event
carried the master's record with the definition in clear (found while
making the event frame cheaper, issue 17)."""

import http.client
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SECRET = "hunter2-not-in-events"


class EventsWithoutSecrets(harness.PagodaTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dev = cls.start("dev", ["--slots", "2"])
        cls.api = cls.dev.api()

    def read_events(self, until, timeout=30):
        """The stream from position 0 (a resume: the whole ring) until
        `until(data)` holds for the text read so far."""
        host, port = self.dev.url.split("//")[1].split(":")
        c = http.client.HTTPConnection(host, int(port), timeout=timeout)
        headers = dict(self.api.auth_headers())
        headers.update({"Accept": "text/event-stream", "Last-Event-ID": "0"})
        c.request("GET", "/api/v1/events?kinds=execution", headers=headers)
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        data = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not until(data):
            chunk = r.fp.read1(65536)
            if not chunk:
                break
            data += chunk
        c.close()
        return data.decode()

    def test_no_definition_no_secret(self):
        self.api.create_job({"name": "sec", "type": "shell", "params": {"argv": ["/bin/true"]},
                             "secret_env": {"PW": SECRET}})
        eid = self.api.run("sec")
        self.assertEqual(self.api.wait_final(eid, timeout=60)["state"], "succeeded")
        text = self.read_events(lambda d: b'"final":true' in d)
        events = [json.loads(line[len("data: "):]) for line in text.splitlines()
                  if line.startswith("data: ")]
        mine = [e for e in events if e.get("id") == eid]
        self.assertTrue(mine, text[:500])
        self.assertTrue(mine[-1]["final"])
        for e in mine:
            self.assertNotIn("definition", e["execution"])
            self.assertEqual(e["execution"]["job"], "sec")
            self.assertEqual(e["execution"]["params"]["argv"], ["/bin/true"])
        self.assertNotIn(SECRET, text)
        self.assertEqual(mine[-1]["execution"]["state"], "succeeded")
        self.assertIsNotNone(mine[-1]["execution"]["finished_at"])


if __name__ == "__main__":
    import unittest
    unittest.main(verbosity=2)
