"""link_latency: every exchange on a link takes `latency` seconds longer (± `jitter`)."""

from __future__ import annotations

from pydantic import Field

from testbed.faults.base import Duration, FaultContext
from testbed.faults.linkbase import LinkFault, LinkParams
from testbed.faults.registry import register


class Params(LinkParams):
    latency: Duration = Field(0.2, ge=0, description="added delay per exchange, e.g. 200ms")
    jitter: Duration = Field(0.0, ge=0)


@register
class LinkLatency(LinkFault):
    name = "link_latency"
    kind = "latency"
    Params = Params
    description = "add latency (with jitter) to a link: A<->B, A->B or client<->vip"

    def symptom(self, outcome: str, seconds: float, ctx: FaultContext) -> bool:
        latency = float(getattr(ctx.params, "latency", 0.0))
        return outcome == "ok" and seconds >= latency * 0.8
