"""A node's first process in its container (docker backend): start the node's services as the
local backend does — by fork, from one interpreter that imported the components once — then stay
as the node's init: reap children, and on SIGTERM stop them all before the container ends.

    python3 -m testbed.runtime.node HOME NODE

Pids are host pids (containers run with the host's pid namespace), so the pid files under the
shared home mean the same inside and outside, and status, faults and `down` work unchanged.
"""

from __future__ import annotations

import os
import signal
import sys
import time

import psutil

from testbed.home import Home
from testbed.runtime import launch
from testbed.runtime.local import terminate
from testbed.runtime.provision import initial_services

IN_CONTAINER = "MAILDRILL_CONTAINER_NODE"  # set in every node container: which node it is


def main(home_dir: str, node: str) -> int:
    home = Home(home_dir)
    os.environ[IN_CONTAINER] = node
    launch.preimport()
    for where, service in initial_services(home.topology):
        if where == node:
            launch.spawn_forked(home, node, service)
    stopping = False

    def on_term(_sig: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    while not stopping:
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:  # services that died: no zombies
                pass
        except ChildProcessError:
            pass
        time.sleep(0.2)
    terminate(psutil.Process().children(recursive=True))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print("usage: python3 -m testbed.runtime.node HOME NODE", file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(main(sys.argv[1], sys.argv[2]))
