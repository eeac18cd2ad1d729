"""The base of every fault that kills testbed processes (process_kill, node_down, the UAS, MSS,
LB and web faults): plan = the live services among the fault's candidates, inject = SIGKILL them
together, check = their ports refuse connections, revert = start them again (mailroot processes
through the cluster, wherever it places them now)."""

from __future__ import annotations

import abc
from typing import ClassVar

from testbed.components.cluster.state import read_state
from testbed.faults import procs
from testbed.faults.base import Effect, Fault, FaultContext, Plan
from testbed.faults.procs import Svc
from testbed.topology.model import Topology


def services_of(plan: Plan) -> list[Svc]:
    return [(str(n), str(s)) for n, s in plan["services"]]


class KillFault(Fault):
    """Subclasses say which services are the candidates; everything else is shared."""

    roles: ClassVar[tuple[str, ...]] = ()  # node roles whose nodes are valid targets

    @abc.abstractmethod
    def candidates(self, ctx: FaultContext) -> list[Svc]: ...

    def targets(self, topology: Topology) -> list[str]:
        return [n.name for n in topology.nodes.values() if not self.roles or n.role in self.roles]

    def plan(self, ctx: FaultContext) -> Plan:
        return {"services": [list(s) for s in procs.require_running(ctx, self.candidates(ctx))]}

    def inject(self, ctx: FaultContext, plan: Plan) -> None:
        procs.kill_together(ctx, services_of(plan))

    def check(self, ctx: FaultContext, plan: Plan) -> Effect:
        killed = services_of(plan)
        live = procs.running(ctx)
        seen: list[str] = []
        missed: list[str] = []
        for node, service in killed:
            address, port = procs.endpoint(ctx, node, service)
            # A pool sharing one port (aiuum.1, aiuum.2) still answers while a sibling lives.
            shared = any(
                (n, s) not in killed and procs.endpoint(ctx, n, s) == (address, port)
                for n, s in live
            )
            if shared:
                continue
            (seen if procs.refused(address, port) else missed).append(f"{address}:{port}")
        if missed:
            return Effect(False, f"still accepting connections: {', '.join(sorted(set(missed)))}")
        return Effect(True, f"connection refused at {', '.join(sorted(set(seen))) or '-'}")

    def revert(self, ctx: FaultContext, plan: Plan) -> None:
        procs.start_missing(ctx, services_of(plan))
        if not ctx.teardown:
            procs.clear_stale_mss(ctx)

    def confirm(self, ctx: FaultContext, plan: Plan) -> Effect:
        live = procs.running(ctx)
        groups = read_state(ctx.home)["groups"]
        missing = []
        for node, service in services_of(plan):
            if service.startswith("mss."):
                # A mailroot counts as back wherever the cluster runs it now.
                group = groups.get(service[4:], {})
                where = str(group.get("node", node))
                if (where, service) not in live or group.get("state") != "ONLINE":
                    missing.append(f"{where}/{service}")
                continue
            address, port = procs.endpoint(ctx, node, service)
            if (node, service) not in live or procs.refused(address, port):
                missing.append(f"{node}/{service}")
        if missing:
            return Effect(False, f"not back: {', '.join(missing)}")
        return Effect(True, "all services back and listening")
