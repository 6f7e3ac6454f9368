"""The built-in job types `java`, `spark` and `lua` run by a real `pagoda dev`.

java:  tests/fixtures/Hello.java is compiled with the machine's javac at test
       time into a temp dir (absolute classpath). No javac = a FAILED test
       with a message (sbin/setup-deps.sh installs default-jdk-headless).
spark: Spark is not installed here: the real plugin runs the stand-in
       tests/fixtures/spark-submit (copied as $spark_home/bin/spark-submit),
       which records its arguments and prints what spark-submit prints; the
       test checks the exact command line and the log.
lua:   success with a result, an error, a timeout (kill of a running script).
"""

import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

FIXTURES = os.path.join(harness.source_dir(), "tests", "fixtures")


def attempt_field(e, key):
    """A field of the execution, or of its last attempt."""
    if e.get(key) is not None:
        return e[key]
    attempts = e.get("attempts") or []
    return attempts[-1].get(key) if attempts else None


class BuiltinPlugins(harness.PagodaTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The stand-in spark-submit also on the daemon's PATH (the worker
        # resolves a program without '/' with its own PATH).
        cls.standin_bin = os.path.join(cls.tmp, "standin-bin")
        os.makedirs(cls.standin_bin)
        shutil.copy(os.path.join(FIXTURES, "spark-submit"), os.path.join(cls.standin_bin, "spark-submit"))
        os.chmod(os.path.join(cls.standin_bin, "spark-submit"), 0o755)
        env = {"PATH": cls.standin_bin + ":" + os.environ.get("PATH", "/usr/bin:/bin")}
        cls.dev = cls.start("dev", ["--kill-grace-ms", "500", "--slots", "4"], env=env)
        cls.api = cls.dev.api()

    def run_job(self, job, timeout=30):
        self.api.create_job(job)
        eid = self.api.run(job["name"])
        return eid, self.api.wait_final(eid, timeout=timeout)

    # ------------------------------------------------------------ plugins

    def test_plugins_listed(self):
        plugins = self.api.ok("GET", "/api/v1/plugins")
        if isinstance(plugins, dict):
            plugins = plugins.get("plugins", plugins)
        by_type = {p.get("type"): p for p in plugins}
        for t in ("shell", "java", "spark", "lua"):
            self.assertIn(t, by_type, plugins)
            self.assertEqual(by_type[t]["status"], "loaded", by_type[t])
        self.assertEqual(by_type["lua"]["executor"], "in_process")
        self.assertEqual(by_type["spark"]["abi"], "1.2")

    # ------------------------------------------------------------ java

    def compile_hello(self):
        javac = shutil.which("javac")
        if not javac:
            self.fail("javac is not installed: the java plugin test needs a JDK "
                      "(run sbin/setup-deps.sh, which installs default-jdk-headless)")
        classes = os.path.join(self.tmp, "java-classes")
        os.makedirs(classes, exist_ok=True)
        subprocess.run([javac, "-d", classes, os.path.join(FIXTURES, "Hello.java")],
                       check=True, timeout=120)
        self.assertTrue(os.path.exists(os.path.join(classes, "Hello.class")))
        return classes

    def test_java_main_class(self):
        classes = self.compile_hello()
        eid, e = self.run_job({"name": "java-hello", "type": "java",
                               "params": {"main_class": "Hello", "classpath": [classes],
                                          "args": ["a", "b c"], "jvm_opts": ["-Dpagoda.test=yes", "-Xmx64m"],
                                          "env": {"HELLO_ENV": "from-env"}}}, timeout=60)
        self.assertEqual(e["state"], "succeeded", e)
        self.assertIn("Hello from Java, args=a,b c, prop=yes, env=from-env", self.api.log(eid))

    def test_java_jar_shipped_as_a_resource(self):
        """The issue's case: the class, compiled here, travels as a resource
        (a jar uploaded to the master) and the job names it relatively."""
        classes = self.compile_hello()
        jar_tool = shutil.which("jar")
        if not jar_tool:
            self.fail("the JDK's jar tool is missing (sbin/setup-deps.sh installs default-jdk-headless)")
        jar = os.path.join(self.tmp, "hello.jar")
        subprocess.run([jar_tool, "cf", jar, "-C", classes, "Hello.class"], check=True, timeout=120)
        with open(jar, "rb") as f:
            body = f.read()
        r = self.api.request("PUT", "/api/v1/resources/hello.jar", raw=body)
        self.assertIn(r.status, (200, 201), r)
        eid, e = self.run_job({"name": "java-res", "type": "java", "resources": ["hello.jar"],
                               "params": {"main_class": "Hello", "classpath": ["hello.jar"],
                                          "args": ["from", "resource"]}}, timeout=60)
        self.assertEqual(e["state"], "succeeded", "%s\nlog:\n%s" % (e, self.api.log(eid)))
        self.assertIn("Hello from Java, args=from,resource", self.api.log(eid))

    def test_java_exit_code_and_validation(self):
        classes = self.compile_hello()
        eid, e = self.run_job({"name": "java-fail", "type": "java",
                               "params": {"main_class": "Hello", "classpath": [classes], "args": ["fail"]}},
                              timeout=60)
        self.assertEqual(e["state"], "failed", e)
        self.assertEqual(attempt_field(e, "exit_code"), 3, e)
        r = self.api.post("/api/v1/jobs", {"name": "java-bad", "type": "java", "params": {"args": []}})
        self.assertEqual(r.status, 400, r)
        self.assertIn("java: params.main_class or params.jar is required", r.text)

    # ------------------------------------------------------------ spark

    def spark_home(self):
        home = os.path.join(self.tmp, "spark-home")
        os.makedirs(os.path.join(home, "bin"), exist_ok=True)
        dst = os.path.join(home, "bin", "spark-submit")
        shutil.copy(os.path.join(FIXTURES, "spark-submit"), dst)
        os.chmod(dst, 0o755)
        return home

    def test_spark_command_line(self):
        home = self.spark_home()
        record = os.path.join(self.tmp, "spark-args.txt")
        eid, e = self.run_job({"name": "spark-pi", "type": "spark", "params": {
            "application": "/apps/spark-examples.jar", "class": "org.apache.spark.examples.SparkPi",
            "master": "yarn", "deploy_mode": "client", "name": "pi",
            "conf": {"spark.sql.shuffle.partitions": 8, "spark.eventLog.enabled": False},
            "jars": ["/apps/a.jar", "/apps/b.jar"], "driver_memory": "1g", "executor_memory": "2g",
            "num_executors": 3, "args": ["100"], "spark_home": home,
            "env": {"SPARK_STANDIN_RECORD": record}}})
        self.assertEqual(e["state"], "succeeded", e)
        with open(record) as f:
            argv = f.read().splitlines()
        self.assertEqual(argv, ["--master", "yarn", "--deploy-mode", "client", "--name", "pi",
                                "--class", "org.apache.spark.examples.SparkPi",
                                "--conf", "spark.eventLog.enabled=false",
                                "--conf", "spark.sql.shuffle.partitions=8",
                                "--jars", "/apps/a.jar,/apps/b.jar", "--driver-memory", "1g",
                                "--executor-memory", "2g", "--num-executors", "3",
                                "/apps/spark-examples.jar", "100"])
        log = self.api.log(eid)
        self.assertIn("Submitted application application_1700000000000_0001", log)
        self.assertIn("Pi is roughly 3.14", log)

    def test_spark_default_master_from_path(self):
        record = os.path.join(self.tmp, "spark-args-path.txt")
        # No spark_home: spark-submit from the worker's PATH (the daemon runs
        # with the stand-in's directory first on its PATH).
        eid, e = self.run_job({"name": "spark-py", "type": "spark", "params": {
            "application": "job.py", "py_files": ["deps.zip"],
            "env": {"SPARK_STANDIN_RECORD": record}}})
        if e["state"] != "succeeded":
            self.fail("spark-submit from PATH did not run: %s\nlog:\n%s" % (e, self.api.log(eid)))
        with open(record) as f:
            self.assertEqual(f.read().splitlines(),
                             ["--master", "local[*]", "--py-files", "deps.zip", "job.py"])

    def test_spark_app_id_in_execution_record(self):
        home = self.spark_home()
        eid, e = self.run_job({"name": "spark-id", "type": "spark", "params": {
            "application": "a.jar", "master": "yarn", "spark_home": home,
            "env": {"SPARK_STANDIN_RECORD": os.path.join(self.tmp, "id.txt")}}})
        self.assertEqual(e["state"], "succeeded", e)
        attrs = attempt_field(e, "attributes") or {}
        self.assertEqual(attrs.get("spark_app_id"), "application_1700000000000_0001", e)

    # ------------------------------------------------------------ lua

    def test_lua_success_with_result(self):
        eid, e = self.run_job({"name": "lua-ok", "type": "lua", "params": {
            "script": "log('hi', params.who)\nlocal s = 0\nfor _, v in ipairs(params.n) do s = s + v end\n"
                      "return {sum = s, who = params.who}",
            "args": {"who": "lua", "n": [1, 2, 3]}}})
        self.assertEqual(e["state"], "succeeded", e)
        self.assertEqual(attempt_field(e, "result"), {"sum": 6, "who": "lua"}, e)
        self.assertIn("hi\tlua\n", self.api.log(eid))

    def test_lua_error(self):
        eid, e = self.run_job({"name": "lua-err", "type": "lua",
                               "params": {"script": "local x = nil\nerror('bad thing: ' .. tostring(x))"}})
        self.assertEqual(e["state"], "failed", e)
        self.assertEqual(attempt_field(e, "error"), "lua: script:2: bad thing: nil", e)
        self.assertIn("stack traceback", self.api.log(eid))

    def test_lua_sandbox_refuses_os_execute(self):
        eid, e = self.run_job({"name": "lua-os", "type": "lua",
                               "params": {"script": "return os.execute('touch /tmp/pagoda-lua-escaped')"}})
        self.assertEqual(e["state"], "failed", e)
        self.assertIn("attempt to call a nil value", attempt_field(e, "error"))

    def test_lua_timeout_stops_script(self):
        self.api.create_job({"name": "lua-loop", "type": "lua", "timeout": 1,
                             "params": {"script": "while true do end", "max_instructions": 10000000000}})
        eid = self.api.run("lua-loop")
        e = self.api.wait_for_state(eid, {"timed_out"}, timeout=15)
        self.assertEqual(e["state"], "timed_out")

    def test_lua_kill(self):
        self.api.create_job({"name": "lua-kill", "type": "lua",
                             "params": {"script": "while true do end", "max_instructions": 10000000000}})
        eid = self.api.run("lua-kill")
        self.api.wait_for_state(eid, {"running"}, timeout=10)
        r = self.api.post("/api/v1/executions/%s/kill" % eid)
        self.assertIn(r.status, (200, 202), r)
        e = self.api.wait_for_state(eid, {"killed"}, timeout=10)
        self.assertEqual(e["state"], "killed")

    def test_lua_validation(self):
        r = self.api.post("/api/v1/jobs", {"name": "lua-bad", "type": "lua",
                                           "params": {"script": "x", "max_memory_mb": 99999}})
        self.assertEqual(r.status, 400, r)
        self.assertIn("lua: params.max_memory_mb must be an integer from 1 to 1024", r.text)


if __name__ == "__main__":
    harness.main()
