"""Is the platform back to its normal layout? The "resolved" (搶修) milestone needs it: original
roles, no temporary mailroots, configuration as provisioned, no fault left.

Each check looks at the live testbed (files, cluster state, processes), never at what a runbook
claims; the drill runner journals the result as {"event": "layout", "normal": ..., "detail": ...}.
"""

from __future__ import annotations

from collections.abc import Callable

from testbed.components import array
from testbed.components.cluster.state import read_state
from testbed.components.frontend_config import aimc_ini
from testbed.components.mssconfig import ARRAY_MOUNT, read_maildir
from testbed.errors import MaildrillError
from testbed.home import Home
from testbed.runtime.registry import backend_for

Check = Callable[[Home], list[str]]


def _cluster(home: Home) -> list[str]:
    problems = []
    for root, group in sorted(read_state(home)["groups"].items()):
        if group["node"] != group["home"] or group["state"] != "ONLINE":
            problems.append(
                f"group {root} is {group['state']} on {group['node']} (home {group['home']})"
            )
    return problems


def _aimc_ini(home: Home) -> list[str]:
    want = aimc_ini(home.topology)
    return [
        f"{fe.name}: aimc.ini differs from its provisioned [UAPI]"
        for fe in home.topology.frontends
        if (home.node_root(fe.name) / "opt/aimc/aimc.ini").read_text() != want
    ]


def _maildirs(home: Home) -> list[str]:
    problems = []
    for root, node in sorted(read_state(home)["groups"].items()):
        try:
            maildir = read_maildir(home, str(node["node"]), root)
        except MaildrillError as exc:
            problems.append(f"{root}: {exc}")
            continue
        if maildir.configured != f"{ARRAY_MOUNT}{root}":
            problems.append(f"{root}: MailDir={maildir.configured} (not the array)")
    return problems


def _temp_mailroots(home: Home) -> list[str]:
    problems = []
    for node in home.topology.spec.mss.nodes:
        for base in ("home", "home1"):
            folder = home.node_root(node) / base
            for root in sorted(folder.iterdir()) if folder.exists() else []:
                if root.is_dir() and any(root.rglob("cur/*")):
                    problems.append(f"{node}: temporary mailroot /{base}/{root.name} holds mail")
    return problems


def _array(home: Home) -> list[str]:
    state = array.read_array(home)
    problems = [] if state["status"] == "online" else [f"array is {state['status']}"]
    problems += [f"HBA path of {n} is down" for n, p in state["paths"].items() if p != "up"]
    return problems


def _services(home: Home) -> list[str]:
    problems = []
    for s in backend_for(home).status():
        if s.state not in ("up", "cold"):
            problems.append(f"{s.node}/{s.service} is {s.state}")
    return problems


def _edge(home: Home) -> list[str]:
    from testbed.components.lb.commands import vip_owner

    topo = home.topology
    problems = []
    owner = vip_owner(home)
    if owner != topo.spec.lb.nodes[0]:
        problems.append(f"the VIP is on {owner}, not {topo.spec.lb.nodes[0]}")
    for s in backend_for(home).status():
        if s.node in (topo.spec.lb.backup, topo.spec.web.backup) and s.pid:
            problems.append(f"the backup {s.node} is still running")
    return problems


def _faults(home: Home) -> list[str]:
    from testbed.faults.injector import active

    return [f"fault {e.id} ({e.type} on {e.target}) is still active" for e in active(home)]


CHECKS: tuple[Check, ...] = (
    _cluster,
    _aimc_ini,
    _maildirs,
    _temp_mailroots,
    _array,
    _services,
    _edge,
)


def layout_problems(home: Home, include_faults: bool = False) -> list[str]:
    problems: list[str] = []
    for check in (*CHECKS, _faults) if include_faults else CHECKS:
        try:
            problems += check(home)
        except (OSError, MaildrillError, KeyError) as exc:
            problems.append(f"{check.__name__.strip('_')}: cannot check ({exc})")
    return problems
