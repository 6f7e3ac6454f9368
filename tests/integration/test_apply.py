"""Definitions as files (docs/cli.md "Definitions as files"): every file
under examples/ applies to a real `pagoda dev`, the docs quote those files
verbatim, apply -> export -> apply --dry-run changes nothing, --prune deletes
what no file defines, a bad file changes nothing."""

import glob
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

EXAMPLES = os.path.join(harness.source_dir(), "examples")
DOCS = os.path.join(harness.source_dir(), "docs")
SUMMARY = re.compile(r"(\d+) created, (\d+) changed, (\d+) deleted, (\d+) unchanged")


def example_files():
    return sorted(glob.glob(os.path.join(EXAMPLES, "**", "*.json"), recursive=True))


class DocsQuoteExamples(harness.PagodaTestCase):
    """No daemon: the docs and examples/ cannot drift apart."""

    def quotes(self):
        """(doc, example path, quoted text) for every link to an example
        followed by a ```json block."""
        found = []
        pat = re.compile(r"\]\(\.\./examples/([^)]+)\):?\n```json\n(.*?)\n```", re.S)
        for doc in sorted(glob.glob(os.path.join(DOCS, "**", "*.md"), recursive=True)):
            with open(doc) as f:
                text = f.read()
            for m in pat.finditer(text):
                found.append((os.path.relpath(doc, DOCS), m.group(1), m.group(2)))
        return found

    def test_every_example_is_quoted_verbatim(self):
        files = example_files()
        self.assertGreater(len(files), 10, "examples/ holds the docs' definitions")
        quotes = self.quotes()
        quoted = {q[1] for q in quotes}
        for doc, rel, text in quotes:
            path = os.path.join(EXAMPLES, rel)
            self.assertTrue(os.path.isfile(path), "%s links examples/%s, which does not exist" % (doc, rel))
            with open(path) as f:
                self.assertEqual(text + "\n", f.read(),
                                 "%s quotes examples/%s, but not verbatim" % (doc, rel))
        for path in files:
            rel = os.path.relpath(path, EXAMPLES)
            self.assertIn(rel, quoted, "examples/%s is quoted in no doc" % rel)
            with open(path) as f:
                obj = json.load(f)  # real JSON: no // comments
            self.assertIn(obj.get("kind"), ("job", "flow", "schedule", "resource"), rel)

    def test_no_definition_in_docs_outside_examples(self):
        """A ```json block of the docs that defines something (a "kind") is
        a quoted example; one with // comments would not paste."""
        pat = re.compile(r"(\]\(\.\./examples/[^)]+\):?\n)?```json\n(.*?)\n```", re.S)
        for doc in sorted(glob.glob(os.path.join(DOCS, "**", "*.md"), recursive=True)):
            with open(doc) as f:
                text = f.read()
            for m in pat.finditer(text):
                if m.group(1):
                    continue
                block = m.group(2)
                self.assertNotRegex(block, r'"kind":\s*"(job|flow|schedule|resource)"',
                                    "%s has a definition that is not a file of examples/" % doc)
                self.assertNotRegex(block, r'^\s*"name":.*//',
                                    "%s has a definition with // comments" % doc)


