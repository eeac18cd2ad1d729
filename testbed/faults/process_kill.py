"""process_kill: SIGKILL one service of a node; revert starts it again.

Target `node/service`, e.g. fe01/mta, oradb/acctdb, mss0/mss.m0. A killed process refuses
connections (nobody listens on its port any more)."""

from __future__ import annotations

from testbed.faults.base import FaultContext, FaultError
from testbed.faults.killbase import KillFault
from testbed.faults.procs import Svc
from testbed.faults.registry import register
from testbed.topology.model import Topology


def service_targets(topology: Topology) -> list[str]:
    """node/service for every service the topology has, mailroot processes on every MSS node."""
    out = [f"{n.name}/{s.name}" for n in topology.nodes.values() for s in n.services]
    out += [f"{n}/mss.{r}" for n in topology.spec.mss.nodes for r in topology.mailroots]
    return out


def split_target(target: str) -> Svc:
    node, _, service = target.partition("/")
    if not service:
        raise FaultError(f"target {target!r} must be node/service")
    return node, service


@register
class ProcessKill(KillFault):
    name = "process_kill"
    description = "SIGKILL one service (node/service); its port refuses connections until revert"

    def targets(self, topology: Topology) -> list[str]:
        return service_targets(topology)

    def candidates(self, ctx: FaultContext) -> list[Svc]:
        return [split_target(ctx.target)]
