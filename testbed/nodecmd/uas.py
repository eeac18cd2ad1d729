"""/opt/aiuum/bin/ServicePool on a UAS node: the plan judges the UAS by
`ServicePool monitor aiuum` → CurrentProcessCount=N (0: the pool is dead)."""

from __future__ import annotations

from testbed.home import Home
from testbed.runtime.registry import backend_for

USAGE = "usage: ServicePool monitor|start|stop aiuum"


def service_pool(home: Home, node: str, argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("monitor", "start", "stop") or argv[1] != "aiuum":
        print(USAGE)
        return 2
    backend = backend_for(home)
    workers = [s.name for s in home.topology.node(node).services if s.kind == "uas"]
    alive = {s.service for s in backend.status() if s.node == node and s.pid}
    if argv[0] == "monitor":
        count = len([w for w in workers if w in alive])
        print("ServiceName=aiuum")
        print(f"ConfiguredProcessCount={len(workers)}")
        print(f"CurrentProcessCount={count}")
        return 0
    for worker in workers:
        if argv[0] == "start" and worker not in alive:
            backend.start(node, worker)
            print(f"aiuum: {worker} started")
        elif argv[0] == "stop" and worker in alive:
            backend.signal(node, worker)
            print(f"aiuum: {worker} stopped")
    return 0
