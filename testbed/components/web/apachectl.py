"""/opt/aid/bin/apachectl on a webserver node: start, stop, restart, status of its httpd.

Prints like apache 1.3's apachectl (the plan's servers). Exit codes: 0 ok, 2 usage, 3 could not
start/stop (and `status` 3 when httpd is not running, as LSB scripts do).

`stop` sends SIGTERM (and SIGCONT, so a frozen process can act on it) and waits until httpd is gone;
if it still runs after STOP_WAIT_S it is killed, since the plan relies on stop/start to clear a
hung server.
"""

from __future__ import annotations

import signal
import sys
import time

from testbed.errors import MaildrillError
from testbed.home import Home
from testbed.runtime.backend import Backend
from testbed.runtime.registry import backend_for

SERVICE = "httpd"
PROG = "apachectl"
USAGE = f"Usage: {PROG} start|stop|restart|status"
STOP_WAIT_S = 10.0


def _pid(backend: Backend, node: str) -> int | None:
    for state in backend.status():
        if state.node == node and state.service == SERVICE:
            return state.pid
    raise MaildrillError(f"node {node} has no {SERVICE}")


def _wait_gone(backend: Backend, node: str, deadline_s: float) -> bool:
    end = time.monotonic() + deadline_s
    while _pid(backend, node) is not None:
        if time.monotonic() > end:
            return False
        time.sleep(0.1)
    return True


def start(backend: Backend, node: str) -> int:
    pid = _pid(backend, node)
    if pid is not None:
        print(f"{PROG} start: httpd (pid {pid}) already running")
        return 0
    try:
        backend.start(node, SERVICE)
    except MaildrillError as exc:
        print(f"{PROG} start: httpd could not be started: {exc}", file=sys.stderr)
        return 3
    print(f"{PROG} start: httpd started")
    return 0


def stop(backend: Backend, node: str) -> int:
    pid = _pid(backend, node)
    if pid is None or not backend.signal(node, SERVICE, signal.SIGTERM):
        print(f"{PROG} stop: httpd not running")
        return 0
    backend.signal(node, SERVICE, signal.SIGCONT)
    if not _wait_gone(backend, node, STOP_WAIT_S):
        backend.signal(node, SERVICE, signal.SIGKILL)
        if not _wait_gone(backend, node, STOP_WAIT_S):
            print(f"{PROG} stop: httpd (pid {pid}) could not be stopped", file=sys.stderr)
            return 3
        print(f"{PROG} stop: httpd (pid {pid}) did not stop in {STOP_WAIT_S:.0f} s, killed")
    print(f"{PROG} stop: httpd stopped")
    return 0


def status(backend: Backend, node: str) -> int:
    pid = _pid(backend, node)
    if pid is None:
        print("httpd is not running")
        return 3
    print(f"httpd (pid {pid}) is running")
    return 0


def main(home: Home, node: str, argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in ("start", "stop", "restart", "status"):
        print(USAGE, file=sys.stderr)
        return 2
    if home.topology.node(node).role != "web":
        raise MaildrillError(f"{node} is not a webserver")
    backend = backend_for(home)
    action = argv[0]
    if action == "start":
        return start(backend, node)
    if action == "stop":
        return stop(backend, node)
    if action == "status":
        return status(backend, node)
    was_running = _pid(backend, node) is not None
    if not was_running:
        print(f"{PROG} restart: httpd not running, trying to start")
        return start(backend, node)
    code = stop(backend, node)
    return code or start(backend, node)
