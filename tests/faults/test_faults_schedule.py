"""Pure logic, no processes: schedules, the exactly-once Timeline, the ledger + injector with a
fake fault under any order of inject, revert, crash and doctor, and the envelope's validation."""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from testbed.faults import injector, journal, registry
from testbed.faults.base import (
    Effect,
    Fault,
    FaultContext,
    FaultError,
    FaultSpec,
    Plan,
    Schedule,
    parse_duration,
)
from testbed.faults.ledger import Ledger
from testbed.faults.schedule import Timeline, occurrences
from testbed.home import Home
from testbed.topology.model import Topology, TopologyFile
from testbed.topology.resolve import resolve

# --- a fault that only counts, registered for these tests ----------------------------------------

APPLIED: Counter[str] = Counter()
UNDONE: Counter[str] = Counter()


class NoopParams(BaseModel):
    fail: bool = False  # inject raises after the ledger entry is written


@registry.register
class CountingFault(Fault):
    name = "test_counting"
    description = "test only: counts inject and revert calls"
    Params = NoopParams

    def targets(self, topology: Topology) -> list[str]:
        return ["a", "b"]

    def plan(self, ctx: FaultContext) -> Plan:
        return {"token": f"{ctx.target}-{len(APPLIED) + sum(UNDONE.values())}-{id(ctx)}"}

    def inject(self, ctx: FaultContext, plan: Plan) -> None:
        APPLIED[plan["token"]] += 1
        assert isinstance(ctx.params, NoopParams)
        if ctx.params.fail:
            raise RuntimeError("inject failed half-way")

    def check(self, ctx: FaultContext, plan: Plan) -> Effect:
        return Effect(True, "counted")

    def revert(self, ctx: FaultContext, plan: Plan) -> None:
        UNDONE[plan["token"]] += 1

    def confirm(self, ctx: FaultContext, plan: Plan) -> Effect:
        return Effect(True, "counted")


@contextmanager
def scratch_home() -> Iterator[Home]:
    """A home with a topology but no processes and no node folders (nothing real is touched)."""
    with tempfile.TemporaryDirectory() as tmp:
        home = Home(tmp)
        topo = resolve(TopologyFile(network="127.0.29.0/24"))
        home.topology_file.write_text(topo.model_dump_json())
        yield home


# --- schedules -----------------------------------------------------------------------------------


schedules = st.builds(
    lambda at, duration, repeat, gap, p, seed: Schedule(
        at=at,
        duration=duration,
        repeat=repeat if duration else 1,
        every=(duration + gap) if duration and repeat > 1 else None,
        probability=p,
        seed=seed,
    ),
    st.floats(0, 100),
    st.one_of(st.none(), st.floats(0.1, 50)),
    st.integers(1, 6),
    st.floats(0, 10),
    st.floats(0, 1),
    st.integers(0, 2**32),
)


@given(schedules)
def test_occurrences_are_reproducible_and_ordered(schedule: Schedule) -> None:
    first, again = occurrences(schedule), occurrences(schedule)
    assert first == again
    assert len(first) <= schedule.repeat
    starts = [o.start for o in first]
    assert starts == sorted(starts) and all(s >= schedule.at for s in starts)
    for occ in first:
        assert occ.end == (None if schedule.duration is None else occ.start + schedule.duration)
    if schedule.probability == 1.0:
        assert len(first) == schedule.repeat


event = st.one_of(
    st.tuples(st.just("start"), st.integers(0, 5)),
    st.tuples(st.just("end"), st.integers(0, 5)),
    st.tuples(st.just("abort"), st.just(0)),
)


@given(st.integers(1, 6), st.lists(event, max_size=30), st.sets(st.integers(0, 5)))
def test_every_injected_occurrence_reverted_exactly_once(
    count: int, events: list[tuple[str, int]], failing: set[int]
) -> None:
    """Whatever the order of start, end and abort (and with some injects failing), each
    injected occurrence is reverted exactly once and none is injected after an abort."""
    injected: Counter[int] = Counter()
    reverted: Counter[str] = Counter()
    aborted = False

    def inject(k: int) -> str:
        assert not aborted, "no inject after abort"
        injected[k] += 1
        if k in failing:
            raise RuntimeError("inject failed (it reverts itself)")
        return f"h{k}"

    line = Timeline(inject=inject, revert=lambda h: reverted.update([h]), count=count)
    for kind, k in events:
        if kind == "abort":
            line.abort()
            aborted = True
        elif kind == "start":
            with suppress(RuntimeError):
                line.start(k)
        else:
            line.end(k)
    line.abort()  # the run ends: whatever is still on goes
    assert line.finished()
    assert all(n == 1 for n in injected.values()), "each occurrence injected at most once"
    ok = {k for k in injected if k not in failing}
    assert reverted == Counter({f"h{k}": 1 for k in ok})


