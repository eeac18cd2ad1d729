"""Lay out a fresh testbed home: topology, users, account database, node files, array, cluster.

Backend-neutral: the local backend uses these folders directly, the docker backend mounts them.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from testbed.home import Home
from testbed.topology.model import Topology
from testbed.topology.resolve import load_topology

NODE_DIRS = ("var/log", "var/run", "var/spool", "opt/aimc")


def provision(home: Home, topology_file: Path | None, users: int, seed: int) -> dict[str, float]:
    """Write everything a testbed needs before its processes start; returns timings (seconds)."""
    from testbed.components.array import provision_array
    from testbed.components.cluster.state import provision_cluster
    from testbed.components.dns.zones import provision_dns
    from testbed.components.frontend_config import provision_accounts, provision_frontends
    from testbed.components.lb.config import provision_lb
    from testbed.components.mailstore import provision_mailbox_info
    from testbed.components.mssconfig import provision_mss_config
    from testbed.components.mta.tls import ensure_certificate
    from testbed.components.web.provision import provision_web
    from testbed.nodecmd import install_commands
    from testbed.users import generate_users

    timings: dict[str, float] = {}
    mark = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        timings[name] = now - mark
        mark = now

    topology = load_topology(topology_file)
    if (home.root / "nodes").exists():
        shutil.rmtree(home.root / "nodes")  # a new `up` is a new testbed: nothing carried over
    for sub in ("cluster",):
        shutil.rmtree(home.root / sub, ignore_errors=True)
    home.root.mkdir(parents=True, exist_ok=True)
    tmp = home.topology_file.with_suffix(".tmp")
    tmp.write_text(topology.model_dump_json(indent=1))
    tmp.replace(home.topology_file)
    home.__dict__.pop("topology", None)  # drop a cached older topology
    for node in topology.nodes:
        for sub in NODE_DIRS:
            (home.node_root(node) / sub).mkdir(parents=True, exist_ok=True)
    lap("layout")

    people = generate_users(topology, users, seed)
    lap("users")
    write_users(home, people, seed)
    provision_accounts(home, topology, people)
    lap("accounts")
    provision_frontends(home, topology)
    provision_lb(home, topology)
    provision_web(home, topology)
    provision_array(home, topology)
    provision_mss_config(home, topology)
    install_commands(home, topology)
    provision_cluster(home, topology)
    provision_dns(home, topology)
    provision_mailbox_info(home, people)
    lap("storage")
    ensure_certificate(home.tls_dir)
    lap("tls")
    return timings


def write_users(home: Home, users: list[dict[str, Any]], seed: int) -> None:
    """The testbed's own record of its users and their passwords (for tests and drills)."""
    (home.root / "users.json").write_text(json.dumps({"seed": seed, "users": users}))


def read_users(home: Home) -> list[dict[str, Any]]:
    return list(json.loads((home.root / "users.json").read_text())["users"])


def initial_services(topology: Topology) -> list[tuple[str, str]]:
    """(node, service) pairs to start at `up`; mailroot processes first, on their home MSS, so
    the cluster agents find them running and do not start them a second time."""
    first = [(node, f"mss.{root}") for root, node in sorted(topology.spec.mss.mailroots.items())]
    rest = [(n.name, s.name) for n in topology.nodes.values() for s in n.services if s.autostart]
    return first + rest
