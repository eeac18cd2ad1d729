"""link_partition: nothing gets through a link; connections and requests time out."""

from __future__ import annotations

from testbed.faults.base import FaultContext
from testbed.faults.linkbase import LinkFault
from testbed.faults.registry import register


@register
class LinkPartition(LinkFault):
    name = "link_partition"
    kind = "partition"
    description = "partition a link: connections and requests over it time out"

    def symptom(self, outcome: str, seconds: float, ctx: FaultContext) -> bool:
        return outcome == "timeout" or float(getattr(ctx.params, "probability", 1.0)) < 1.0
