"""uas_pool_dead: every aiuum worker on the UAS servers dies (ServicePool monitor aiuum shows
CurrentProcessCount=0). Default target `primary` = the servers the front ends' aimc.ini names
(uas0, uas1); a single UAS node may be given. Users then cannot log in anywhere until the front
ends are pointed at the backup UAS (the plan's recovery) or the pool is back."""

from __future__ import annotations

from testbed.faults import clients
from testbed.faults.base import Effect, FaultContext, Plan
from testbed.faults.killbase import KillFault
from testbed.faults.procs import Svc
from testbed.faults.registry import register
from testbed.topology.model import Topology


def uas_nodes(ctx: FaultContext) -> list[str]:
    return list(ctx.topology.spec.uas.nodes) if ctx.target == "primary" else [ctx.target]


@register
class UasPoolDead(KillFault):
    name = "uas_pool_dead"
    chapter = "uas"
    description = "kill every aiuum worker on uas0 and uas1 (or one UAS node): logins fail"
    default_target = "primary"

    def targets(self, topology: Topology) -> list[str]:
        return ["primary", *topology.spec.uas.nodes, topology.spec.uas.backup]

    def candidates(self, ctx: FaultContext) -> list[Svc]:
        return [
            (n, s.name)
            for n in uas_nodes(ctx)
            for s in ctx.topology.node(n).services
            if s.kind == "uas"
        ]

    def check(self, ctx: FaultContext, plan: Plan) -> Effect:
        refused = super().check(ctx, plan)
        if not refused.ok:
            return refused
        login = clients.uas_login(ctx, uas_nodes(ctx))
        ok = login == "unavailable"
        return Effect(ok, f"{refused.detail}; UAS login through {uas_nodes(ctx)}: {login}")
