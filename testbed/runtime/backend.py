"""The one interface every runtime backend implements (local processes now, containers later).

Everything above the runtime (CLI, faults, drills) talks to a Backend, never to a concrete one.
"""

from __future__ import annotations

import abc
import signal
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from testbed.home import Home


@dataclass
class ServiceState:
    node: str
    service: str
    address: str
    port: int
    pid: int | None
    state: str  # "up" (listening), "starting" (alive, not listening), "down", "cold" (standby)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Backend(abc.ABC):
    name: str

    def __init__(self, home: Home) -> None:
        self.home = home

    @abc.abstractmethod
    def up(self, topology_file: Path | None, users: int, seed: int) -> list[ServiceState]:
        """Provision and start every node; return once all are healthy."""

    @abc.abstractmethod
    def down(self) -> int:
        """Stop everything this testbed started; return how many processes were stopped."""

    @abc.abstractmethod
    def is_up(self) -> bool: ...

    @abc.abstractmethod
    def status(self) -> list[ServiceState]: ...

    @abc.abstractmethod
    def start(self, node: str, service: str) -> None: ...

    @abc.abstractmethod
    def signal(self, node: str, service: str, sig: signal.Signals = signal.SIGTERM) -> bool:
        """Send `sig` to one service; False if it was not running."""

    @abc.abstractmethod
    def freeze(self, node: str, frozen: bool) -> None:
        """Freeze (True) or thaw (False) a whole node, as a hung machine: none of its processes
        runs, connections to it hang; thawing lets every one go on where it stopped."""

    @abc.abstractmethod
    def is_frozen(self, node: str) -> bool: ...

    # Link faults: every backend has the processes' own connection gates (testbed/netem.py); a
    # backend that can also put a link rule in the kernel says so here, and the fault uses that.
    def link_in_kernel(self, rule: dict[str, Any]) -> bool:
        """Can this backend enforce `rule` (a link fault's rule) in the kernel?"""
        return False

    def set_kernel_link(self, rule: dict[str, Any], on: bool) -> None:
        raise NotImplementedError(f"the {self.name} backend has no kernel link rules")

    def kernel_links(self) -> set[str]:
        """Ids of the link rules present in the kernel now."""
        return set()

    def clear_kernel_links(self) -> list[str]:
        """Remove every kernel link rule of this testbed; one line per rule removed."""
        return []

    @abc.abstractmethod
    def node_command(self, node: str, argv: list[str]) -> tuple[list[str], dict[str, str], Path]:
        """How the host runs `argv` on a node (`maildrill exec`/`shell`): argv, environment, cwd."""
