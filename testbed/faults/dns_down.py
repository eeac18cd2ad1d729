"""dns_down: the DNS server dies (the network chapter's "DNS server down"). Queries time out over
UDP and are refused over TCP; the MTAs' relay path cannot resolve MX and queues mail for retry."""

from __future__ import annotations

from testbed.faults.base import FaultContext
from testbed.faults.killbase import KillFault
from testbed.faults.procs import Svc
from testbed.faults.registry import register
from testbed.topology.model import Topology


@register
class DnsDown(KillFault):
    name = "dns_down"
    chapter = "dns"
    description = "kill the DNS server: lookups time out (UDP) or are refused (TCP)"
    roles = ("dns",)

    def default_for(self, topology: Topology) -> str | None:
        targets = self.targets(topology)
        return targets[0] if targets else None

    def candidates(self, ctx: FaultContext) -> list[Svc]:
        return [(ctx.target, s.name) for s in ctx.topology.node(ctx.target).services]
