"""The had agent's decisions as pure functions over a state dict and the set of live processes."""

from __future__ import annotations

from typing import Any

from testbed.components.cluster.had import decide, fail_over, failover_target
from testbed.components.cluster.state import dead_nodes, live_nodes, system_state
from testbed.topology.model import Mss

NOW = 1_000_000.0
SPEC = Mss()  # mss0..mss2, takeover mss2, m0,m2,m3 on mss0, m1,m4,m5 on mss1, timeout 3 s


def make_state(beats: dict[str, float | None], **groups: tuple[str, str]) -> dict[str, Any]:
    """beats: node → seconds since its last heartbeat (None: had exited cleanly)."""
    nodes = {
        n: {"heartbeat": NOW - (age or 0.0), "running": age is not None} for n, age in beats.items()
    }
    placed = groups or {r: (n, "ONLINE") for r, n in SPEC.mailroots.items()}
    return {
        "nodes": nodes,
        "groups": {r: {"node": n, "home": n, "state": st} for r, (n, st) in placed.items()},
    }


def test_system_state_by_heartbeat_and_clean_exit():
    assert system_state({"heartbeat": NOW - 1, "running": True}, NOW, 3.0) == "RUNNING"
    assert system_state({"heartbeat": NOW - 5, "running": True}, NOW, 3.0) == "FAULTED"
    assert system_state({"heartbeat": NOW - 5, "running": False}, NOW, 3.0) == "EXITED"
    assert system_state(None, NOW, 3.0) == "EXITED"
    state = make_state({"mss0": 0.2, "mss1": 10.0, "mss2": None})
    assert live_nodes(state, NOW, 3.0) == ["mss0"]
    assert dead_nodes(state, NOW, 3.0) == ["mss1"]


def test_adoption_at_start_keeps_running_groups_online():
    state = make_state({"mss0": None, "mss1": 0.1, "mss2": 0.1})
    d = decide(state, "mss0", NOW, {"m0", "m2", "m3"}, set(), SPEC)
    assert (d.start, d.adopt, d.faults, d.failovers) == ([], [], [], [])
    assert all(g["state"] == "ONLINE" for g in state["groups"].values())
    assert state["nodes"]["mss0"] == {"heartbeat": NOW, "running": True}


def test_dead_process_faults_only_own_group_and_is_not_restarted():
    state = make_state({"mss0": 0.1, "mss1": 0.1, "mss2": 0.1})
    d = decide(state, "mss0", NOW, {"m0", "m3"}, set(), SPEC)
    assert d.faults == ["m2"] and d.start == []
    assert state["groups"]["m2"] == {"node": "mss0", "home": "mss0", "state": "FAULTED"}
    assert state["groups"]["m1"]["state"] == "ONLINE"  # mss1's groups are mss1's business
    again = decide(state, "mss0", NOW + 1, {"m0", "m3"}, set(), SPEC)
    assert again.faults == [] and again.start == [] and state["groups"]["m2"]["state"] == "FAULTED"


def test_starting_group_is_spawned_or_adopted_once():
    state = make_state({"mss0": 0.1, "mss2": 0.1}, m0=("mss2", "STARTING"), m1=("mss2", "STARTING"))
    d = decide(state, "mss2", NOW, {"m1"}, set(), SPEC)
    assert d.start == ["m0"] and d.adopt == ["m1"] and d.faults == []
    busy = decide(state, "mss2", NOW, {"m1"}, {"m0", "m1"}, SPEC)
    assert busy.start == [] and busy.adopt == []


def test_lowest_live_node_fails_dead_node_over_to_takeover_node():
    state = make_state({"mss0": 0.1, "mss1": 9.0, "mss2": 0.2})
    assert fail_over(make_state({"mss0": 0.1, "mss1": 9.0, "mss2": 0.2}), "mss2", NOW, SPEC) == []
    d = decide(state, "mss0", NOW, {"m0", "m2", "m3"}, set(), SPEC)
    assert d.failovers == [("m1", "mss1", "mss2"), ("m4", "mss1", "mss2"), ("m5", "mss1", "mss2")]
    for root in ("m1", "m4", "m5"):
        assert state["groups"][root]["node"] == "mss2"
        assert state["groups"][root]["state"] == "STARTING"
        assert state["groups"][root]["home"] == "mss1"
    assert decide(state, "mss0", NOW, {"m0", "m2", "m3"}, set(), SPEC).failovers == []


def test_without_takeover_node_the_least_loaded_live_node_is_chosen():
    state = make_state({"mss0": 0.1, "mss1": 0.1, "mss2": 9.0})
    state["groups"]["m5"]["node"] = "mss0"  # mss0: 4 groups, mss1: 2
    spec = Mss(takeover=[])
    assert failover_target(state, ["mss0", "mss1"], spec) == "mss1"
    assert failover_target(state, [], spec) is None
    assert failover_target(state, ["mss0", "mss1"], SPEC) == "mss1"  # mss2 (takeover) is dead
    state["groups"]["m1"].update(node="mss2")
    state["groups"]["m4"].update(node="mss2", state="STARTING")
    state["groups"]["m3"].update(node="mss2", state="FAULTED")
    moved = fail_over(state, "mss0", NOW, spec)
    # FAULTED groups wait for an operator; active ones spread (ties go to the lower name)
    assert moved == [("m1", "mss2", "mss1"), ("m4", "mss2", "mss1")]
    assert state["groups"]["m3"] == {"node": "mss2", "home": "mss0", "state": "FAULTED"}


def test_cleanly_stopped_node_is_not_failed_over_and_settling_agent_waits():
    state = make_state({"mss0": 0.1, "mss1": None, "mss2": 0.1})
    assert decide(state, "mss0", NOW, {"m0", "m2", "m3"}, set(), SPEC).failovers == []
    state = make_state({"mss0": 0.1, "mss1": 9.0, "mss2": 0.1})
    d = decide(state, "mss0", NOW, {"m0", "m2", "m3"}, set(), SPEC, may_fail_over=False)
    assert d.failovers == [] and state["groups"]["m1"]["node"] == "mss1"
