#!/usr/bin/env bash
# Starts and stops a throw-away PostgreSQL server for tests and benchmarks.
#
#   tests/pg_harness.sh start DIR   initdb in DIR/data (DIR must exist; when
#                                   run as root it is given to the postgres
#                                   user), start the server on 127.0.0.1 and
#                                   a unix socket in DIR, on a free port
#                                   below 32768; prints the port on stdout.
#   tests/pg_harness.sh stop DIR    stop it (pg_ctl stop -m immediate, then
#                                   SIGKILL of the postmaster pid from
#                                   DIR/data/postmaster.pid), remove DIR.
#
# Connect with "host=DIR port=PORT user=postgres dbname=postgres" (trust
# authentication, local only). Exits non-zero with a message on stderr when
# the server cannot be started, e.g. without the postgresql package.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

pgbin=${PGBIN:-}
if [ -z "$pgbin" ]; then
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/initdb" ] && { pgbin=$d; break; }
  done
fi
if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ]; then
  echo "pg_harness: PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb);" \
       "install the postgresql package (sbin/setup-deps.sh) or set PGBIN" >&2
  exit 3
fi

# initdb and pg_ctl refuse to run as root: use the postgres user then.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

data=$dir/data
case "$cmd" in
start)
  [ -d "$dir" ] || { echo "pg_harness: $dir does not exist" >&2; exit 2; }
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
  if [ ! -f "$data/PG_VERSION" ]; then
    as_pg "$pgbin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --no-locale --no-sync \
      >"$dir/initdb.log" 2>&1 || { echo "pg_harness: initdb failed:" >&2; cat "$dir/initdb.log" >&2; exit 4; }
  fi
  for try in $(seq 1 20); do
    port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 12000 ))
    # skip ports something already listens on (the server would fail anyway)
    if command -v ss >/dev/null && ss -Htln "sport = :$port" 2>/dev/null | grep -q .; then continue; fi
    if as_pg "$pgbin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 30 \
         -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c shared_buffers=32MB -c max_connections=40 -c fsync=on" \
         start >"$dir/pg_ctl.log" 2>&1; then
      echo "$port"
      exit 0
    fi
    # a port taken between the check and the bind: try another one
    grep -q "Address already in use\|could not bind" "$dir/server.log" 2>/dev/null || break
  done
  echo "pg_harness: the PostgreSQL server did not start:" >&2
  tail -n 20 "$dir/server.log" "$dir/pg_ctl.log" >&2 2>/dev/null || true
  exit 5
  ;;
stop)
  [ -d "$data" ] || { rm -rf "$dir"; exit 0; }
  pid=""
  [ -f "$data/postmaster.pid" ] && pid=$(head -n 1 "$data/postmaster.pid" || true)
  as_pg "$pgbin/pg_ctl" -D "$data" -m immediate -w -t 10 stop >/dev/null 2>&1 || true
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
  fi
  rm -rf "$dir"
  ;;
*)
  echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
