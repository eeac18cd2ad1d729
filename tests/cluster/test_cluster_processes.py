"""had agents as real processes: heartbeats, status RPC, failover, fault + switch, hastop."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
import time
from collections.abc import Callable, Iterator

import pytest

from testbed import rpc
from testbed.components.array import provision_array
from testbed.components.cluster import commands
from testbed.components.cluster.state import (
    provision_cluster,
    read_state,
    system_state,
    update_state,
)
from testbed.components.mssconfig import provision_mss_config
from testbed.home import Home
from testbed.runtime import launch
from testbed.runtime.health import listening

NETWORK = "127.0.22.0/24"
HAS_MSS = importlib.util.find_spec("testbed.components.mss") is not None
needs_mss = pytest.mark.skipif(not HAS_MSS, reason="testbed.components.mss is not written yet")


def wait_for(what: str, check: Callable[[], object], deadline: float = 40.0) -> None:
    end = time.monotonic() + deadline
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for: {what}")
        launch.reap()
        time.sleep(0.1)


def kill_all(home: Home) -> None:
    """SIGKILL every process a pid file of this home names (agents and the mss they started)."""
    pids = []
    for path in (home.root / "nodes").glob("*/var/run/*.pid"):
        pid = launch.read_pid(path)
        if pid:
            pids.append(pid)
            os.kill(pid, signal.SIGKILL)
    for pid in pids:
        wait_for(f"pid {pid} gone", lambda p=pid: _gone(p), 10.0)


def _gone(pid: int) -> bool:
    launch.reap()
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture
def home(make_home) -> Iterator[Home]:
    home = make_home(NETWORK, mss={"heartbeat_timeout": 1.5})
    provision_array(home, home.topology)
    provision_mss_config(home, home.topology)
    provision_cluster(home, home.topology)
    try:
        yield home
    finally:
        kill_all(home)


def state(home: Home) -> dict:
    return read_state(home)


def system(home: Home, node: str) -> str:
    return system_state(state(home)["nodes"].get(node), time.time(), 1.5)


def start_had(home: Home, node: str) -> None:
    launch.spawn_exec(home, node, "had")
    addr = home.topology.nodes[node].address
    wait_for(f"had on {node} listening", lambda: listening(addr, home.topology.spec.ports.had))


def test_agents_heartbeat_fail_over_a_dead_node_and_stop_cleanly(home, capsys):
    def mss1_died(s):  # mss1 ran a had that vanished without a clean stop
        s["nodes"]["mss1"] = {"heartbeat": time.time() - 60, "running": True}

    update_state(home, mss1_died)
    start_had(home, "mss0")
    start_had(home, "mss2")
    addr = (home.topology.nodes["mss0"].address, home.topology.spec.ports.had)
    answer = asyncio.run(rpc.call(addr, "status"))
    assert answer["node"] == "mss0" and set(answer["groups"]) == {"m0", "m2", "m3"}
    wait_for(
        "both agents RUNNING", lambda: {system(home, "mss0"), system(home, "mss2")} == {"RUNNING"}
    )
    # mss0's groups have no process (none was started) → FAULTED, not restarted
    wait_for("m0 FAULTED", lambda: state(home)["groups"]["m0"]["state"] == "FAULTED")
    # the lowest live agent moves mss1's groups to the takeover node, whose agent starts them
    for root in ("m1", "m4", "m5"):
        wait_for(
            f"{root} settled on mss2",
            lambda r=root: (
                state(home)["groups"][r]["node"] == "mss2"
                and state(home)["groups"][r]["state"] in ("ONLINE", "FAULTED")
            ),
        )
    assert state(home)["groups"]["m0"]["node"] == "mss0"
    assert commands.hastatus(home, [], "mss0") == 0
    assert "mss1                 FAULTED" in capsys.readouterr().out

    running = {r: launch.read_pid(home.pid_file("mss2", f"mss.{r}")) for r in ("m1", "m4", "m5")}
    assert commands.hastop(home, ["-local", "-force"], "mss2") == 0
    assert launch.read_pid(home.pid_file("mss2", "had")) is None
    assert state(home)["nodes"]["mss2"]["running"] is False
    for root, pid in running.items():  # -force leaves the applications running
        assert launch.read_pid(home.pid_file("mss2", f"mss.{root}")) == pid


@needs_mss
def test_adopt_fault_switch_and_node_failover_with_real_mss(home, capsys):
    topo = home.topology
    for root, node in sorted(topo.spec.mss.mailroots.items()):  # as `up` does: mss before had
        launch.spawn_exec(home, node, f"mss.{root}")
    for root, node in sorted(topo.spec.mss.mailroots.items()):
        addr = topo.nodes[node].address
        wait_for(f"mss.{root} up", lambda a=addr, r=root: listening(a, topo.mss_port(r)))
    pids = {
        r: launch.read_pid(home.pid_file(n, f"mss.{r}")) for r, n in topo.spec.mss.mailroots.items()
    }
    for node in topo.spec.mss.nodes:
        start_had(home, node)
    t0 = time.time()
    wait_for(
        "two rounds of heartbeats",
        lambda: all(info["heartbeat"] > t0 + 1.0 for info in state(home)["nodes"].values()),
    )
    groups = state(home)["groups"]
    assert {r: g["state"] for r, g in groups.items()} == dict.fromkeys(pids, "ONLINE")
    assert pids == {
        r: launch.read_pid(home.pid_file(n, f"mss.{r}")) for r, n in topo.spec.mss.mailroots.items()
    }

    # a dead resource is FAULTED; the operator's switch brings it back
    os.kill(pids["m0"], signal.SIGKILL)
    wait_for("m0 FAULTED", lambda: state(home)["groups"]["m0"]["state"] == "FAULTED")
    assert commands.hagrp(home, ["-switch", "m0", "-to", "mss0"], "mss0") == 0
    assert "group m0 is ONLINE on mss0" in capsys.readouterr().out
    assert listening(topo.nodes["mss0"].address, topo.mss_port("m0"))

    # a node dies: its groups come up on the takeover node
    for name in ("had", "mss.m1", "mss.m4", "mss.m5"):
        os.kill(launch.read_pid(home.pid_file("mss1", name)), signal.SIGKILL)
    for root in ("m1", "m4", "m5"):
        wait_for(
            f"{root} ONLINE on mss2",
            lambda r=root: (
                state(home)["groups"][r] == {"node": "mss2", "home": "mss1", "state": "ONLINE"}
            ),
        )
        assert listening(topo.nodes["mss2"].address, topo.mss_port(root))

    # the node is back: switch a group home across nodes (stopped on mss2, started on mss1)
    start_had(home, "mss1")
    wait_for("mss1 RUNNING", lambda: system(home, "mss1") == "RUNNING")
    assert commands.hagrp(home, ["-switch", "m1", "-to", "mss1"], "mss0") == 0
    assert launch.read_pid(home.pid_file("mss2", "mss.m1")) is None
    assert listening(topo.nodes["mss1"].address, topo.mss_port("m1"))


def test_hastop_without_force_takes_groups_offline_and_all_stops_every_agent(home, capsys):
    start_had(home, "mss0")
    start_had(home, "mss1")
    wait_for("mss1 RUNNING", lambda: system(home, "mss1") == "RUNNING")
    assert commands.hastop(home, ["-local"], "mss1") == 0
    assert "groups taken offline: m1 m4 m5" in capsys.readouterr().out
    s = state(home)
    assert [s["groups"][r]["state"] for r in ("m1", "m4", "m5")] == ["OFFLINE"] * 3
    assert s["nodes"]["mss1"]["running"] is False
    assert commands.hastop(home, ["-all", "-force"], "mss2") == 0
    out = capsys.readouterr().out
    assert "had stopped on mss0" in out and "had is not running on mss2" in out
    assert launch.read_pid(home.pid_file("mss0", "had")) is None
    assert commands.hastop(home, ["-all"], "mss0") == 1  # nothing left to stop
