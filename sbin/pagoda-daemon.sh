#!/usr/bin/env bash
# Pagoda — start, stop and watch a master or worker daemon in the background,
# with a pid file and a log file rotated at start. See docs/operations.md.
#
# Usage: pagoda-daemon.sh start|stop|status|restart master|worker|dev [pagoda options...]
#   start    starts `pagoda ROLE [options...]` detached (new session, stdin
#            /dev/null, stdout+stderr appended to the log), writes the pid
#            file, waits for the daemon's "is running" line. Refuses (exit 1)
#            when the pid file names a live pagoda process.
#   stop     SIGTERM, then SIGKILL after PAGODA_STOP_TIMEOUT seconds; removes
#            the pid file. Exit 0 also when it was not running.
#   status   exit 0 running, 1 dead but the pid file remains, 3 not running
#            (the LSB init-script codes).
#   restart  stop, then start with the options given.
#
# Environment (defaults in brackets):
#   PAGODA_BIN            the pagoda executable [the script's ../build/pagoda,
#                         else ../bin/pagoda (an installed tree),
#                         else `pagoda` in PATH]
#   PAGODA_RUN_DIR        pid files [/var/run/pagoda]
#   PAGODA_LOG_DIR        log files [/var/log/pagoda]
#   PAGODA_INSTANCE       a name to run several daemons of one role on a host
#                         (files pagoda-ROLE-INSTANCE.pid/.log) []
#   PAGODA_LOG_MAX_BYTES  rotate the log at start when it is bigger [10485760]
#   PAGODA_LOG_KEEP       rotated logs kept: LOG.1 (newest) .. LOG.N [5]
#   PAGODA_START_TIMEOUT  seconds to wait for "is running" [30]
#   PAGODA_STOP_TIMEOUT   seconds between SIGTERM and SIGKILL [90: above a
#                         worker's default stop grace of 30 s, docs/operations.md]
#
# Secrets: the log is made mode 0640 (its directory 0750) and the command
# line it records has the value of --secret and any password in
# --store-postgres replaced by ***. Better still, keep secrets off the
# command line: the daemon inherits this script's environment, so give
# PAGODA_SECRET / a secret file and PGPASSFILE (docs/security.md).
set -u

PROG=pagoda-daemon.sh

die() {
  echo "$PROG: $*" >&2
  exit "${EXIT:-2}"
}

usage() {
  echo "usage: $PROG start|stop|status|restart master|worker|dev [pagoda options...]" >&2
  exit 2
}

[ $# -ge 2 ] || usage
CMD=$1
ROLE=$2
shift 2
case "$CMD" in start | stop | status | restart) ;; *) usage ;; esac
case "$ROLE" in master | worker | dev) ;; *) usage ;; esac

number() { # name value: checks a non-negative integer
  case "$2" in '' | *[!0-9]*) die "$1 must be a non-negative integer, not '$2'" ;; esac
}

RUN_DIR=${PAGODA_RUN_DIR:-/var/run/pagoda}
LOG_DIR=${PAGODA_LOG_DIR:-/var/log/pagoda}
LOG_MAX=${PAGODA_LOG_MAX_BYTES:-10485760}
LOG_KEEP=${PAGODA_LOG_KEEP:-5}
START_TIMEOUT=${PAGODA_START_TIMEOUT:-30}
STOP_TIMEOUT=${PAGODA_STOP_TIMEOUT:-90}
number PAGODA_LOG_MAX_BYTES "$LOG_MAX"
number PAGODA_LOG_KEEP "$LOG_KEEP"
number PAGODA_START_TIMEOUT "$START_TIMEOUT"
number PAGODA_STOP_TIMEOUT "$STOP_TIMEOUT"

NAME=pagoda-$ROLE
if [ -n "${PAGODA_INSTANCE:-}" ]; then
  case "$PAGODA_INSTANCE" in *[!A-Za-z0-9._-]*) die "PAGODA_INSTANCE may hold A-Z a-z 0-9 . _ - only" ;; esac
  NAME=$NAME-$PAGODA_INSTANCE
fi
PID_FILE=$RUN_DIR/$NAME.pid
LOG_FILE=$LOG_DIR/$NAME.log

