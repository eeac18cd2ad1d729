"""link_loss: a share of segments on a link is lost; each loss costs a TCP retransmission timeout
(200 ms, doubling), so a lossy link is slow and, past ~50 %, times out."""

from __future__ import annotations

from pydantic import Field

from testbed.faults.base import FaultContext
from testbed.faults.linkbase import LinkFault, LinkParams
from testbed.faults.registry import register


class Params(LinkParams):
    loss: float = Field(0.3, gt=0, le=1.0, description="share of segments lost")


@register
class LinkLoss(LinkFault):
    name = "link_loss"
    kind = "loss"
    Params = Params
    description = "lose a share of the segments on a link (retransmission delays, timeouts)"

    def symptom(self, outcome: str, seconds: float, ctx: FaultContext) -> bool:
        return True  # loss is random: a single probe may see none; the rule's presence is checked