# --- the ledger and the injector ------------------------------------------------------------------

ops = st.lists(
    st.one_of(
        st.tuples(st.just("inject"), st.sampled_from(["a", "b"]), st.booleans()),
        st.tuples(st.just("revert"), st.integers(0, 20), st.just(False)),
        st.tuples(st.just("revert_all"), st.just(""), st.just(False)),
        st.tuples(st.just("crash"), st.just(""), st.just(False)),
    ),
    max_size=15,
)


@settings(deadline=None, max_examples=60)
@given(ops)
def test_injector_reverts_each_fault_exactly_once(steps: list[tuple[Any, Any, bool]]) -> None:
    APPLIED.clear()
    UNDONE.clear()
    with scratch_home() as home:
        ids: list[str] = []
        for op, arg, flag in steps:
            if op == "inject":
                try:
                    ids.append(injector.inject(home, "test_counting", arg, {"fail": flag}))
                except FaultError:
                    assert flag
            elif op == "revert" and ids:
                injector.revert(home, ids[arg % len(ids)])
            elif op == "revert_all":
                injector.revert_all(home)
            elif op == "crash":  # the injecting process dies: only the ledger remembers
                ids = []
        injector.doctor(home)
        assert Ledger(home).entries() == []
        assert set(UNDONE) == set(APPLIED), "every applied fault was reverted"
        assert all(n == 1 for n in UNDONE.values()), UNDONE
        events = journal.read(home)
        assert sum(e["event"] == "inject" for e in events) == sum(
            not s[2] for s in steps if s[0] == "inject"
        )
        injects = {e["id"] for e in events if e["event"] == "inject"}
        reverts = [e["id"] for e in events if e["event"] == "revert"]
        assert sorted(reverts) == sorted(set(reverts)) and injects <= set(reverts)


def test_ledger_entry_written_before_inject() -> None:
    seen: list[int] = []
    original = CountingFault.inject

    def spy(self: CountingFault, ctx: FaultContext, plan: Plan) -> None:
        seen.append(len(Ledger(ctx.home).entries()))
        original(self, ctx, plan)

    with scratch_home() as home:
        CountingFault.inject = spy  # type: ignore[method-assign]
        try:
            fid = injector.inject(home, "test_counting", "a")
        finally:
            CountingFault.inject = original  # type: ignore[method-assign]
        assert seen == [1]
        entry = Ledger(home).get(fid)
        assert entry is not None and entry.phase == "active" and entry.plan["token"]
        assert injector.revert(home, fid) and not injector.revert(home, fid)


# --- validation ----------------------------------------------------------------------------------


def test_unknown_type_and_target_name_the_valid_ones() -> None:
    with scratch_home() as home:
        with pytest.raises(FaultError, match="fault types are: .*process_kill"):
            injector.inject(home, "no_such_fault", "a")
        with pytest.raises(FaultError, match="valid targets: .*fe01/mta"):
            injector.inject(home, "process_kill", "fe01/nope")
        with pytest.raises(FaultError, match="needs --target"):
            injector.inject(home, "process_kill")
        with pytest.raises(FaultError, match="bad params: fail"):
            injector.inject(home, "test_counting", "a", {"fail": "maybe"})
        assert Ledger(home).entries() == []


def test_envelope_and_durations() -> None:
    assert parse_duration("30s") == 30 and parse_duration("2m") == 120
    assert parse_duration("500ms") == 0.5 and parse_duration(7) == 7.0
    with pytest.raises(ValueError):
        parse_duration("soon")
    spec = FaultSpec.model_validate(
        {"type": "process_kill", "target": "fe01/mta", "schedule": {"at": "1m", "duration": "30s"}}
    )
    assert spec.schedule.at == 60 and spec.schedule.duration == 30
    for bad in (
        {"duration": 5, "until_repaired": True},
        {"repeat": 3, "duration": 5},
        {"repeat": 3, "duration": 5, "every": 2},
        {"probability": 1.5},
        {"sometimes": True},
    ):
        with pytest.raises(ValidationError):
            Schedule.model_validate(bad)


def test_catalogue_has_the_whole_first_catalogue() -> None:
    names = set(registry.names())
    assert {
        "process_kill",
        "process_hang",
        "crash_loop",
        "node_down",
        "uas_pool_dead",
        "uas_db_down",
        "mss_process_dead",
        "cluster_agent_dead",
        "array_offline",
        "array_readonly",
        "hba_path_down",
        "lb_unit_down",
        "web_down",
    } <= names
    assert all(item["description"] for item in registry.catalogue())
