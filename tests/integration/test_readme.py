"""The README's first command: `pagoda dev --example` creates the job
`hello`, runs it, prints its log as it is produced and its final state."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class Readme(harness.PagodaTestCase):
    def test_dev_example_prints_hello_log_and_succeeded(self):
        dev = self.start("dev", ["--example"])
        out = harness.wait_until(
            lambda: dev.stdout() if re.search(r"Example: execution \d+ \w+, exit code", dev.stdout()) else None,
            timeout=20, what="the example's final line")
        m = re.search(r"Example: execution (\d+) (\w+), exit code (-?\d+)", out)
        self.assertIsNotNone(m, out)
        eid = int(m.group(1))
        self.assertEqual(m.group(2), "succeeded", out)
        self.assertEqual(m.group(3), "0", out)
        self.assertIn("Hello from Pagoda, execution %d of job hello" % eid, out)
        for i in (1, 2, 3):
            self.assertIn("step %d\n" % i, out)
        # The log came before the final line, and the API agrees.
        self.assertLess(out.index("step 3"), m.start())
        e = dev.api().execution(eid)
        self.assertEqual(e["state"], "succeeded")
        self.assertEqual(e["job"], "hello")
        self.assertStopsCleanly(dev)


if __name__ == "__main__":
    harness.main()
