#!/usr/bin/env bash
# Installs every Debian package that Pagoda's build, tests and benchmarks need.
# Idempotent: packages already present are left alone. Run as root (or with sudo).
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git
  libuv1-dev libconfig-dev libcjson-dev liblua5.4-dev lua5.4
  libzookeeper-mt-dev libcunit1-dev libwebsockets-dev libwebsockets-evlib-uv
  libsqlite3-dev sqlite3 libpq-dev postgresql libssl-dev libcurl4-openssl-dev
  uthash-dev python3 curl procps tzdata zookeeper default-jre-headless default-jdk-headless
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-deps: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
echo "setup-deps: installing ${missing[*]}"
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
echo "setup-deps: done"
