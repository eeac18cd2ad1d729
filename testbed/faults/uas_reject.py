"""uas_reject: the UAS answers "wrong password" for valid passwords (users see "wrong password"
or "no permission for this mailbox", the plan's UAS symptom), with a probability."""

from __future__ import annotations

from typing import Any

from testbed.faults import clients
from testbed.faults.base import Effect, FaultContext, Plan
from testbed.faults.protocolbase import ProtocolFault, ProtocolParams
from testbed.faults.registry import register
from testbed.topology.model import Topology


def uas_nodes(topology: Topology) -> list[str]:
    return [*topology.spec.uas.nodes, topology.spec.uas.backup]


@register
class UasReject(ProtocolFault):
    name = "uas_reject"
    chapter = "uas"
    component = "uas"
    Params = ProtocolParams
    description = "the UAS rejects valid passwords (bad_password), with a probability"

    def nodes(self, topology: Topology) -> list[str]:
        return uas_nodes(topology)

    def rule(self, ctx: FaultContext) -> dict[str, Any]:
        return {"stage": "authenticate", "error": "bad_password", "message": "password mismatch"}

    def check(self, ctx: FaultContext, plan: Plan) -> Effect:
        nodes = self.nodes(ctx.topology) if ctx.target == "all" else [ctx.target]
        got = clients.uas_login(ctx, nodes[:1])
        return Effect(
            got == "bad_password" or plan["rule"]["probability"] < 1.0,
            f"login with a valid password via {nodes[0]}: {got}",
        )
