"""uas_db_down: the UAS backend database (the plan's "Oracle", node oradb) dies. The UAS pool
keeps running but cannot check a password: logins fail with backend_down."""

from __future__ import annotations

from testbed.faults import clients
from testbed.faults.base import Effect, FaultContext, Plan
from testbed.faults.killbase import KillFault
from testbed.faults.procs import Svc
from testbed.faults.registry import register
from testbed.topology.model import Topology


@register
class UasDbDown(KillFault):
    name = "uas_db_down"
    chapter = "uas"
    description = "kill the account database (acctdb on oradb): UAS logins fail"
    default_target = "oradb"  # the plan's name; default_for() follows the topology

    def default_for(self, topology: Topology) -> str | None:
        return topology.spec.uas.database

    def targets(self, topology: Topology) -> list[str]:
        return [topology.spec.uas.database]

    def candidates(self, ctx: FaultContext) -> list[Svc]:
        return [(ctx.target, s.name) for s in ctx.topology.node(ctx.target).services]

    def check(self, ctx: FaultContext, plan: Plan) -> Effect:
        refused = super().check(ctx, plan)
        if not refused.ok:
            return refused
        nodes = list(ctx.topology.spec.uas.nodes)
        login = clients.uas_login(ctx, nodes)
        return Effect(login == "unavailable", f"{refused.detail}; UAS login via {nodes}: {login}")
