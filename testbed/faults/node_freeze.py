"""node_freeze: a whole node hangs (a frozen machine): every process of it stops being scheduled at
once — on the docker backend `docker pause` of its container, on the local backend SIGSTOP of all
its processes. Connections to it are still accepted by the kernel but never answered, so clients
time out; heartbeats stop, so an MSS node's groups fail over (fencing kills the frozen copies) and
a frozen active load balancer hands the VIP to the standby. Revert thaws it; its processes go on
where they stopped."""

from __future__ import annotations

from testbed.faults import procs
from testbed.faults.base import Effect, Fault, FaultContext, FaultError, Plan
from testbed.faults.registry import register
from testbed.topology.model import Topology

ATTEMPTS = 3


@register
class NodeFreeze(Fault):
    name = "node_freeze"
    description = "freeze a whole node (docker pause / SIGSTOP all): connections hang until revert"

    def targets(self, topology: Topology) -> list[str]:
        return [n.name for n in topology.nodes.values() if n.services]

    def plan(self, ctx: FaultContext) -> Plan:
        live = [svc for svc in procs.running(ctx) if svc[0] == ctx.target]
        if not live:
            raise FaultError(f"nothing to freeze: no service of {ctx.target} runs")
        if ctx.backend.is_frozen(ctx.target):
            raise FaultError(f"{ctx.target} is frozen already")
        return {"services": [list(svc) for svc in sorted(live)]}

    def inject(self, ctx: FaultContext, plan: Plan) -> None:
        ctx.backend.freeze(ctx.target, True)

    def check(self, ctx: FaultContext, plan: Plan) -> Effect:
        node, service = plan["services"][0]
        address, port = procs.endpoint(ctx, node, service)
        for _ in range(ATTEMPTS):
            if procs.hangs(address, port):
                return Effect(True, f"{address}:{port} ({service}) accepts but does not answer")
        return Effect(False, f"{address}:{port} ({service}) still answers")

    def revert(self, ctx: FaultContext, plan: Plan) -> None:
        # also in teardown: a frozen process cannot act on the SIGTERM of `down`
        ctx.backend.freeze(ctx.target, False)

    def confirm(self, ctx: FaultContext, plan: Plan) -> Effect:
        if ctx.backend.is_frozen(ctx.target):
            return Effect(False, f"{ctx.target} still frozen")
        return Effect(True, f"{ctx.target} running")
