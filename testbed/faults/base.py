"""What every fault shares: the envelope (type, target, schedule), the context it acts in, and the
Fault interface (plan → inject → check → revert → confirm).

A fault's own settings live in its `Params` model (pydantic), apart from the envelope, so scenario
files and `maildrill inject --param k=v` validate them the same way.

The two-step inject is what makes the revert ledger safe: `plan()` only looks (which processes
run, where the cluster places a mailroot) and returns a JSON-able dict; the injector writes that
plan to the ledger *before* `inject()` changes anything, and `revert()` works from the same plan,
so a crash at any point leaves enough on disk to undo it.
"""

from __future__ import annotations

import abc
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from testbed.errors import MaildrillError
from testbed.home import Home
from testbed.runtime.backend import Backend
from testbed.topology.model import Topology

Plan = dict[str, Any]
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


class FaultError(MaildrillError):
    """A fault was refused (unknown type or target, not owned by the testbed) or failed."""


def parse_duration(value: object) -> float:
    """Seconds from 30, 30.5, "30", "30s", "500ms", "2m" or "1h"."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or e.g. '30s', '2m'")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h)?\s*", str(value))
        if not m:
            raise ValueError(f"not a duration: {value!r} (e.g. 30, '30s', '2m', '500ms')")
        seconds = float(m.group(1)) * _UNITS[m.group(2) or "s"]
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoParams(Strict):
    """This fault has no settings of its own."""


class Schedule(Strict):
    """When a fault is on. `at` counts from the start of the run; without `duration` and without
    `until_repaired` the fault stays until the run ends. `repeat` occurrences start `every`
    seconds apart; each one happens with `probability`, drawn from `seed` (reproducible)."""

    at: Duration = 0.0
    duration: Duration | None = Field(None, gt=0)
    until_repaired: bool = False
    repeat: int = Field(1, ge=1, le=1000)
    every: Duration | None = Field(None, gt=0)
    probability: float = Field(1.0, ge=0.0, le=1.0)
    seed: int | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Schedule:
        if self.until_repaired and self.duration is not None:
            raise ValueError("give either duration or until_repaired, not both")
        if self.repeat > 1:
            if self.every is None:
                raise ValueError("repeat > 1 needs `every` (seconds between starts)")
            if self.duration is None:
                raise ValueError("repeat > 1 needs a duration (each occurrence must end)")
            if self.every < self.duration:
                raise ValueError("`every` must be at least the duration (occurrences overlap)")
        return self


class FaultSpec(Strict):
    """The shared envelope: which fault, where, when, and its own params (checked by its model)."""

    type: str
    target: str | None = None
    schedule: Schedule = Field(default_factory=Schedule)
    params: dict[str, Any] = Field(default_factory=dict)


@dataclass
class Effect:
    """What a client saw when the effect check ran."""

    ok: bool  # True: the symptom is there, as the fault promises
    detail: str


@dataclass
class FaultContext:
    home: Home
    backend: Backend
    target: str
    params: BaseModel
    teardown: bool = False  # the testbed is going away: undo state, start nothing
    notes: list[str] = field(default_factory=list)

    @cached_property
    def topology(self) -> Topology:
        return self.home.topology


class Fault(abc.ABC):
    """One kind of fault. Subclasses set name/description/chapter, optionally Params, and
    implement the methods below. Registered by name with `@register` (testbed.faults.registry)."""

    name: ClassVar[str]
    description: ClassVar[str]
    chapter: ClassVar[str] = "generic"  # the plan chapter it drills
    Params: ClassVar[type[BaseModel]] = NoParams
    default_target: ClassVar[str | None] = None

    @abc.abstractmethod
    def targets(self, topology: Topology) -> list[str]:
        """Every valid target in this topology (for validation and error messages)."""

    @abc.abstractmethod
    def plan(self, ctx: FaultContext) -> Plan:
        """Look, change nothing: what inject will touch. Raise FaultError to refuse."""

    @abc.abstractmethod
    def inject(self, ctx: FaultContext, plan: Plan) -> None: ...

    @abc.abstractmethod
    def check(self, ctx: FaultContext, plan: Plan) -> Effect:
        """The symptom as a real client sees it (connection refused, timeout, I/O error)."""

    @abc.abstractmethod
    def revert(self, ctx: FaultContext, plan: Plan) -> None:
        """Undo; idempotent and safe after a partial inject (work from the plan and the live
        state, never assume inject finished). With ctx.teardown start no process."""

    @abc.abstractmethod
    def confirm(self, ctx: FaultContext, plan: Plan) -> Effect:
        """Whether the revert took: ok=True when the system is back as the plan found it."""

    def default_for(self, topology: Topology) -> str | None:
        """The target used when none is given (None: a target is required)."""
        return self.default_target

    def check_target(self, topology: Topology, target: str | None) -> str:
        target = target or self.default_for(topology)
        valid = self.targets(topology)
        if target is None:
            raise FaultError(f"{self.name} needs --target; valid targets: {', '.join(valid)}")
        if target not in valid:
            raise FaultError(
                f"{self.name}: unknown target {target!r}; valid targets: {', '.join(valid)}"
            )
        return target

    @classmethod
    def parse_params(cls, params: dict[str, Any]) -> BaseModel:
        from pydantic import ValidationError

        try:
            return cls.Params.model_validate(params)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'params'}: {e['msg']}"
                for e in exc.errors()
            )
            raise FaultError(f"{cls.name}: bad params: {problems}") from exc
