"""mss_process_dead: the mss process of one mailroot dies wherever the cluster runs it. Its group
goes FAULTED and waits for an operator (`hagrp -switch`); mailbox access for that mailroot fails
(MAPIc: unavailable). Target: the mailroot (m0…). Revert brings the group ONLINE where it is."""

from __future__ import annotations

from testbed.components.cluster.state import group_node
from testbed.faults import clients
from testbed.faults.base import Effect, FaultContext, FaultError, Plan
from testbed.faults.killbase import KillFault
from testbed.faults.procs import Svc
from testbed.faults.registry import register
from testbed.topology.model import Topology


@register
class MssProcessDead(KillFault):
    name = "mss_process_dead"
    chapter = "mss"
    description = "kill the mss process of a mailroot (target m0…) where the cluster runs it"

    def targets(self, topology: Topology) -> list[str]:
        return list(topology.mailroots)

    def candidates(self, ctx: FaultContext) -> list[Svc]:
        node = group_node(ctx.home, ctx.target)
        if node is None:
            raise FaultError(f"the cluster has no group {ctx.target}")
        return [(node, f"mss.{ctx.target}")]

    def check(self, ctx: FaultContext, plan: Plan) -> Effect:
        refused = super().check(ctx, plan)
        if not refused.ok:
            return refused
        access = clients.mailbox(ctx, ctx.target)
        return Effect(access == "unavailable", f"{refused.detail}; MAPIc read: {access}")
