"""uas_slow: authentication answers `delay` seconds late (the plan's "slow authentication")."""

from __future__ import annotations

import time
from typing import Any

from pydantic import Field

from testbed.faults import clients
from testbed.faults.base import Duration, Effect, FaultContext, Plan
from testbed.faults.protocolbase import ProtocolFault, ProtocolParams
from testbed.faults.registry import register
from testbed.faults.uas_reject import uas_nodes
from testbed.topology.model import Topology


class Params(ProtocolParams):
    delay: Duration = Field(1.5, gt=0, description="extra seconds per authentication")


@register
class UasSlow(ProtocolFault):
    name = "uas_slow"
    chapter = "uas"
    component = "uas"
    Params = Params
    description = "slow authentication: the UAS answers logins `delay` seconds late"

    def nodes(self, topology: Topology) -> list[str]:
        return uas_nodes(topology)

    def rule(self, ctx: FaultContext) -> dict[str, Any]:
        return {"stage": "authenticate", "delay": ctx.params.delay}  # type: ignore[attr-defined]

    def check(self, ctx: FaultContext, plan: Plan) -> Effect:
        nodes = self.nodes(ctx.topology) if ctx.target == "all" else [ctx.target]
        start = time.monotonic()
        got = clients.uas_login(ctx, nodes[:1])
        took = time.monotonic() - start
        slow = took >= plan["rule"]["delay"] * 0.8
        return Effect(
            slow or got == "unavailable" or plan["rule"]["probability"] < 1.0,
            f"login via {nodes[0]}: {got} in {took * 1000:.0f} ms",
        )
