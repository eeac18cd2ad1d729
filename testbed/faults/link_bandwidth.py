"""link_bandwidth: a link carries at most `rate` bytes per second."""

from __future__ import annotations

from pydantic import Field

from testbed.faults.base import FaultContext
from testbed.faults.linkbase import LinkFault, LinkParams
from testbed.faults.registry import register


class Params(LinkParams):
    rate: float = Field(16_000, gt=0, description="bytes per second")


@register
class LinkBandwidth(LinkFault):
    name = "link_bandwidth"
    kind = "bandwidth"
    Params = Params
    description = "limit a link's bandwidth (bytes per second)"

    def symptom(self, outcome: str, seconds: float, ctx: FaultContext) -> bool:
        return outcome == "ok"  # a 64-byte probe barely notices; the rule's presence is checked