find_bin() {
  if [ -n "${PAGODA_BIN:-}" ]; then
    [ -x "$PAGODA_BIN" ] || die "PAGODA_BIN=$PAGODA_BIN is not an executable file"
    echo "$PAGODA_BIN"
    return
  fi
  local here
  here=$(cd "$(dirname "$0")" && pwd)
  if [ -x "$here/../build/pagoda" ]; then
    echo "$here/../build/pagoda"
    return
  fi
  # installed: PREFIX/sbin/pagoda-daemon.sh beside PREFIX/bin/pagoda
  if [ -x "$here/../bin/pagoda" ]; then
    echo "$here/../bin/pagoda"
    return
  fi
  command -v pagoda || die "no pagoda executable: set PAGODA_BIN, build into $here/../build, or put pagoda in PATH"
}

# The pid in the pid file, or nothing.
read_pid() {
  local pid=""
  [ -f "$PID_FILE" ] && read -r pid <"$PID_FILE" 2>/dev/null
  case "$pid" in '' | *[!0-9]*) echo "" ;; *) echo "$pid" ;; esac
}

# Alive = exists and is not a zombie (a daemon reparented to a pid 1 that
# does not reap stays a zombie after it exited).
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  local stat state
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  state=${stat##*) }
  state=${state%% *}
  [ "$state" != Z ]
}

# The process is a pagoda daemon of this role (not a reused pid): its
# argv[1] is the role (argv[2] when PAGODA_BIN is a script run by an
# interpreter, e.g. a wrapper).
is_ours() {
  local args
  args=$(tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | sed -n 2,3p)
  printf '%s\n' "$args" | grep -qx -- "$ROLE"
}

# Rotates LOG_FILE when it is bigger than LOG_MAX: LOG.(k-1) -> LOG.k, ...,
# LOG -> LOG.1, keeping LOG_KEEP files (0: the old log is deleted).
rotate_log() {
  [ -f "$LOG_FILE" ] || return 0
  local size
  size=$(stat -c %s "$LOG_FILE") || return 0
  [ "$size" -gt "$LOG_MAX" ] || return 0
  local f n i
  for f in "$LOG_FILE".*; do # older files beyond the limit (PAGODA_LOG_KEEP lowered)
    n=${f##*.}
    case "$n" in '' | *[!0-9]*) continue ;; esac
    [ "$n" -ge "$LOG_KEEP" ] && rm -f "$f"
  done
  if [ "$LOG_KEEP" -eq 0 ]; then
    rm -f "$LOG_FILE"
  else
    i=$((LOG_KEEP - 1))
    while [ "$i" -ge 1 ]; do
      [ -f "$LOG_FILE.$i" ] && mv -f "$LOG_FILE.$i" "$LOG_FILE.$((i + 1))"
      i=$((i - 1))
    done
    mv -f "$LOG_FILE" "$LOG_FILE.1"
  fi
  echo "$PROG: rotated $LOG_FILE ($size bytes > $LOG_MAX)"
}

do_status() {
  local pid
  pid=$(read_pid)
  if [ -z "$pid" ]; then
    echo "$NAME is not running"
    return 3
  fi
  if alive "$pid" && is_ours "$pid"; then
    echo "$NAME is running (pid $pid)"
    return 0
  fi
  echo "$NAME is not running, but $PID_FILE remains (pid $pid)"
  return 1
}

# The options as one line for the log, secrets replaced by ***: the value
# after --secret, and a password inside --store-postgres (password=... or
# the user:password@ of a URI).
redacted() {
  local out="" prev="" a
  for a in "$@"; do
    case "$prev" in
      --secret) a='***' ;;
      --store-postgres)
        a=$(printf '%s' "$a" | sed -E "s/(password[[:space:]]*=[[:space:]]*)('[^']*'|[^[:space:]]*)/\\1***/g; s#(://[^:/@]*:)[^@]*@#\\1***@#")
        ;;
    esac
    case "$a" in --secret=*) a='--secret=***' ;; esac
    out="$out${out:+ }$a"
    prev=$a
  done
  printf '%s' "$out"
}

