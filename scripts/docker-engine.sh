#!/usr/bin/env bash
# Start or stop a Docker engine for the Docker sandbox backend (used by scripts/install/45-docker.sh and the tests).
#   start: prints "running" when an engine already answers (it is left alone), else starts Debian's dockerd as root
#          (overlay2, no bridge, no iptables changes, user-namespace remapping: container root is an unprivileged
#          host uid) and prints "started"; a clear error when that is impossible (not root, docker.io missing).
#   stop:  stops the engine only if `start` started it (state in /run/aemgym-dockerd.pid); prints what it did.
#   status: exit 0 when an engine answers.
# Concurrent calls (pytest -n 2 workers) are serialised with a lock file.
set -euo pipefail
PIDFILE=/run/aemgym-dockerd.pid
LOCK=/run/aemgym-dockerd.lock
LOGFILE=${AEMGYM_DOCKERD_LOG:-/var/log/aemgym-dockerd.log}
answers() { timeout 20 docker info >/dev/null 2>&1; }
case "${1:-}" in
  status) answers ;;
  start)
    if answers; then echo running; exit 0; fi
    if [ "$(id -u)" != 0 ]; then echo "no Docker engine answers and starting dockerd needs root" >&2; exit 2; fi
    command -v dockerd >/dev/null || { echo "dockerd is not installed: run scripts/install/45-docker.sh" >&2; exit 2; }
    exec 9>"$LOCK"
    flock 9
    if answers; then echo running; exit 0; fi
    setsid dockerd --host unix:///var/run/docker.sock --storage-driver overlay2 --bridge none --iptables=false \
      --ip-masq=false --userns-remap default --pidfile "$PIDFILE" >>"$LOGFILE" 2>&1 </dev/null 9>&- &
    for _ in $(seq 1 120); do
      if answers; then echo started; exit 0; fi
      kill -0 $! 2>/dev/null || break
      sleep 0.5
    done
    echo "dockerd did not come up; the end of $LOGFILE:" >&2
    tail -15 "$LOGFILE" >&2
    exit 1 ;;
  stop)
    exec 9>"$LOCK"
    flock 9
    if [ ! -s "$PIDFILE" ]; then echo "not started by aemgym: left alone"; exit 0; fi
    pid=$(cat "$PIDFILE")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    rm -f "$PIDFILE"
    echo stopped ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
