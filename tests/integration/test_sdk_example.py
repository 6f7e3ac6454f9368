"""The SDK as a product: `cmake --install` the SDK into a temp prefix, check
that the guide installed with it links only to installed files, copy the
example the guide points to from the prefix (as an outside developer
would), build it out of tree against the prefix (CMake package with
CMAKE_PREFIX_PATH, and pkg-config), try it with `pagoda plugin test`, load
it in a real `pagoda dev` with --plugins DIR (shell.so too), run a `hello`
job, check its log."""

import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def run(cmd, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300, **kw)
    if p.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s" % (" ".join(cmd), p.returncode,
                                                      p.stdout.decode(errors="replace")[-3000:]))
    return p.stdout.decode(errors="replace")


class SdkExample(harness.PagodaTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.prefix = os.path.join(cls.tmp, "prefix")
        # Only the SDK's files are needed; installing everything also works.
        run(["cmake", "--install", harness.build_dir(), "--prefix", cls.prefix])
        cls.docdir = os.path.join(cls.prefix, "share", "doc", "pagoda", "sdk")
        # The developer copies the installed example, not the source tree's.
        cls.example = os.path.join(cls.tmp, "hello-plugin")
        shutil.copytree(os.path.join(cls.docdir, "examples", "hello-plugin"), cls.example)

    def test_installed_files(self):
        for rel in ("include/pagoda/plugin.h", "include/pagoda/plugin_util.h",
                    "lib/pkgconfig/pagoda-plugin.pc",
                    "lib/cmake/PagodaPlugin/PagodaPluginConfig.cmake",
                    "lib/cmake/PagodaPlugin/PagodaPluginConfigVersion.cmake",
                    "share/doc/pagoda/sdk/plugin-abi.md",
                    "share/doc/pagoda/sdk/examples/hello-plugin/hello.c",
                    "share/doc/pagoda/sdk/examples/hello-plugin/CMakeLists.txt"):
            self.assertTrue(os.path.exists(os.path.join(self.prefix, rel)), rel)

    def test_installed_guide_links_resolve(self):
        with open(os.path.join(self.docdir, "plugin-abi.md")) as f:
            guide = f.read()
        links = re.findall(r"\]\(([^)\s]+)\)", guide)
        local = [l for l in links if not re.match(r"^[a-z]+:", l) and not l.startswith("#")]
        self.assertGreaterEqual(len(local), 5, local)  # header, helpers, example files
        for link in local:
            target = os.path.normpath(os.path.join(self.docdir, link.split("#")[0]))
            self.assertTrue(target.startswith(os.path.realpath(self.prefix)) or target.startswith(self.prefix),
                            "%s leaves the prefix" % link)
            self.assertTrue(os.path.exists(target), "the installed guide links to %s (%s), which is not installed"
                            % (link, target))
        # anchors within the guide exist as headings
        headings = {re.sub(r"[^a-z0-9 -]", "", h.strip().lower()).replace(" ", "-")
                    for h in re.findall(r"^#+ (.*)$", guide, re.M)}
        for anchor in re.findall(r"\]\(#([^)]+)\)", guide):
            self.assertIn(anchor, headings)
        # nothing that does not exist: the CLI has no `pagoda logs` / `pagoda plugins`
        for wrong in ("pagoda logs", "pagoda plugins", ":8080"):
            self.assertNotIn(wrong, guide)
        self.assertIn("localhost:7080", guide)
        self.assertIn("POST /api/v1/plugins/reload", guide)

    def build_with_cmake(self, tag="cmake"):
        bdir = os.path.join(self.tmp, "hello-build-" + tag)
        # A clean environment: nothing of the source tree on the include path.
        run(["cmake", "-S", self.example, "-B", bdir, "-DCMAKE_PREFIX_PATH=" + self.prefix])
        run(["cmake", "--build", bdir])
        so = os.path.join(bdir, "hello.so")
        self.assertTrue(os.path.exists(so))
        return so

    def build_with_pkg_config(self):
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(self.prefix, "lib", "pkgconfig"))
        cflags = run(["pkg-config", "--cflags", "pagoda-plugin"], env=env).split()
        libs = run(["pkg-config", "--libs", "pagoda-plugin"], env=env).split()
        self.assertIn("-fvisibility=hidden", cflags)
        self.assertIn("-Wl,--no-undefined", libs)
        self.assertTrue(any(f.startswith("-I") and f.endswith("include") for f in cflags), cflags)
        version = run(["pkg-config", "--modversion", "pagoda-plugin"], env=env).strip()
        self.assertRegex(version, r"^1\.\d+$")
        out = os.path.join(self.tmp, "hello-pc.so")
        run(["cc", "-shared", "-Wall", "-Werror"] + cflags + ["-o", out, os.path.join(self.example, "hello.c")] + libs)
        return out

    def test_find_package_version_rule(self):
        # Asking for ABI 2 must fail: the package follows the ABI's major rule.
        d = os.path.join(self.tmp, "v2")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "CMakeLists.txt"), "w") as f:
            f.write("cmake_minimum_required(VERSION 3.20)\nproject(v2 LANGUAGES C)\n"
                    "find_package(PagodaPlugin 2.0 REQUIRED)\n")
        p = subprocess.run(["cmake", "-S", d, "-B", os.path.join(d, "b"), "-DCMAKE_PREFIX_PATH=" + self.prefix],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"PagodaPlugin", p.stdout)

    def test_plugin_test_command_on_the_example(self):
        so = self.build_with_cmake("try")
        p = subprocess.run([harness.pagoda_bin(), "plugin", "test", so, "--params", '{"name":"Ada"}'],
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        doc = json.loads(p.stdout)
        self.assertEqual(doc["process"]["argv"], ["printf", "Hello, %s!\\n", "Ada"])
        self.assertEqual(doc["abi"], "1.2")
        p = subprocess.run([harness.pagoda_bin(), "plugin", "test", so, "--params", '{"name":7}'],
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 1)
        doc = json.loads(p.stdout)
        # the host's schema check, with the plugin's own wording (must_be)
        self.assertEqual((doc["stage"], doc["error"]),
                         ("schema", "hello: params.name must be a string of 1 to 100 characters"))

    def run_hello_in_dev(self, so, name):
        plugins = os.path.join(self.tmp, "plugins-" + name)
        os.makedirs(plugins)
        shutil.copy(so, os.path.join(plugins, "hello.so"))
        shutil.copy(os.path.join(harness.build_dir(), "plugins", "shell.so"), plugins)
        dev = self.start("dev", ["--plugins", plugins], name="dev-" + name)
        try:
            api = dev.api()
            api.create_job({"name": "greet", "type": "hello", "params": {"name": "Ada"}})
            eid = api.run("greet")
            e = api.wait_final(eid, timeout=20)
            self.assertEqual(e["state"], "succeeded", e)
            self.assertEqual(api.log(eid), "Hello, Ada!\n")
            r = api.post("/api/v1/jobs", {"name": "bad", "type": "hello", "params": {"name": ""}})
            self.assertEqual(r.status, 400, r)
            self.assertIn("hello: params.name must be a string of 1 to 100 characters", r.text)
            api.shell_job("sh", "echo shell-too")
            eid = api.run("sh")
            self.assertEqual(api.wait_final(eid)["state"], "succeeded")
        finally:
            self.assertStopsCleanly(dev)

    def test_cmake_package_build_runs_in_dev(self):
        self.run_hello_in_dev(self.build_with_cmake(), "cmake")

    def test_console_form_view_is_served(self):
        # The example's CMakeLists puts its console view beside the .so; a
        # master serves it with the sandboxing CSP and lists it.
        so = self.build_with_cmake("console")
        views = os.path.join(os.path.dirname(so), "hello.console")
        self.assertTrue(os.path.isfile(os.path.join(views, "form.html")), views)
        plugins = os.path.join(self.tmp, "plugins-console")
        os.makedirs(plugins)
        shutil.copy(so, os.path.join(plugins, "hello.so"))
        shutil.copytree(views, os.path.join(plugins, "hello.console"))
        dev = self.start("dev", ["--plugins", plugins], name="dev-console")
        try:
            api = dev.api()
            listed = {p.get("type"): p for p in api.get("/api/v1/plugins").json["plugins"]}
            self.assertEqual(listed["hello"]["console"], ["form"])
            r = api.get("/api/v1/plugins/hello/console/form.html")
            self.assertEqual(r.status, 200, r)
            self.assertIn("sandbox allow-scripts", r.headers.get("content-security-policy", ""))
            self.assertIn("default-src 'none'", r.headers.get("content-security-policy", ""))
            self.assertIn('kind: \'params\'', r.text)
            self.assertEqual(api.get("/api/v1/plugins/hello/console/result.html").status, 404)
        finally:
            self.assertStopsCleanly(dev)

    def test_pkg_config_build_runs_in_dev(self):
        self.run_hello_in_dev(self.build_with_pkg_config(), "pc")


if __name__ == "__main__":
    harness.main()