do_start() {
  local bin pid
  bin=$(find_bin) || exit 2
  mkdir -p "$RUN_DIR" "$LOG_DIR" || die "cannot create $RUN_DIR or $LOG_DIR"
  [ -O "$LOG_DIR" ] && chmod 0750 "$LOG_DIR" 2>/dev/null
  pid=$(read_pid)
  if [ -n "$pid" ] && alive "$pid" && is_ours "$pid"; then
    echo "$PROG: $NAME is already running (pid $pid, $PID_FILE)" >&2
    return 1
  fi
  [ -f "$PID_FILE" ] && rm -f "$PID_FILE" # stale
  rotate_log
  local offset=0
  [ -f "$LOG_FILE" ] && offset=$(stat -c %s "$LOG_FILE")
  # The log is not for everyone: 0640 whether new or kept from before.
  (umask 027 && : >>"$LOG_FILE") || die "cannot write $LOG_FILE"
  chmod 0640 "$LOG_FILE" 2>/dev/null
  printf '%s %s: starting %s %s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$PROG" "$bin" "$ROLE" "$(redacted "$@")" >>"$LOG_FILE" ||
    die "cannot write $LOG_FILE"
  offset=$(stat -c %s "$LOG_FILE")
  if command -v setsid >/dev/null; then
    # Not a process group leader here, so setsid execs without forking: $!
    # is the daemon's pid.
    setsid "$bin" "$ROLE" "$@" >>"$LOG_FILE" 2>&1 </dev/null &
  else
    nohup "$bin" "$ROLE" "$@" >>"$LOG_FILE" 2>&1 </dev/null &
  fi
  pid=$!
  echo "$pid" >"$PID_FILE.tmp" && mv -f "$PID_FILE.tmp" "$PID_FILE" || {
    kill -TERM "$pid" 2>/dev/null
    die "cannot write $PID_FILE"
  }
  local waited=0 limit=$((START_TIMEOUT * 10))
  while [ "$waited" -lt "$limit" ]; do
    if tail -c +"$((offset + 1))" "$LOG_FILE" 2>/dev/null | grep -q "is running"; then
      echo "$NAME started (pid $pid, log $LOG_FILE)"
      return 0
    fi
    if ! alive "$pid"; then
      rm -f "$PID_FILE"
      echo "$PROG: $NAME exited at start; the end of $LOG_FILE:" >&2
      tail -c +"$((offset + 1))" "$LOG_FILE" | tail -n 20 >&2
      return 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  echo "$PROG: $NAME (pid $pid) is alive but did not say it was running within ${START_TIMEOUT}s; see $LOG_FILE" >&2
  return 0
}

do_stop() {
  local pid
  pid=$(read_pid)
  if [ -z "$pid" ]; then
    echo "$NAME is not running"
    return 0
  fi
  if ! alive "$pid"; then
    rm -f "$PID_FILE"
    echo "$NAME is not running (removed the stale $PID_FILE)"
    return 0
  fi
  if ! is_ours "$pid"; then
    echo "$PROG: pid $pid in $PID_FILE is not a pagoda $ROLE; not signalling it (remove the file if it is stale)" >&2
    return 1
  fi
  kill -TERM "$pid" 2>/dev/null
  local waited=0 limit=$((STOP_TIMEOUT * 10))
  while alive "$pid" && [ "$waited" -lt "$limit" ]; do
    sleep 0.1
    waited=$((waited + 1))
  done
  if alive "$pid"; then
    echo "$PROG: $NAME (pid $pid) still running ${STOP_TIMEOUT}s after SIGTERM: SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null
    waited=0
    while alive "$pid" && [ "$waited" -lt 100 ]; do
      sleep 0.1
      waited=$((waited + 1))
    done
    if alive "$pid"; then
      echo "$PROG: $NAME (pid $pid) survived SIGKILL" >&2
      return 1
    fi
  fi
  rm -f "$PID_FILE"
  echo "$NAME stopped"
  return 0
}

case "$CMD" in
start) do_start "$@" ;;
stop) do_stop ;;
status) do_status ;;
restart)
  do_stop || exit 1
  do_start "$@"
  ;;
esac
exit $?