class Apply(harness.PagodaTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The examples' flow names hooks/example.lua: the master's hooks
        # directory is beside its balancers directory (docs/flows.md).
        cls.dev = cls.start("dev", ["--balancers", os.path.join(harness.source_dir(), "conf", "balancers")])
        cls.api = cls.dev.api()

    def cli(self, *args):
        env = dict(os.environ)
        env["PAGODA_ADDR"] = self.dev.url
        env.pop("PAGODA_CONFIG", None)
        p = subprocess.run([harness.pagoda_bin()] + list(args), env=env, capture_output=True,
                           timeout=120, cwd=self.tmp)
        return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")

    def ok(self, *args):
        rc, out, err = self.cli(*args)
        self.assertEqual(rc, 0, "pagoda %s -> %d\nstdout: %s\nstderr: %s" % (" ".join(args), rc, out, err))
        return out

    def summary(self, out):
        m = SUMMARY.search(out)
        self.assertIsNotNone(m, out)
        return tuple(int(x) for x in m.groups())

    def names(self, kind):
        return sorted(x["name"] for x in self.api.ok("GET", "/api/v1/%s" % kind)[kind])

    def write(self, path, obj):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            json.dump(obj, f)

    def test_1_examples_apply_then_round_trip(self):
        files = example_files()
        out = self.ok("apply", "-f", EXAMPLES)
        created, changed, deleted, unchanged = self.summary(out)
        self.assertEqual(created, len(files), out)
        # every definition is on the server as its file says
        for path in files:
            with open(path) as f:
                d = json.load(f)
            kind = d.pop("kind")
            if kind == "resource":
                with open(os.path.join(os.path.dirname(path), d.get("file", d["name"])), "rb") as f:
                    content = f.read()
                got = self.api.get("/api/v1/resources/%s" % d["name"])
                self.assertEqual(got.status, 200)
                self.assertEqual(got.body, content, d["name"])
                continue
            got = self.api.ok("GET", "/api/v1/%ss/%s" % (kind, d["name"]))
            for key in ("type", "params", "nodes", "cron", "job"):
                if key in d and kind != "flow":
                    self.assertEqual(got[key], d[key], "%s %s: %s" % (kind, d["name"], key))
            if kind == "flow":
                self.assertEqual([n["id"] for n in got["nodes"]], [n["id"] for n in d["nodes"]])
        # applied again: nothing to change
        out = self.ok("apply", "-f", EXAMPLES, "--dry-run")
        self.assertEqual(self.summary(out), (0, 0, 0, len(files)), out)
        self.assertNotIn("changed:", out)
        # export, then the exported files apply as no change, pruning included
        exported = os.path.join(self.tmp, "exported")
        self.ok("export", exported)
        for sub in ("jobs", "flows", "schedules", "resources"):
            self.assertTrue(os.path.isdir(os.path.join(exported, sub)), sub)
        out = self.ok("apply", "-f", exported, "--dry-run", "--prune")
        self.assertEqual(self.summary(out), (0, 0, 0, len(files)), out)
        # exporting twice gives the same bytes (canonical)
        again = os.path.join(self.tmp, "exported-again")
        self.ok("export", again)
        for path in glob.glob(os.path.join(exported, "**", "*"), recursive=True):
            if os.path.isfile(path):
                with open(path, "rb") as a, open(os.path.join(again, os.path.relpath(path, exported)), "rb") as b:
                    self.assertEqual(a.read(), b.read(), path)

    def test_2_changes_dry_run_and_prune(self):
        d = os.path.join(self.tmp, "defs")
        shutil.rmtree(d, ignore_errors=True)
        self.write(os.path.join(d, "jobs", "ap-a.json"),
                   {"kind": "job", "name": "ap-a", "type": "shell", "params": {"script": "echo a"}})
        self.write(os.path.join(d, "jobs", "ap-b.json"),
                   {"kind": "job", "name": "ap-b", "type": "shell", "params": {"script": "echo b"}})
        self.write(os.path.join(d, "flows", "ap-f.json"),
                   {"kind": "flow", "name": "ap-f", "nodes": [{"id": "one", "job": "ap-a"},
                                                              {"id": "two", "job": "ap-b", "depends_on": ["one"]}]})
        self.write(os.path.join(d, "schedules", "ap-s.json"),
                   {"kind": "schedule", "name": "ap-s", "flow": "ap-f", "every": "1h"})
        self.write(os.path.join(d, "resources", "ap-r.json"), {"kind": "resource", "name": "ap-r"})
        with open(os.path.join(d, "resources", "ap-r"), "w") as f:
            f.write("one\n")
        # --prune on the first apply deletes the examples of test_1 (if it ran)
        self.ok("apply", "-f", d, "--prune")
        self.assertEqual(self.names("jobs"), ["ap-a", "ap-b"])
        self.assertEqual(self.names("schedules"), ["ap-s"])
        out = self.ok("apply", "-f", d, "--dry-run")
        self.assertEqual(self.summary(out), (0, 0, 0, 5), out)

        # change a job and the resource, drop the schedule and job b's node
        self.write(os.path.join(d, "jobs", "ap-a.json"),
                   {"kind": "job", "name": "ap-a", "type": "shell", "params": {"script": "echo A"},
                    "timeout": 60})
        with open(os.path.join(d, "resources", "ap-r"), "w") as f:
            f.write("two\n")
        os.remove(os.path.join(d, "schedules", "ap-s.json"))
        out = self.ok("apply", "-f", d, "--dry-run", "--prune")
        self.assertIn("job ap-a: changed: params timeout", out)
        self.assertIn('- params: {"script":"echo a"}', out)
        self.assertIn('+ params: {"script":"echo A"}', out)
        self.assertIn("+ timeout: 60", out)
        self.assertRegex(out, r"resource ap-r: changed: version [0-9a-f]{12} -> [0-9a-f]{12}")
        self.assertIn("schedule ap-s: deleted", out)
        self.assertEqual(self.summary(out), (0, 2, 1, 2), out)
        # the dry run changed nothing
        self.assertEqual(self.api.ok("GET", "/api/v1/jobs/ap-a")["params"]["script"], "echo a")
        self.assertEqual(self.names("schedules"), ["ap-s"])

        out = self.ok("apply", "-f", d, "--prune")
        self.assertEqual(self.summary(out), (0, 2, 1, 2), out)
        job = self.api.ok("GET", "/api/v1/jobs/ap-a")
        self.assertEqual((job["params"]["script"], job["timeout"]), ("echo A", 60))
        self.assertEqual(self.names("schedules"), [])
        self.assertEqual(self.api.get("/api/v1/resources/ap-r").body, b"two\n")
        out = self.ok("apply", "-f", d, "--dry-run", "--prune")
        self.assertEqual(self.summary(out), (0, 0, 0, 4), out)

        # a flow and the job it names, both gone: deleted flow first, then the job
        os.remove(os.path.join(d, "flows", "ap-f.json"))
        os.remove(os.path.join(d, "jobs", "ap-b.json"))
        out = self.ok("apply", "-f", d, "--prune")
        self.assertLess(out.index("flow ap-f: deleted"), out.index("job ap-b: deleted"), out)
        self.assertEqual(self.names("flows"), [])
        self.assertEqual(self.names("jobs"), ["ap-a"])

    def test_3_bad_files_change_nothing(self):
        d = os.path.join(self.tmp, "bad")
        shutil.rmtree(d, ignore_errors=True)
        self.write(os.path.join(d, "jobs", "ok.json"),
                   {"kind": "job", "name": "bad-ok", "type": "shell", "params": {"script": "true"}})
        with open(os.path.join(d, "jobs", "commented.json"), "w") as f:
            f.write('{"kind": "job", // a comment\n "name": "bad-c", "type": "shell"}\n')
        rc, out, err = self.cli("apply", "-f", d)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("commented.json: not one JSON object (nothing applied)", err)
        self.assertEqual(self.api.get("/api/v1/jobs/bad-ok").status, 404)
        # a definition the server refuses: the error, exit 1
        os.remove(os.path.join(d, "jobs", "commented.json"))
        self.write(os.path.join(d, "jobs", "unknown.json"),
                   {"kind": "job", "name": "bad-u", "type": "no-such-type"})
        rc, out, err = self.cli("apply", "-f", d)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("unknown job type 'no-such-type'", err)
        self.assertIn("job bad-u refused", err)
        # --prune wants a directory
        rc, out, err = self.cli("apply", "-f", os.path.join(d, "jobs", "ok.json"), "--prune")
        self.assertEqual(rc, 2, out + err)
        self.assertIn("--prune needs a directory", err)


if __name__ == "__main__":
    harness.main()
