"""The SDK as a product: `cmake --install` the SDK into a temp prefix, build
sdk/examples/hello-plugin out of tree against it (CMake package with
CMAKE_PREFIX_PATH, and pkg-config), load the result in a real `pagoda dev`
with --plugins DIR (shell.so too), run a `hello` job, check its log."""

import os
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
        cls.example = os.path.join(harness.source_dir(), "sdk", "examples", "hello-plugin")

    def test_installed_files(self):
        for rel in ("include/pagoda/plugin.h", "lib/pkgconfig/pagoda-plugin.pc",
                    "lib/cmake/PagodaPlugin/PagodaPluginConfig.cmake",
                    "lib/cmake/PagodaPlugin/PagodaPluginConfigVersion.cmake"):
            self.assertTrue(os.path.exists(os.path.join(self.prefix, rel)), rel)

    def build_with_cmake(self):
        bdir = os.path.join(self.tmp, "hello-build")
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

    def test_pkg_config_build_runs_in_dev(self):
        self.run_hello_in_dev(self.build_with_pkg_config(), "pc")


if __name__ == "__main__":
    harness.main()
