"""web_down: a webserver's processes die (httpd abnormal, pages do not display). Target a
webserver, or `primary` for both main webservers (the webserver chapter's start condition)."""

from __future__ import annotations

from testbed.faults.base import FaultContext
from testbed.faults.killbase import KillFault
from testbed.faults.lb_unit_down import role_nodes
from testbed.faults.procs import Svc
from testbed.faults.registry import register
from testbed.topology.model import Topology


@register
class WebDown(KillFault):
    name = "web_down"
    chapter = "webserver"
    description = "kill a webserver's processes (or `primary`: both main webservers)"
    roles = ("web",)

    def targets(self, topology: Topology) -> list[str]:
        return ["primary", *super().targets(topology)]

    def candidates(self, ctx: FaultContext) -> list[Svc]:
        nodes = role_nodes(ctx.target, ctx.topology.spec.web.nodes)
        return [(n, s.name) for n in nodes for s in ctx.topology.node(n).services]
