"""node_down: every process of one node dies at once (power loss), including the mailroot
processes the cluster runs there. On an MSS node the surviving agents see its heartbeat stop and
fail its groups over to the takeover node, as the plan describes. Revert starts the node's own
services, and the mailroots still placed on it."""

from __future__ import annotations

from testbed.faults.base import FaultContext
from testbed.faults.killbase import KillFault
from testbed.faults.procs import Svc, running
from testbed.faults.registry import register


@register
class NodeDown(KillFault):
    name = "node_down"
    description = "kill every process of a node at once (incl. mss.* placed there)"

    def candidates(self, ctx: FaultContext) -> list[Svc]:
        node = ctx.topology.node(ctx.target)
        own = [(node.name, s.name) for s in node.services]
        placed = [s for s in running(ctx) if s[0] == node.name and s[1].startswith("mss.")]
        return placed + [s for s in own if s not in placed]
