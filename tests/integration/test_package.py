"""The Debian packages (issue 16, docs/operations.md "Debian package"):
configure a build for prefix /usr in a temporary directory, `cpack -G DEB`,
check the packages' control data (Depends, conffiles, maintainer scripts),
unpack `pagoda` and `pagoda-dev` with `dpkg -x` into a clean root (this
machine runs no systemd and no root dpkg), start the unpacked `pagoda dev`
from there and run a job through the unpacked plugins; `pkg-config
--variable=plugindir` of the unpacked SDK names that directory; the
systemd units pass `systemd-analyze verify --root`; the bash completion
completes commands.

Set PAGODA_PACKAGE_BUILD_DIR to reuse a build tree already configured with
-DCMAKE_INSTALL_PREFIX=/usr (the test then only runs cpack there).
"""

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def run(cmd, cwd=None, env=None, timeout=1800, check=True):
    p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError("%s -> %d\n%s" % (" ".join(cmd), p.returncode, p.stdout[-4000:]))
    return p


class InstalledDaemon(harness.Daemon):
    """A `pagoda dev` started from the unpacked package, not the build tree."""

    def __init__(self, binary, *a, **kw):
        super().__init__(*a, **kw)
        self.binary = binary

    def _cmd(self):
        return [self.binary] + super()._cmd()[1:]


