"""traffic_surge: a flood of inbound mail (postfix's smtp-source, as fast as the MTAs take it) to
hosted users through the VIP (`primary`) or one front end, until reverted: the plan's queue
threshold (1000) is the alarm to watch. Every message is accepted normally and must arrive.

The load processes' pids are written to <home>/faults/surge/<key>/ the moment each starts, so a
revert after a crash of the injector still finds and stops exactly them."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path

from pydantic import Field

from testbed.faults import loadprocs
from testbed.faults.base import Effect, Fault, FaultContext, FaultError, Plan, Strict
from testbed.faults.registry import register
from testbed.runtime.provision import read_users
from testbed.topology.endpoints import client_endpoints
from testbed.topology.model import Topology

SENDER = "surge@example.net"


class Params(Strict):
    sessions: int = Field(20, ge=1, le=200, description="parallel SMTP sessions")
    size: int = Field(2048, ge=100, le=1_000_000, description="bytes per message")


def surge_dir(home_root: Path, key: str) -> Path:
    return loadprocs.load_dir(home_root, "surge", key)


def queued(ctx: FaultContext) -> int:
    return sum(
        1
        for fe in ctx.topology.frontends
        for _ in (ctx.home.node_root(fe.name) / "var/spool/mta/queue").glob("*")
    )


@register
class TrafficSurge(Fault):
    name = "traffic_surge"
    chapter = "load"
    Params = Params
    default_target = "primary"
    description = "flood the MTAs with inbound mail (smtp-source) through the VIP or one front end"

    def targets(self, topology: Topology) -> list[str]:
        return ["primary", *(n.name for n in topology.frontends)]

    def plan(self, ctx: FaultContext) -> Plan:
        tool = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
        if not os.path.exists(tool):
            raise FaultError("traffic_surge needs smtp-source (Debian package postfix)")
        if ctx.target == "primary":
            host = client_endpoints(ctx.topology)["smtp"]
        else:
            host = f"{ctx.topology.nodes[ctx.target].address}:{ctx.topology.spec.ports.smtp}"
        rcpts, roots = [], set()
        for user in read_users(ctx.home):
            if user["level"] != 0 and user["mailroot"] not in roots:
                roots.add(user["mailroot"])
                rcpts.append(user["address"])
        return {
            "tool": tool,
            "host": host,
            "rcpts": rcpts[:4],
            "key": f"surge-{uuid.uuid4().hex[:8]}",
            "before": queued(ctx),
        }

    def inject(self, ctx: FaultContext, plan: Plan) -> None:
        folder = surge_dir(ctx.home.root, plan["key"])
        p = ctx.params
        assert isinstance(p, Params)
        per = max(1, p.sessions // len(plan["rcpts"]))
        for rcpt in plan["rcpts"]:
            argv = [plan["tool"], "-s", str(per), "-l", str(p.size), "-m", "10000000"]
            loadprocs.spawn(folder, [*argv, "-f", SENDER, "-t", rcpt, plan["host"]])

    def check(self, ctx: FaultContext, plan: Plan) -> Effect:
        alive = loadprocs.alive(surge_dir(ctx.home.root, plan["key"]))
        time.sleep(1.0)
        now = queued(ctx)
        return Effect(
            bool(alive),
            f"{len(alive)} smtp-source processes; {now} messages queued "
            f"on the front ends (before: {plan['before']})",
        )

    def revert(self, ctx: FaultContext, plan: Plan) -> None:
        loadprocs.stop(surge_dir(ctx.home.root, plan["key"]), "smtp-source")

    def confirm(self, ctx: FaultContext, plan: Plan) -> Effect:
        left = loadprocs.alive(surge_dir(ctx.home.root, plan["key"]))
        return Effect(not left, f"still running: {left}" if left else "load stopped")
