"""The cluster manager's operator commands, as the plan runs them on an MSS node:

    hagrp -switch GROUP -to NODE     move a service group (also how a FAULTED group is restarted)
    hagrp -state [GROUP]             where each group runs and its state
    hastatus [-sum]                  one-shot summary of systems and groups
    hastop -local [-force]           stop this node's had (-force leaves the mss processes running)
    hastop -all [-force]             the same on every MSS node

Each function prints to stdout and returns the exit code: 0 success, 1 the operation failed or was
refused, 2 a usage error (with a usage line, never a traceback).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from testbed.components.cluster.state import State, read_state, system_state, update_state
from testbed.home import Home
from testbed.runtime import launch

STOP_GRACE_S = 5.0
SWITCH_WAIT_S = 25.0  # had gives a start 10 s; leave room for a slow, busy machine

HAGRP_USAGE = "usage: hagrp -switch GROUP -to NODE | hagrp -state [GROUP]"
HASTATUS_USAGE = "usage: hastatus [-sum]"
HASTOP_USAGE = "usage: hastop -local [-force] | hastop -all [-force]"


def _usage(line: str, problem: str) -> int:
    print(line)
    print(f"error: {problem}")
    return 2


def stop_process(path: Path, grace: float = STOP_GRACE_S) -> bool:
    """SIGTERM the process a pid file names, SIGKILL it after `grace` s; False if none ran.
    Polls the pid file (a zombie counts as gone: its parent agent reaps it)."""
    pid = launch.read_pid(path)
    if pid is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGCONT)  # a stopped process cannot act on SIGTERM
        os.kill(pid, signal.SIGTERM)
    for sig in (signal.SIGKILL, None):
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            launch.reap()
            if launch.read_pid(path) is None:
                return True
            time.sleep(0.05)
        if sig is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
    return True


def _timeout(home: Home) -> float:
    return home.topology.spec.mss.heartbeat_timeout


# --- hastatus -------------------------------------------------------------------------------------


def summary(home: Home, now: float | None = None) -> str:
    """The `hastatus -sum` text."""
    state = read_state(home)
    now = time.time() if now is None else now
    lines = ["", "-- SYSTEM STATE", f"-- {'System':<20} {'State':<20} Frozen", ""]
    for node in home.topology.spec.mss.nodes:
        st = system_state(state["nodes"].get(node), now, _timeout(home))
        lines.append(f"A  {node:<20} {st:<20} 0")
    lines += ["", "-- GROUP STATE", f"-- {'Group':<15} {'System':<20} {'Probed':<10} State", ""]
    for root, group in sorted(state["groups"].items()):
        lines.append(f"B  {root:<15} {group['node']:<20} {'Y':<10} {group['state']}")
    return "\n".join(lines) + "\n"


def hastatus(home: Home, argv: list[str], node: str) -> int:
    if any(a not in ("-sum", "-summary") for a in argv):
        return _usage(HASTATUS_USAGE, f"unknown arguments: {' '.join(argv)}")
    print(summary(home), end="")
    return 0


# --- hagrp ----------------------------------------------------------------------------------------


def hagrp(home: Home, argv: list[str], node: str) -> int:
    if argv[:1] == ["-state"] and len(argv) <= 2:
        return _state(home, argv[1:])
    if len(argv) == 4 and argv[0] == "-switch" and argv[2] == "-to":
        return switch(home, argv[1], argv[3])
    return _usage(HAGRP_USAGE, f"bad arguments: {' '.join(argv) or '(none)'}")


def _state(home: Home, names: list[str]) -> int:
    groups = read_state(home)["groups"]
    unknown = [n for n in names if n not in groups]
    if unknown:
        return _usage(HAGRP_USAGE, f"unknown group {unknown[0]}; groups are: {', '.join(groups)}")
    print(f"{'#Group':<8} {'Attribute':<10} {'System':<10} Value")
    for root in names or sorted(groups):
        print(f"{root:<8} {'State':<10} {groups[root]['node']:<10} |{groups[root]['state']}|")
    return 0


def switch(home: Home, group: str, target: str, wait: float = SWITCH_WAIT_S) -> int:
    """Stop the group's mss process where it runs, place it on `target` (STARTING) and wait until
    the target's had reports ONLINE or FAULTED."""
    state = read_state(home)
    nodes = home.topology.spec.mss.nodes
    if group not in state["groups"]:
        names = ", ".join(sorted(state["groups"]))
        return _usage(HAGRP_USAGE, f"unknown group {group}; groups are: {names}")
    if target not in nodes:
        return _usage(HAGRP_USAGE, f"unknown system {target}; systems are: {', '.join(nodes)}")
    if system_state(state["nodes"].get(target), time.time(), _timeout(home)) != "RUNNING":
        print(f"VCS WARNING: system {target} is not RUNNING (its had is not alive); not switching")
        return 1
    current = state["groups"][group]
    if current["node"] == target and current["state"] == "ONLINE":
        print(f"group {group} is already ONLINE on {target}")
        return 0
    source = str(current["node"])

    def take_offline(s: State) -> None:
        s["groups"][group]["state"] = "OFFLINE"  # the source agent will not call the stop a fault

    update_state(home, take_offline)
    print(f"stopping mss.{group} on {source}")
    stop_process(home.pid_file(source, f"mss.{group}"))

    def place(s: State) -> None:
        s["groups"][group].update(node=target, state="STARTING")

    update_state(home, place)
    print(f"starting {group} on {target}")
    result = _wait_settled(home, group, target, wait)
    print(f"group {group} is {result} on {target}")
    return 0 if result == "ONLINE" else 1


def _wait_settled(home: Home, group: str, target: str, wait: float) -> str:
    deadline = time.monotonic() + wait
    while True:
        g = read_state(home)["groups"][group]
        if g["node"] != target:
            return f"moved to {g['node']} ({g['state']})"
        if g["state"] in ("ONLINE", "FAULTED") or time.monotonic() > deadline:
            return str(g["state"])
        time.sleep(0.1)


# --- hastop ---------------------------------------------------------------------------------------


def hastop(home: Home, argv: list[str], node: str) -> int:
    scope = [a for a in argv if a in ("-local", "-all")]
    rest = [a for a in argv if a not in ("-local", "-all", "-force")]
    if len(scope) != 1 or rest or argv.count("-force") > 1:
        return _usage(HASTOP_USAGE, f"bad arguments: {' '.join(argv) or '(none)'}")
    force = "-force" in argv
    if scope == ["-local"]:
        return _stop_node(home, node, force)
    codes = [_stop_node(home, n, force) for n in home.topology.spec.mss.nodes]
    return 0 if 0 in codes else 1  # -all: fine as long as some agent was running


def _stop_node(home: Home, node: str, force: bool) -> int:
    if not stop_process(home.pid_file(node, "had")):
        print(f"VCS WARNING: had is not running on {node}")
        return 1

    def exited(s: State) -> list[str]:
        # Also after a SIGKILL: an operator's stop is never mistaken for a node failure.
        s["nodes"].setdefault(node, {})["running"] = False
        return [r for r, g in sorted(s["groups"].items()) if g["node"] == node]

    groups = update_state(home, exited)
    if force:
        print(f"had stopped on {node}; groups left running: {' '.join(groups) or '(none)'}")
        return 0
    for root in groups:  # without -force VCS takes the groups offline first
        stop_process(home.pid_file(node, f"mss.{root}"))

    def offline(s: State) -> None:
        for root in groups:
            s["groups"][root]["state"] = "OFFLINE"

    update_state(home, offline)
    print(f"had stopped on {node}; groups taken offline: {' '.join(groups) or '(none)'}")
    return 0
