"""hastatus / hagrp / hastop as the plan's operator types them (no agents running)."""

from __future__ import annotations

import time

import pytest

from testbed.components.cluster import commands
from testbed.components.cluster.state import provision_cluster, read_state, update_state

NETWORK = "127.0.22.0/24"


@pytest.fixture
def home(make_home):
    home = make_home(NETWORK)
    provision_cluster(home, home.topology)
    return home


def beat(home, **ages):
    def change(state):
        for node, age in ages.items():
            state["nodes"][node] = {"heartbeat": time.time() - age, "running": age is not None}

    update_state(home, change)


def test_hastatus_summary_lists_systems_and_groups(home, capsys):
    beat(home, mss0=0.0, mss1=60.0)
    assert commands.hastatus(home, ["-sum"], "mss0") == 0
    out = capsys.readouterr().out
    assert "-- SYSTEM STATE" in out and "-- GROUP STATE" in out
    rows = {tuple(line.split()[:3]) for line in out.splitlines() if line.startswith(("A ", "B "))}
    assert {("A", "mss0", "RUNNING"), ("A", "mss1", "FAULTED"), ("A", "mss2", "EXITED")} <= rows
    for root, node in {"m0": "mss0", "m2": "mss0", "m1": "mss1", "m5": "mss1"}.items():
        assert any(r[:3] == ("B", root, node) for r in rows)
    assert sum(line.endswith("ONLINE") for line in out.splitlines()) == 6
    assert commands.hastatus(home, [], "mss0") == 0


@pytest.mark.parametrize(
    "func,argv",
    [
        (commands.hagrp, []),
        (commands.hagrp, ["-switch", "m0"]),
        (commands.hagrp, ["-switch", "m0", "-sys", "mss2"]),
        (commands.hagrp, ["-frobnicate"]),
        (commands.hastatus, ["-verbose"]),
        (commands.hastop, []),
        (commands.hastop, ["-local", "-all"]),
        (commands.hastop, ["-local", "-now"]),
    ],
)
def test_usage_errors_exit_2_with_a_usage_line(home, capsys, func, argv):
    assert func(home, argv, "mss0") == 2
    out = capsys.readouterr().out
    assert out.startswith("usage: ") and "Traceback" not in out


def test_hagrp_refuses_unknown_group_node_and_dead_target(home, capsys):
    assert commands.hagrp(home, ["-switch", "m9", "-to", "mss2"], "mss0") == 2
    assert "unknown group m9" in capsys.readouterr().out
    assert commands.hagrp(home, ["-switch", "m0", "-to", "mss7"], "mss0") == 2
    assert "unknown system mss7" in capsys.readouterr().out
    assert commands.hagrp(home, ["-switch", "m0", "-to", "mss2"], "mss0") == 1  # no had on mss2
    assert "not RUNNING" in capsys.readouterr().out
    assert read_state(home)["groups"]["m0"]["node"] == "mss0"  # nothing changed


def test_switch_places_group_on_target_and_reports_what_its_agent_did(home, capsys):
    beat(home, mss2=0.0)
    assert commands.switch(home, "m0", "mss2", wait=0.3) == 1  # no agent: stays STARTING
    assert read_state(home)["groups"]["m0"] == {"node": "mss2", "home": "mss0", "state": "STARTING"}
    assert "group m0 is STARTING on mss2" in capsys.readouterr().out


def test_hagrp_state_and_hastop_without_agent(home, capsys):
    assert commands.hagrp(home, ["-state", "m1"], "mss0") == 0
    assert "|ONLINE|" in capsys.readouterr().out
    assert commands.hagrp(home, ["-state", "m8"], "mss0") == 2
    capsys.readouterr()
    assert commands.hastop(home, ["-local", "-force"], "mss1") == 1
    assert "had is not running on mss1" in capsys.readouterr().out
