#!/usr/bin/env bash
# Installs every Debian package that Pagoda's build, tests and benchmarks need.
# Idempotent: packages already present are left alone. Run as root (or with sudo).
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git
  libuv1-dev libconfig-dev libcjson-dev liblua5.4-dev lua5.4
  libzookeeper-mt-dev libcunit1-dev libwebsockets-dev libwebsockets-evlib-uv
  libsqlite3-dev sqlite3 libpq-dev postgresql libssl-dev libcurl4-openssl-dev
  libjemalloc-dev
  uthash-dev python3 curl procps tzdata zookeeper default-jre-headless default-jdk-headless
  nodejs chromium
  python3-aiosmtpd
  # test_package: dpkg-shlibdeps (cpack's Depends), systemd-analyze verify
  dpkg-dev systemd
  prometheus
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

# npm: part of some nodejs builds (NodeSource's), Debian's own package else.
command -v npm >/dev/null 2>&1 || missing+=(npm)

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-deps: all ${#PACKAGES[@]} packages already installed"
else
  export DEBIAN_FRONTEND=noninteractive
  echo "setup-deps: installing ${missing[*]}"
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
fi

# The browser tests' node modules (tests/browser/package-lock.json pins
# playwright-core, which drives the system's /usr/bin/chromium: no browser
# is downloaded). Skipped when the installed tree matches the lockfile.
browser_dir="$(cd "$(dirname "$0")/.." && pwd)/tests/browser"
if [ -f "$browser_dir/package-lock.json" ]; then
  if [ "$browser_dir/node_modules/.package-lock.json" -nt "$browser_dir/package-lock.json" ]; then
    echo "setup-deps: tests/browser node modules already installed"
  else
    echo "setup-deps: npm ci in tests/browser"
    (cd "$browser_dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
  fi
fi
echo "setup-deps: done"
