"""The plan's commands inside every node's root folder, acting on the live testbed.

Each command is a small executable shim at the path the plan names (e.g. /opt/aid/bin/apachectl in
a webserver's root) that runs `python -m testbed.nodecmd HOME NODE NAME ARGS…`. The shim carries
the home and node, so a command works from `maildrill exec`, `maildrill shell` or a runbook alike.
An implementation is a function (home, node, argv) -> exit code that prints like the real tool.
"""

from __future__ import annotations

import importlib
import os
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass

from testbed.home import Home
from testbed.topology.model import Topology

CommandFn = Callable[[Home, str, list[str]], int]


@dataclass(frozen=True)
class NodeCommand:
    name: str
    path: str  # inside the node root
    roles: tuple[str, ...]
    entry: str  # "module:function"


COMMANDS = [
    NodeCommand(
        "apachectl", "opt/aid/bin/apachectl", ("web",), "testbed.components.web.apachectl:main"
    ),
    NodeCommand(
        "ServicePool", "opt/aiuum/bin/ServicePool", ("uas",), "testbed.nodecmd.uas:service_pool"
    ),
    NodeCommand(
        "aimc_stop", "opt/aimc/aimc_stop", ("frontend",), "testbed.nodecmd.frontend:aimc_stop"
    ),
    NodeCommand(
        "aimc_start", "opt/aimc/aimc_start", ("frontend",), "testbed.nodecmd.frontend:aimc_start"
    ),
    NodeCommand("hagrp", "opt/VRTSvcs/bin/hagrp", ("mss",), "testbed.nodecmd.cluster:hagrp"),
    NodeCommand(
        "hastatus",
        "opt/VRTSvcs/bin/hastatus",
        ("mss",),
        "testbed.nodecmd.cluster:hastatus",
    ),
    NodeCommand("hastop", "opt/VRTSvcs/bin/hastop", ("mss",), "testbed.nodecmd.cluster:hastop"),
    NodeCommand(
        "migrate.sh", "opt/aimc/setup/migrate.sh", ("mss",), "testbed.nodecmd.migrate:main"
    ),
    NodeCommand("alteon", "opt/alteon/bin/alteon", ("lb",), "testbed.components.lb.commands:main"),
]


def commands_for(role: str) -> list[NodeCommand]:
    return [c for c in COMMANDS if role in c.roles]


def bin_dirs(home: Home, node: str) -> list[str]:
    """The folders holding a node's commands, for PATH in `maildrill exec`/`shell`."""
    role = home.topology.node(node).role
    root = home.node_root(node)
    return sorted({str((root / c.path).parent) for c in commands_for(role)})


def install_commands(home: Home, topology: Topology) -> None:
    """Write every node's command shims (at `up`)."""
    for node in topology.nodes.values():
        for command in commands_for(node.role):
            path = home.node_root(node.name) / command.path
            path.parent.mkdir(parents=True, exist_ok=True)
            # the host's interpreter; inside a node's container (docker backend) its own python3
            path.write_text(
                "#!/bin/sh\n"
                f"PY='{sys.executable}'; [ -x \"$PY\" ] || PY=python3\n"
                f"exec \"$PY\" -m testbed.nodecmd '{home.root}' '{node.name}' "
                f"'{command.name}' \"$@\"\n"
            )
            path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def run(home: Home, node: str, name: str, argv: list[str]) -> int:
    by_name = {c.name: c for c in COMMANDS}
    module, func = by_name[name].entry.split(":")
    fn: CommandFn = getattr(importlib.import_module(module), func)
    return int(fn(home, node, argv) or 0)


def main() -> None:
    from testbed.errors import MaildrillError

    home_dir, node, name, *argv = sys.argv[1:]
    os.environ.setdefault("MAILDRILL_HOME", home_dir)
    try:
        code = run(Home(home_dir), node, name, argv)
    except MaildrillError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        code = 1
    sys.exit(code)
