"""link_reset: connections on a link are reset (ECONNRESET), with `probability`. In the kernel
(docker backend) a TCP reset answers the connection attempt itself, as a firewall does."""

from __future__ import annotations

from testbed.faults.base import FaultContext
from testbed.faults.linkbase import LinkFault
from testbed.faults.registry import register


@register
class LinkReset(LinkFault):
    name = "link_reset"
    kind = "reset"
    description = "reset connections on a link (connection reset by peer)"

    def symptom(self, outcome: str, seconds: float, ctx: FaultContext) -> bool:
        return outcome == "reset" or float(getattr(ctx.params, "probability", 1.0)) < 1.0