class Package(harness.PagodaTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for tool in ("cmake", "cpack", "dpkg-deb", "dpkg", "dpkg-shlibdeps", "pkg-config",
                     "systemd-analyze"):
            harness.require(shutil.which(tool) is not None,
                            "the %s command (sbin/setup-deps.sh installs it)" % tool)
        build = os.environ.get("PAGODA_PACKAGE_BUILD_DIR")
        if not build:
            build = os.path.join(cls.tmp, "build")
            run(["cmake", "-S", harness.source_dir(), "-B", build, "-DCMAKE_INSTALL_PREFIX=/usr",
                 "-DCMAKE_BUILD_TYPE=Release", "-DPAGODA_BUILD_TESTS=OFF"])
            run(["nice", "cmake", "--build", build, "-j2"])
        out = os.path.join(cls.tmp, "debs")
        os.makedirs(out)
        run(["cpack", "-G", "DEB", "-B", out], cwd=build)
        cls.debs = {}
        for path in glob.glob(os.path.join(out, "*.deb")):
            name = run(["dpkg-deb", "-f", path, "Package"]).stdout.strip()
            cls.debs[name] = path
        cls.root = os.path.join(cls.tmp, "root")
        for name in ("pagoda", "pagoda-dev"):
            if name in cls.debs:
                run(["dpkg", "-x", cls.debs[name], cls.root])

    def control(self, pkg, field):
        return run(["dpkg-deb", "-f", self.debs[pkg], field]).stdout.strip()

    def control_file(self, pkg, name):
        d = tempfile.mkdtemp(dir=self.tmp)
        run(["dpkg-deb", "-e", self.debs[pkg], d])
        with open(os.path.join(d, name)) as f:
            return f.read()

    def test_1_two_packages_with_runtime_depends(self):
        self.assertEqual(sorted(self.debs), ["pagoda", "pagoda-dev"], self.debs)
        dep = self.control("pagoda", "Depends")
        # dpkg-shlibdeps found the runtime libraries of the executables and plugins
        for lib in ("libuv1", "libcjson1", "libconfig9", "liblua5.4-0", "libwebsockets",
                    "libsqlite3-0", "libpq5", "libcurl", "libssl3", "libzookeeper-mt2", "passwd"):
            self.assertIn(lib, dep, "pagoda Depends: %s" % dep)
        self.assertEqual(self.control("pagoda-dev", "Architecture"), "all")

    def test_2_conffiles_and_maintainer_scripts(self):
        conffiles = self.control_file("pagoda", "conffiles").split()
        self.assertIn("/etc/pagoda/pagoda.conf", conffiles)
        self.assertIn("/etc/pagoda/balancers/round_robin.lua", conffiles)
        self.assertIn("/etc/pagoda/hooks/example.lua", conffiles)
        for f in conffiles:
            self.assertTrue(os.path.isfile(self.root + f), "conffile %s is not in the package" % f)
        postinst = self.control_file("pagoda", "postinst")
        self.assertIn("useradd --system", postinst)
        run(["sh", "-n", os.path.join(harness.source_dir(), "packaging", "debian", "postinst")])
        for unit in ("pagoda-master.service", "pagoda-worker.service"):
            self.assertTrue(os.path.isfile(os.path.join(self.root, "lib/systemd/system", unit)), unit)
        self.assertTrue(os.path.isfile(os.path.join(self.root, "usr/include/pagoda/plugin.h")))

    def test_3_systemd_units_verify(self):
        # --root: ExecStart (/usr/bin/pagoda) resolves in a tree holding the
        # unpacked package plus what the units name from the host system
        # (systemd's own targets, /bin/kill of ExecReload). The `pagoda`
        # user exists only after postinst: verify does not look users up.
        vroot = os.path.join(self.tmp, "verify-root")
        run(["dpkg", "-x", self.debs["pagoda"], vroot])
        units = os.path.join(vroot, "lib/systemd/system")
        harness.require(os.path.isdir("/lib/systemd/system"), "systemd's units in /lib/systemd/system")
        for name in os.listdir("/lib/systemd/system"):
            src = os.path.join("/lib/systemd/system", name)
            if name.endswith(".target") and not os.path.exists(os.path.join(units, name)):
                shutil.copy(src, units, follow_symlinks=True)
        os.makedirs(os.path.join(vroot, "bin"), exist_ok=True)
        shutil.copy(shutil.which("kill") or "/bin/kill", os.path.join(vroot, "bin/kill"))
        for unit in ("pagoda-master.service", "pagoda-worker.service"):
            path = os.path.join(units, unit)
            p = run(["systemd-analyze", "verify", "--root", vroot, path], check=False)
            self.assertEqual(p.returncode, 0, "systemd-analyze verify %s:\n%s" % (unit, p.stdout))
            self.assertNotIn(unit, p.stdout, "systemd-analyze verify complained:\n" + p.stdout)
        with open(os.path.join(self.root, "lib/systemd/system/pagoda-master.service")) as f:
            master = f.read()
        for line in ("User=pagoda", "ProtectSystem=strict", "NoNewPrivileges=yes",
                     "ExecStart=/usr/bin/pagoda master --config /etc/pagoda/pagoda.conf"):
            self.assertIn(line, master)

    def test_4_unpacked_dev_runs_a_job_through_its_plugins(self):
        binary = os.path.join(self.root, "usr/bin/pagoda")
        p = run([binary, "--version"])
        self.assertRegex(p.stdout, r"^pagoda \d+\.\d+\.\d+")
        plugindir = glob.glob(os.path.join(self.root, "usr/lib/*/pagoda/plugins")) + \
            glob.glob(os.path.join(self.root, "usr/lib/pagoda/plugins"))
        self.assertEqual(len(plugindir), 1, plugindir)
        plugindir = os.path.realpath(plugindir[0])
        self.assertTrue(os.path.isfile(os.path.join(plugindir, "shell.so")), plugindir)
        d = InstalledDaemon(binary, "dev", self.tmp, name="installed-dev")
        type(self).daemons.append(d)
        d.start(timeout=30)
        log = d.stderr()
        self.assertIn("from %s" % plugindir, log, "plugins not loaded from the package")
        self.assertRegex(log, r"loaded [1-9]\d* plugin\(s\) from " + re.escape(plugindir))
        self.assertIn(os.path.realpath(os.path.join(self.root, "etc/pagoda/balancers")), log)
        env = dict(os.environ, PAGODA_ADDR=d.url, PAGODA_TOKEN_FILE=d.token_file())
        job = os.path.join(self.tmp, "job.json")
        with open(job, "w") as f:
            json.dump({"name": "pkg", "type": "shell", "params": {"script": "echo from-package"}}, f)
        run([binary, "job", "create", job], env=env)
        p = run([binary, "job", "run", "pkg", "--wait"], env=env, timeout=120)
        m = re.search(r"\b(\d+)\b", p.stdout)
        self.assertIsNotNone(m, p.stdout)
        logs = run([binary, "exec", "logs", m.group(1)], env=env).stdout
        self.assertIn("from-package", logs)
        self.assertStopsCleanly(d)

    def test_5_sdk_names_the_plugin_directory(self):
        pcs = glob.glob(os.path.join(self.root, "usr/lib/*/pkgconfig/pagoda-plugin.pc")) + \
            glob.glob(os.path.join(self.root, "usr/lib/pkgconfig/pagoda-plugin.pc"))
        self.assertEqual(len(pcs), 1, pcs)
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.dirname(pcs[0]))
        d = run(["pkg-config", "--variable=plugindir", "pagoda-plugin"], env=env).stdout.strip()
        self.assertTrue(os.path.isfile(os.path.join(d, "shell.so")),
                        "pkg-config plugindir %s does not hold the installed plugins" % d)
        cfg = glob.glob(os.path.join(self.root, "usr/lib/*/cmake/PagodaPlugin/PagodaPluginConfig.cmake")) + \
            glob.glob(os.path.join(self.root, "usr/lib/cmake/PagodaPlugin/PagodaPluginConfig.cmake"))
        self.assertEqual(len(cfg), 1, cfg)
        with open(cfg[0]) as f:
            self.assertIn("PAGODA_PLUGIN_DIR", f.read())

    def test_6_bash_completion(self):
        script = os.path.join(self.root, "usr/share/bash-completion/completions/pagoda")
        self.assertTrue(os.path.isfile(script))
        binary = os.path.join(self.root, "usr/bin/pagoda")
        probe = ('source "%s"; COMP_WORDS=("%s" job ""); COMP_CWORD=2; _pagoda; '
                 'echo "${COMPREPLY[*]}"; COMP_WORDS=("%s" ""); COMP_CWORD=1; _pagoda; '
                 'echo "${COMPREPLY[*]}"') % (script, binary, binary)
        out = run(["bash", "--norc", "-c", probe]).stdout.splitlines()
        self.assertEqual(len(out), 2, out)
        for sub in ("create", "list", "run"):
            self.assertIn(sub, out[0].split())
        for group in ("job", "exec", "worker", "dev", "master"):
            self.assertIn(group, out[1].split())

    def test_7_unpacked_master_reads_the_installed_configuration(self):
        binary = os.path.join(self.root, "usr/bin/pagoda")
        d = InstalledDaemon(binary, "master", self.tmp, name="installed-master")
        type(self).daemons.append(d)
        d.start(timeout=30)
        conf = os.path.realpath(os.path.join(self.root, "etc/pagoda/pagoda.conf"))
        log = d.stderr()
        self.assertIn("configuration from %s (the installed one)" % conf, log)
        self.assertIn(os.path.realpath(os.path.join(self.root, "etc/pagoda/balancers")), log)
        self.assertStopsCleanly(d)


if __name__ == "__main__":
    harness.main()
