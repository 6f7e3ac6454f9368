"""`pagoda plugin test FILE.so --params JSON [--type T]`: the built `pagoda`
binary runs a plugin's schema check, validate, expand and describe_process
outside any daemon and prints JSON. Run on the shipped shell and lua
plugins, on test plugins whose validate / expand / describe_process fail on
demand, on refused files, and on a real ABI 1.1 plugin (schema not
enforced). Exit codes: 0 ok, 1 a step failed, 2 usage."""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def built(*parts):
    path = os.path.join(harness.build_dir(), *parts)
    # The test plugins are build products of this tree: missing means broken.
    if not os.path.exists(path):
        raise AssertionError("missing build product %s (build the tree first)" % path)
    return path


class PluginTestCli(harness.PagodaTestCase):
    def plugin_test(self, so, params=None, *extra):
        args = [harness.pagoda_bin(), "plugin", "test", so]
        if params is not None:
            args += ["--params", params if isinstance(params, str) else json.dumps(params)]
        args += list(extra)
        env = dict(os.environ)
        env.pop("PAGODA_ADDR", None)
        env.pop("PAGODA_CONFIG", None)
        p = subprocess.run(args, capture_output=True, timeout=60, cwd=self.tmp, env=env)
        return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")

    def expect_ok(self, so, params=None, *extra):
        rc, out, err = self.plugin_test(so, params, *extra)
        self.assertEqual(rc, 0, "stdout: %s\nstderr: %s" % (out, err))
        doc = json.loads(out)
        self.assertIs(doc["ok"], True)
        self.assertEqual(doc["file"], so)
        return doc

    def expect_fail(self, so, params, stage, message, *extra, exact=True):
        rc, out, err = self.plugin_test(so, params, *extra)
        self.assertEqual(rc, 1, "stdout: %s\nstderr: %s" % (out, err))
        doc = json.loads(out)
        self.assertIs(doc["ok"], False)
        self.assertEqual(doc["stage"], stage, doc)
        if exact:
            self.assertEqual(doc["error"], message)
        else:
            self.assertIn(message, doc["error"])
        self.assertIn("pagoda plugin test: %s: %s" % (stage, doc["error"]), err)
        return doc

    # ---- the shipped shell plugin ----

    def test_shell_ok_prints_request_and_process(self):
        so = built("plugins", "shell.so")
        doc = self.expect_ok(so, {"script": "echo hi", "env": {"GREETING": "hello", "A.b-c": "1"},
                                  "cwd": "/tmp"})
        self.assertEqual(doc["type"], "shell")
        self.assertEqual(doc["abi"], "1.2")
        self.assertIs(doc["schema_enforced"], True)
        self.assertEqual(doc["executor"], "process")
        # expand wrote the default shell into the request
        self.assertEqual(doc["request"], {"script": "echo hi", "env": {"GREETING": "hello", "A.b-c": "1"},
                                          "cwd": "/tmp", "shell": "bash"})
        self.assertEqual(doc["process"], {"argv": ["bash", "-c", "echo hi"],
                                          "env": {"GREETING": "hello", "A.b-c": "1"},
                                          "cwd": "/tmp", "user": None})
        doc = self.expect_ok(so, {"argv": ["ls", "-l", "/"]}, "--type", "shell")
        self.assertEqual(doc["process"]["argv"], ["ls", "-l", "/"])
        self.assertNotIn("shell", doc["request"])

    def test_shell_schema_errors_name_the_field(self):
        so = built("plugins", "shell.so")
        self.expect_fail(so, {"script": "x", "env": {"A": 1}}, "schema", "shell: params.env.A must be a string")
        self.expect_fail(so, {"script": "x", "env": {"1A": "x"}}, "schema",
                         'shell: params.env key "1A" is not a valid variable name')
        self.expect_fail(so, {"script": "x", "env": ["A=1"]}, "schema", "shell: params.env must be an object")
        self.expect_fail(so, {"script": 12}, "schema", "shell: params.script must be a non-empty string")
        self.expect_fail(so, {"script": "x", "cwd": None}, "schema", "shell: params.cwd must be a string")
        self.expect_fail(so, {"argv": ["ls", 1]}, "schema",
                         "shell: params.argv must be a non-empty array of strings")

    def test_shell_validate_errors(self):
        so = built("plugins", "shell.so")
        self.expect_fail(so, None, "validate", "shell: params.script or params.argv is required")
        self.expect_fail(so, {"script": "x", "argv": ["ls"]}, "validate",
                         "shell: params.script and params.argv are exclusive")
        self.expect_fail(so, {"argv": []}, "validate", "shell: params.argv must be a non-empty array of strings")

    def test_type_option(self):
        so = built("plugins", "shell.so")
        self.expect_fail(so, {"script": "x"}, "type", 'the plugin provides job type "shell", not "java"',
                         "--type", "java")

    def test_in_process_plugin_has_no_process(self):
        so = built("plugins", "lua.so")
        doc = self.expect_ok(so, {"script": "return 1", "max_memory_mb": 8})
        self.assertEqual(doc["executor"], "in_process")
        self.assertNotIn("process", doc)
        self.expect_fail(so, {"script": "return 1", "max_memory_mb": "8"}, "schema",
                         "lua: params.max_memory_mb must be an integer from 1 to 1024")

    # ---- broken plugins ----

    def test_plugin_failing_each_step(self):
        so = built("tests", "plugins-mixed", "a_good.so")
        doc = self.expect_ok(so, {"word": "bonjour"})
        self.assertEqual(doc["request"]["greeting"], "hello")
        self.assertEqual(doc["request"]["job_name"], "plugin-test")
        self.assertEqual(doc["process"]["argv"], ["/bin/echo", "bonjour"])
        self.assertEqual(doc["process"]["user"], "nobody")
        self.expect_fail(so, {"word": 5}, "schema", "test_good: params.word must be a string")
        self.expect_fail(so, {"fail": "the input table is missing"}, "validate",
                         "test_good: the input table is missing")
        self.expect_fail(so, {"expand_fail": True}, "expand", "test_good: cannot expand")
        self.expect_fail(so, {"no_argv": True}, "describe_process",
                         "test_good: describe_process gave no program (empty argv)")

    def test_refused_files(self):
        noentry = built("tests", "plugins-mixed", "noentry.so")
        self.expect_fail(noentry, {}, "load", "no entry symbol pagoda_plugin_entry", exact=False)
        initfail = built("tests", "plugins-mixed", "initfail.so")
        self.expect_fail(initfail, {}, "load", "init failed: test_initfail: licence file /nonexistent missing",
                         exact=False)
        abi2 = built("tests", "plugins-mixed", "abi2.so")
        self.expect_fail(abi2, {}, "load", "plugin ABI 2.0, host ABI 1.2: major version differs", exact=False)
        missing = os.path.join(self.tmp, "nothing-here.so")
        self.expect_fail(missing, {}, "load", "dlopen failed", exact=False)

    def test_abi_1_1_plugin_schema_not_enforced(self):
        so = built("tests", "plugins-abi11", "abi11.so")
        doc = self.expect_ok(so, {"word": 5})
        self.assertEqual(doc["abi"], "1.1")
        self.assertIs(doc["schema_enforced"], False)
        self.assertEqual(doc["process"]["argv"], ["/bin/echo", "hi"])
        self.expect_fail(so, {"fail": "no"}, "validate", "test_abi11: no")

    def test_usage_errors(self):
        so = built("plugins", "shell.so")
        for bad in ("[1]", "{", "\"text\""):
            rc, out, err = self.plugin_test(so, bad)
            self.assertEqual(rc, 2, (bad, out, err))
            self.assertIn("--params wants a JSON object", err)
        rc, out, err = self.plugin_test(so, "{}", "--json")
        self.assertEqual(rc, 2, (out, err))
        rc, out, err = subprocess.run([harness.pagoda_bin(), "plugin", "test"], capture_output=True,
                                      timeout=30).returncode, "", ""
        self.assertEqual(rc, 2)


if __name__ == "__main__":
    harness.main()
