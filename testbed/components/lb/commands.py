"""/opt/alteon/bin/alteon on a load balancer node: the unit's console, as the network chapter uses it.

    alteon status [--json]   role (ACTIVE / STANDBY; when not running COLD for the backup unit,
                             DOWN for a primary; NOT RESPONDING when hung), the VIP, back ends
    alteon vip take          move the VIP to this unit (e.g. "primaries back: move the VIP home")
    alteon vip release       hand the VIP to another running unit

Expected failures (the unit is not running, nobody to hand over to) print one line and exit 1;
misuse prints the usage line and exits 2.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from testbed import rpc
from testbed.components.lb.config import load_config
from testbed.components.lb.state import read_state
from testbed.errors import MaildrillError, RemoteError, ServiceUnavailable
from testbed.home import Home
from testbed.runtime.launch import read_pid

USAGE = "usage: alteon status [--json] | alteon vip take | alteon vip release"


def main(home: Home, node: str, argv: list[str]) -> int:
    if argv in (["status"], ["status", "--json"]):
        status = unit_status(home, node)
        print(json.dumps(status) if "--json" in argv else render_status(status))
        return 0
    if argv in (["vip", "take"], ["vip", "release"]):
        vip_action(home, node, argv[1])
        print(f"VIP {load_config(home, node).vip} is now held by {vip_owner(home)}")
        return 0
    print(USAGE, file=sys.stderr)
    return 2


def vip_owner(home: Home) -> str | None:
    """The unit that holds (or is binding) the VIP."""
    owner = read_state(home).get("owner")
    return str(owner) if owner else None


def wait_serving(home: Home, timeout: float = 15.0) -> list[str]:
    """Until the unit holding the VIP has seen every main back end answer its health check (at
    `up`: a unit that started before its back ends marked them down, and would turn clients away
    for a few intervals after every port already listens). Returns what it still does not see."""
    owner = vip_owner(home)
    if owner is None:
        return ["no unit holds the VIP"]
    ctl = load_config(home, owner).ctl
    deadline = time.monotonic() + timeout
    while True:
        try:
            backends = asyncio.run(rpc.call(ctl, "status", timeout=2.0))["backends"]
            waiting = [
                f"{b['group']} on {b['node']}"
                for b in backends
                if not b["backup"] and b["healthy"] is not True
            ]
        except (ServiceUnavailable, RemoteError) as exc:
            waiting = [f"{owner} does not answer ({exc})"]
        if not waiting or time.monotonic() >= deadline:
            return waiting
        time.sleep(0.1)


def vip_action(home: Home, node: str, action: str) -> dict[str, Any]:
    """`take` or `release` the VIP on unit `node` and wait for the move (for drills' reverts too:
    vip_action(home, topology.spec.lb.nodes[0], "take") moves the VIP home). Returns the unit's
    status; raises MaildrillError when the unit is not running or the VIP cannot move."""
    cfg = load_config(home, node)
    try:
        status = dict(asyncio.run(rpc.call(cfg.ctl, action, timeout=15.0)))
    except ServiceUnavailable as exc:
        raise MaildrillError(
            f"{node} is not running (start it: maildrill start {node} alteon)"
        ) from exc
    except RemoteError as exc:  # the unit's own words, without the RPC's code prefixes
        raise MaildrillError(str(exc).replace(f"{exc.code}: ", "")) from exc
    if action == "take" and not status["vip_bound"]:
        errors = "; ".join(status["bind_errors"].values()) or "still binding"
        raise MaildrillError(f"{node} owns the VIP {cfg.vip} but cannot bind it yet: {errors}")
    return status


def unit_status(home: Home, node: str) -> dict[str, Any]:
    """The live unit's own answer, or what the files say when it is not running."""
    cfg = load_config(home, node)
    try:
        return dict(asyncio.run(rpc.call(cfg.ctl, "status", timeout=3.0)))
    except ServiceUnavailable:
        pass
    backends = [
        {"group": g.name, "node": r.node, "address": r.address, "port": r.port}
        | {"backup": r in g.backups, "healthy": None, "error": "", "connections": 0}
        for g in cfg.groups
        for r in [*g.reals, *g.backups]
    ]
    pid = read_pid(home.pid_file(node, "alteon"))  # alive but silent: hung (e.g. SIGSTOP)
    return {
        "unit": node,
        "pid": pid,
        "cold": cfg.cold,
        "role": "NOT RESPONDING" if pid else "COLD" if cfg.cold else "DOWN",
        "vip": cfg.vip,
        "owner": read_state(home).get("owner"),
        "vip_bound": False,
        "bound_ports": [],
        "bind_errors": {},
        "interval": cfg.interval,
        "backends": backends,
    }


def render_status(s: dict[str, Any]) -> str:
    where = "bound here" if s["vip_bound"] else f"held by {s['owner'] or 'nobody'}"
    lines = [
        f"unit      {s['unit']}{' (backup unit)' if s['cold'] else ''}",
        f"role      {s['role']}" + ("" if s["pid"] else "  (not running)"),
        f"VIP       {s['vip']}  {where}",
    ]
    lines += [f"bind      {g}: {e}" for g, e in s["bind_errors"].items()]
    lines.append(f"{'group':<11} {'real':<12} {'address':<22} {'health':<8} conns")
    for b in s["backends"]:
        health = {True: "UP", False: "DOWN", None: "-"}[b["healthy"]]
        name = b["node"] + (" (bk)" if b["backup"] else "")
        addr = f"{b['address']}:{b['port']}"
        extra = f"  {b['error']}" if b["error"] else ""
        lines.append(
            f"{b['group']:<11} {name:<12} {addr:<22} {health:<8} {b['connections']}{extra}"
        )
    return "\n".join(lines)
