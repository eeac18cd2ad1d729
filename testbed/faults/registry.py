"""Faults by name. Each fault module registers its class with `@register`; `load_builtin()`
imports the catalogue so the CLI, scenarios and the injector all see the same names."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, TypeVar

from testbed.faults.base import Fault, FaultError

# Modules of this package that are infrastructure, not faults; every other module is one fault
# (testbed/faults/<name>.py) and registers itself on import, so a new fault needs no edit here.
NOT_FAULTS = frozenset(
    {
        "base",
        "registry",
        "ledger",
        "journal",
        "injector",
        "doctor",
        "schedule",
        "procs",
        "clients",
        "killbase",
    }
)
_loaded = False

_faults: dict[str, Fault] = {}
F = TypeVar("F", bound=type[Fault])


def register(cls: F) -> F:
    """Class decorator: make a fault available under `cls.name`."""
    if cls.name in _faults and type(_faults[cls.name]) is not cls:
        raise ValueError(f"fault {cls.name!r} registered twice")
    _faults[cls.name] = cls()
    return cls


def load_builtin() -> None:
    """Import every fault module of the package once (they register themselves)."""
    global _loaded
    if _loaded:
        return
    package = importlib.import_module("testbed.faults")
    for info in pkgutil.iter_modules(package.__path__):
        if info.name not in NOT_FAULTS and not info.name.startswith("_"):
            importlib.import_module(f"testbed.faults.{info.name}")
    _loaded = True


def names() -> list[str]:
    load_builtin()
    return sorted(_faults)


def get(name: str) -> Fault:
    load_builtin()
    if name not in _faults:
        raise FaultError(f"unknown fault type {name!r}; fault types are: {', '.join(names())}")
    return _faults[name]


def catalogue() -> list[dict[str, Any]]:
    """Name, chapter, description and the JSON Schema of each fault's params."""
    load_builtin()
    out = []
    for name in sorted(_faults):
        fault = _faults[name]
        schema = fault.Params.model_json_schema()
        out.append(
            {
                "type": name,
                "chapter": fault.chapter,
                "description": fault.description,
                "default_target": fault.default_target,
                "params": schema.get("properties", {}),
            }
        )
    return out
