"""Files the plan names on the front ends and UAS nodes, written at provisioning.

aimc.ini's [UAPI] section is how a front end finds its UAS servers (SPEC §1); the plan's UAS
chapter edits it to point at the backup UAS, so it is the only place the front ends read that from.
"""

from __future__ import annotations

from typing import Any

from testbed.components.accounts import copy_replica, write_accounts
from testbed.home import Home
from testbed.topology.model import Topology

BACKEND_ORACLE = 8  # aimc.ini Backend= codes: 1 LDAP, 2 RADIUS, 4 System, 8 Oracle, 16 OCS
UAPI_RATE = 100


def aimc_ini(topology: Topology) -> str:
    port = topology.spec.ports.uas
    lines = ["[UAPI]", f"Backend={BACKEND_ORACLE}"]
    for i, name in enumerate(topology.spec.uas.nodes, start=1):
        lines.append(f"Server{i}={topology.nodes[name].address}:{port}:{UAPI_RATE}")
    backup = topology.nodes[topology.spec.uas.backup]
    lines += [
        "",
        "; backup UAS (reads a replica of the account database):",
        f";Server1={backup.address}:{port}:{UAPI_RATE}",
        "",
    ]
    return "\n".join(lines)


def provision_frontends(home: Home, topology: Topology) -> None:
    text = aimc_ini(topology)
    for fe in topology.frontends:
        path = home.node_root(fe.name) / "opt" / "aimc" / "aimc.ini"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def provision_accounts(home: Home, topology: Topology, users: list[dict[str, Any]]) -> None:
    write_accounts(home.accounts_db, users, topology.spec.domains)
    copy_replica(home.accounts_db, home.replica_db(topology.spec.uas.backup))
