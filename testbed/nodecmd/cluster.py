"""The VCS commands on an MSS node (hagrp, hastatus, hastop), run as that node."""

from __future__ import annotations

from testbed.components.cluster import commands
from testbed.home import Home


def hagrp(home: Home, node: str, argv: list[str]) -> int:
    return commands.hagrp(home, argv, node)


def hastatus(home: Home, node: str, argv: list[str]) -> int:
    return commands.hastatus(home, argv, node)


def hastop(home: Home, node: str, argv: list[str]) -> int:
    return commands.hastop(home, argv, node)
