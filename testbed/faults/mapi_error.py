"""mapi_error: the MAPI servers answer mailbox requests with an error (io_error by default)."""

from __future__ import annotations

from typing import Any, Literal

from testbed.faults import clients
from testbed.faults.array_offline import a_mailroot
from testbed.faults.base import Effect, FaultContext, Plan
from testbed.faults.protocolbase import ProtocolFault, ProtocolParams
from testbed.faults.registry import register
from testbed.topology.model import Topology


class Params(ProtocolParams):
    error: Literal["io_error", "unavailable", "quota_exceeded"] = "io_error"


@register
class MapiError(ProtocolFault):
    name = "mapi_error"
    chapter = "mss"
    component = "mapis"
    Params = Params
    description = "the MAPI servers answer mailbox requests with an error (io_error, ...)"

    def nodes(self, topology: Topology) -> list[str]:
        return list(topology.spec.mss.nodes)

    def rule(self, ctx: FaultContext) -> dict[str, Any]:
        error = ctx.params.error  # type: ignore[attr-defined]
        return {"stage": "*", "error": error, "message": f"{error} (injected)"}

    def check(self, ctx: FaultContext, plan: Plan) -> Effect:
        root = a_mailroot(ctx, None if ctx.target == "all" else ctx.target)
        if root is None:
            return Effect(False, "no ONLINE mailroot on the target")
        got = clients.mailbox(ctx, root)
        return Effect(
            got == plan["rule"]["error"] or plan["rule"]["probability"] < 1.0,
            f"MAPIc read on {root}: {got}",
        )
