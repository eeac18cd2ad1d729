#!/usr/bin/env bash
# Start (or stop) a Docker engine for the docker backend on a machine without systemd, as in CI:
#   containers/dockerd.sh start    starts dockerd unless one answers; waits until it does
#   containers/dockerd.sh stop     stops the dockerd this script started (pid in /run/maildrill-dockerd.pid)
# No iptables on such machines: the daemon runs without its NAT rules and default bridge; the
# testbed's containers only talk on the network the testbed creates, reached directly from the host.
set -euo pipefail
PIDFILE=/run/maildrill-dockerd.pid
case "${1:-}" in
  start)
    if docker info >/dev/null 2>&1; then echo "dockerd already running"; exit 0; fi
    command -v dockerd >/dev/null || { echo "dockerd missing: apt-get install docker.io" >&2; exit 1; }
    # overlay2 where the kernel has overlayfs (a 10,000-user `up` in 7 s); vfs copies every
    # container's file system (30 s) but works anywhere
    driver=vfs; grep -qw overlay /proc/filesystems && driver=overlay2
    dockerd --iptables=false --ip6tables=false --bridge=none \
      --storage-driver="${DOCKER_STORAGE_DRIVER:-$driver}" >/var/log/maildrill-dockerd.log 2>&1 &
    echo $! >"$PIDFILE"
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && { echo "dockerd started"; exit 0; }; sleep 0.5; done
    echo "dockerd did not start:" >&2; tail -20 /var/log/maildrill-dockerd.log >&2; exit 1 ;;
  stop)
    [ -f "$PIDFILE" ] || exit 0
    pid="$(cat "$PIDFILE")"; rm -f "$PIDFILE"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
