"""mapi_slow: the MAPI servers answer `delay` seconds late (past MAPIc's timeout they look dead)."""

from __future__ import annotations

import time
from typing import Any

from pydantic import Field

from testbed.faults import clients
from testbed.faults.array_offline import a_mailroot
from testbed.faults.base import Duration, Effect, FaultContext, Plan
from testbed.faults.protocolbase import ProtocolFault, ProtocolParams
from testbed.faults.registry import register
from testbed.topology.model import Topology


class Params(ProtocolParams):
    delay: Duration = Field(1.0, gt=0, description="extra seconds per mailbox request")


@register
class MapiSlow(ProtocolFault):
    name = "mapi_slow"
    chapter = "mss"
    component = "mapis"
    Params = Params
    description = "the MAPI servers answer mailbox requests `delay` seconds late"

    def nodes(self, topology: Topology) -> list[str]:
        return list(topology.spec.mss.nodes)

    def rule(self, ctx: FaultContext) -> dict[str, Any]:
        return {"stage": "*", "delay": ctx.params.delay}  # type: ignore[attr-defined]

    def check(self, ctx: FaultContext, plan: Plan) -> Effect:
        root = a_mailroot(ctx, None if ctx.target == "all" else ctx.target)
        if root is None:
            return Effect(False, "no ONLINE mailroot on the target")
        start = time.monotonic()
        got = clients.mailbox(ctx, root)
        took = time.monotonic() - start
        return Effect(
            took >= plan["rule"]["delay"] * 0.8 or plan["rule"]["probability"] < 1.0,
            f"MAPIc read on {root}: {got} in {took * 1000:.0f} ms",
        )
