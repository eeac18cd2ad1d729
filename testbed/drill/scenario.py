"""Scenario files: what a drill breaks, when, against which platform, and who repairs it.

    name: uas-pool-dead
    description: Both UAS pools die; the front ends must be pointed at the backup UAS.
    chapter: uas                      # the plan chapter whose limits judge this drill
    topology: null                    # a topology file (relative to this file); default: the plan's
    users: {count: 200, seed: 1}
    load: {rate: 2, mix: {vip: 0.05, paying: 0.25, regular: 0.7}}   # background mail per second
    probes: {interval: 1s, services: [smtp, pop3, imap, webmail]}
    faults:
      - type: uas_pool_dead           # see `maildrill faults`
        target: null                  # the fault's default target when omitted
        schedule: {at: 10s, until_repaired: true}
        params: {}
    response: {automation: "runbooks/uas.sh"}    # or {people: true}
    limits: {mitigated: 4m}           # overrides of the plan's limits for this chapter
    abort: {after: 30m, on_lost_mail: true}

Validation reports every error with the file, the line and the field path; an unknown fault type or
target gets the list of valid ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator

from testbed.errors import ConfigError
from testbed.faults import registry
from testbed.faults.base import Duration, FaultError, FaultSpec, Strict
from testbed.topology.model import Topology
from testbed.topology.resolve import load_topology
from testbed.yamlsource import Lines, config_errors, line_of, load

CHAPTERS = ("webserver", "uas", "mss", "disk_array", "network", "dns", "load", "generic")
UserClass = Literal["vip", "paying", "regular"]
Service = Literal["smtp", "pop3", "imap", "webmail"]
DEFAULT_MIX: dict[UserClass, float] = {"vip": 0.05, "paying": 0.25, "regular": 0.70}
SERVICES: list[Service] = ["smtp", "pop3", "imap", "webmail"]


class Users(Strict):
    count: int = Field(200, ge=1, le=100_000)
    seed: int = 1


class Load(Strict):
    rate: float = Field(0.0, ge=0, le=2000, description="background messages per second")
    mix: dict[UserClass, float] = Field(default_factory=lambda: dict(DEFAULT_MIX))


class Probes(Strict):
    interval: Duration = Field(1.0, gt=0)
    services: list[Service] = Field(default_factory=lambda: list(SERVICES), min_length=1)


class Response(Strict):
    automation: str | None = Field(None, description="command run when the drill starts (--auto)")
    people: bool = False

    @model_validator(mode="after")
    def _one(self) -> Response:
        if bool(self.automation) == self.people:
            raise ValueError("give either automation (a command) or people: true")
        return self


class Limits(Strict):
    detected: Duration | None = None
    mitigated: Duration | None = None
    resolved: Duration | None = None


class Abort(Strict):
    after: Duration = Field(45 * 60.0, gt=0)  # the plan's MTTR ceiling
    on_lost_mail: bool = True


class Scenario(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str = Field(min_length=1)
    chapter: Literal["webserver", "uas", "mss", "disk_array", "network", "dns", "load", "generic"]
    topology: str | None = None
    users: Users = Field(default_factory=Users)
    load: Load = Field(default_factory=Load)
    probes: Probes = Field(default_factory=Probes)
    faults: list[FaultSpec] = Field(min_length=1)
    response: Response = Field(default_factory=lambda: Response(people=True))
    limits: Limits = Field(default_factory=Limits)
    abort: Abort = Field(default_factory=Abort)


def check_scenario(path: Path) -> tuple[Scenario | None, list[ConfigError]]:
    """Every error in the file (schema first, then fault types, targets and params)."""
    name = str(path)
    try:
        data, lines = load(path)
    except ConfigError as exc:
        return None, [exc]
    try:
        scenario = Scenario.model_validate(data if data is not None else {})
    except ValidationError as exc:
        return None, config_errors(exc, lines, name)
    errors: list[ConfigError] = []
    topology = _topology(scenario, path, lines, errors)
    for i, spec in enumerate(scenario.faults):
        errors += _check_fault(spec, i, topology, lines, name)
    return (scenario if not errors else None), errors


def _topology(scenario: Scenario, path: Path, lines: Lines, errors: list[ConfigError]) -> Topology:
    if scenario.topology is None:
        return load_topology()
    file = (path.parent / scenario.topology).resolve()
    try:
        return load_topology(file)
    except ConfigError as exc:
        errors.append(ConfigError(str(path), line_of(lines, ("topology",)), "topology", str(exc)))
        return load_topology()


def _check_fault(
    spec: FaultSpec, i: int, topology: Topology, lines: Lines, name: str
) -> list[ConfigError]:
    here = ("faults", i)
    try:
        fault = registry.get(spec.type)
    except FaultError as exc:
        return [ConfigError(name, line_of(lines, (*here, "type")), f"faults.{i}.type", str(exc))]
    errors = []
    try:
        fault.Params.model_validate(spec.params)
    except ValidationError as exc:
        for err in config_errors(exc, lines, name):
            loc = (*here, "params", *err.field.split("."))
            errors.append(
                ConfigError(name, line_of(lines, loc), f"faults.{i}.params.{err.field}", err.detail)
            )
    try:
        fault.check_target(topology, spec.target)
    except FaultError as exc:
        where = (*here, "target") if spec.target is not None else here
        errors.append(ConfigError(name, line_of(lines, where), f"faults.{i}.target", str(exc)))
    return errors


def load_scenario(path: Path) -> Scenario:
    scenario, errors = check_scenario(path)
    if errors:
        raise errors[0]
    assert scenario is not None
    return scenario


def json_schema() -> dict[str, object]:
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "maildrill scenario"
    fault_types = registry.names()
    spec = schema.get("$defs", {}).get("FaultSpec", {})
    if spec:
        spec["properties"]["type"]["enum"] = fault_types
    return schema
