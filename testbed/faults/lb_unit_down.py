"""lb_unit_down: one load balancer unit dies (all its processes). Target a unit, or `primary`
for every primary unit at once (the network chapter's "both Alteon 184 units unusable")."""

from __future__ import annotations

from testbed.faults.base import FaultContext
from testbed.faults.killbase import KillFault
from testbed.faults.procs import Svc
from testbed.faults.registry import register
from testbed.topology.model import Topology


def role_nodes(target: str, primary: list[str]) -> list[str]:
    return primary if target == "primary" else [target]


@register
class LbUnitDown(KillFault):
    name = "lb_unit_down"
    chapter = "network"
    description = "kill a load balancer unit (or `primary`: both primary units)"
    roles = ("lb",)

    def targets(self, topology: Topology) -> list[str]:
        return ["primary", *super().targets(topology)]

    def candidates(self, ctx: FaultContext) -> list[Svc]:
        nodes = role_nodes(ctx.target, ctx.topology.spec.lb.nodes)
        return [(n, s.name) for n in nodes for s in ctx.topology.node(n).services]
