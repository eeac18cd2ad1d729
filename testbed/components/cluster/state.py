"""The cluster's shared state: which MSS node runs each mailroot's service group, and who is alive.

One JSON file (<home>/cluster/state.json), changed only under an exclusive lock so the had agents
on different nodes never overwrite each other:

    {"nodes":  {"mss0": {"heartbeat": <time.time()>, "running": true}, ...},
     "groups": {"m0": {"node": "mss0", "home": "mss0", "state": "ONLINE"}, ...}}

Group states follow VCS: ONLINE, OFFLINE, FAULTED (the resource died; an operator switches it),
STARTING (being brought online on `node`). MAPIc routes a mailroot to groups[root]["node"].
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from testbed.home import Home
from testbed.topology.model import Topology

State = dict[str, Any]


def read_state(home: Home) -> State:
    try:
        return dict(json.loads(home.cluster_state.read_text()))
    except FileNotFoundError:
        return {"nodes": {}, "groups": {}}


@contextmanager
def _locked(home: Home) -> Iterator[None]:
    lock = home.cluster_state.with_suffix(".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock, also when the holder is killed


def update_state(home: Home, change: Callable[[State], Any]) -> Any:
    """Apply `change` to the state under the lock and write it atomically; returns its result."""
    with _locked(home):
        state = read_state(home)
        result = change(state)
        tmp = home.cluster_state.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(home.cluster_state)
    return result


def group_node(home: Home, mailroot: str) -> str | None:
    """The MSS node the mailroot's group is placed on now (None if the mailroot is unknown)."""
    group = read_state(home)["groups"].get(mailroot)
    return None if group is None else str(group["node"])


def provision_cluster(home: Home, topology: Topology) -> None:
    home.cluster_state.parent.mkdir(parents=True, exist_ok=True)
    state: State = {
        "nodes": {n: {"heartbeat": 0.0, "running": False} for n in topology.spec.mss.nodes},
        "groups": {
            root: {"node": node, "home": node, "state": "ONLINE"}
            for root, node in sorted(topology.spec.mss.mailroots.items())
        },
    }
    home.cluster_state.write_text(json.dumps(state, indent=1))


# --- membership, as every reader of the state sees it (added for had/hastatus) ---------------------
# A node is RUNNING while its had writes heartbeats, FAULTED when they stop without a clean exit
# (the node died), EXITED after `hastop` (or before its had ever started): an exited node is not
# failed over, which lets the plan's operators stop the cluster and work by hand.


def system_state(info: dict[str, Any] | None, now: float, timeout: float) -> str:
    if not info or not info.get("running"):
        return "EXITED"
    return "RUNNING" if now - float(info.get("heartbeat", 0.0)) <= timeout else "FAULTED"


def live_nodes(state: State, now: float, timeout: float) -> list[str]:
    """MSS nodes whose had is running now, by name."""
    return sorted(
        n for n, info in state["nodes"].items() if system_state(info, now, timeout) == "RUNNING"
    )


def dead_nodes(state: State, now: float, timeout: float) -> list[str]:
    """Nodes whose had stopped heartbeating without a clean exit."""
    return sorted(
        n for n, info in state["nodes"].items() if system_state(info, now, timeout) == "FAULTED"
    )
