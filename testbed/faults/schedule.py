"""Schedules as pure logic: when each occurrence of a fault starts and ends, and a timeline that
turns start/end/abort events into inject/revert calls with exactly-once reverts.

A scenario runner feeds a Timeline the events in whatever order they happen (a planned end, an
operator's repair, an abort condition, Ctrl-C); the Timeline guarantees every occurrence that was
injected is reverted exactly once and nothing is injected after an abort.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from testbed.faults.base import Schedule


@dataclass(frozen=True)
class Occurrence:
    index: int
    start: float  # seconds from the start of the run
    end: float | None  # None: until repaired, or until the run ends


def occurrences(schedule: Schedule) -> list[Occurrence]:
    """The occurrences that will happen; each drawn with `probability` from `seed`, so the same
    schedule always gives the same list."""
    rng = random.Random(schedule.seed)
    out = []
    for i in range(schedule.repeat):
        start = schedule.at + i * (schedule.every or 0.0)
        happens = rng.random() < schedule.probability  # always drawn: one draw per occurrence
        if not happens:
            continue
        end = None if schedule.duration is None else start + schedule.duration
        out.append(Occurrence(i, start, end))
    return out


PENDING, ACTIVE, DONE, SKIPPED = "pending", "active", "done", "skipped"


@dataclass
class Timeline:
    """Occurrence k: pending → active (inject) → done (revert); or pending → skipped (ended or
    aborted before it started). Callbacks: inject(k) -> handle, revert(handle)."""

    inject: Callable[[int], str]
    revert: Callable[[str], object]
    count: int
    states: dict[int, str] = field(default_factory=dict)
    handles: dict[int, str] = field(default_factory=dict)
    aborted: bool = False

    def __post_init__(self) -> None:
        self.states = {k: PENDING for k in range(self.count)}

    def start(self, k: int) -> None:
        if self.aborted or self.states.get(k) != PENDING:
            return
        self.states[k] = ACTIVE  # before inject: a failing inject is still reverted
        try:
            self.handles[k] = self.inject(k)
        except BaseException:
            self.states[k] = DONE  # inject reverts its own partial work before raising
            raise

    def end(self, k: int) -> None:
        state = self.states.get(k)
        if state == PENDING:
            self.states[k] = SKIPPED
        elif state == ACTIVE:
            self.states[k] = DONE  # first: a revert that raises is not retried by this timeline
            self.revert(self.handles[k])

    def abort(self) -> None:
        """Stop everything now: revert what is on, never start the rest."""
        self.aborted = True
        errors: list[BaseException] = []
        for k in sorted(self.states):
            try:
                self.end(k)
            except Exception as exc:  # keep reverting the others, report afterwards
                errors.append(exc)
        if errors:
            raise errors[0]

    @property
    def active(self) -> list[int]:
        return [k for k, s in self.states.items() if s == ACTIVE]

    def finished(self) -> bool:
        return all(s in (DONE, SKIPPED) for s in self.states.values())
